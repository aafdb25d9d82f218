from __future__ import annotations

import os
from pathlib import Path

import pytest

from keepalived_py.core.pidfile import read_pidfile, remove_pidfile, write_pidfile
from keepalived_py.core.restart import Backoff
from keepalived_py.errors import PidfileError


def test_backoff_crash_loop_doubles_to_a_cap_and_resets() -> None:
    b = Backoff()
    delays = [b.next_delay(0.1) for _ in range(10)]
    assert delays[:5] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert max(delays) == 60.0
    assert b.next_delay(61.0) == 0.0        # stayed up 60 s: start again


def test_backoff_ready_child_restarts_at_once() -> None:
    b = Backoff()
    assert all(b.next_delay(0.5, was_ready=True) == 0.0 for _ in range(20))


def test_pidfile_is_one_line_and_replaced_atomically(tmp_path: Path) -> None:
    p = tmp_path / "x.pid"
    write_pidfile(str(p), 123)
    write_pidfile(str(p), 4567890)
    assert p.read_text() == "4567890\n"
    assert read_pidfile(str(p)) == 4567890
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert not remove_pidfile(str(p), 1) and p.exists()
    assert remove_pidfile(str(p), 4567890) and not p.exists()


def test_pidfile_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PidfileError, match="does not exist"):
        write_pidfile(str(tmp_path / "missing" / "x.pid"), 1)
    (tmp_path / "file").write_text("")
    with pytest.raises(PidfileError):
        write_pidfile(str(tmp_path / "file" / "x.pid"), 1)
