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


@pytest.mark.parametrize(("lines", "expected"), [
    ((), ("keepalived", "keepalived", "keepalived")),
    (("process_names",), ("keepalived", "keepalived_vrrp", "keepalived_lvs")),
    (("process_name myka",), ("myka", "myka", "myka")),
    (("process_name myka", "vrrp_process_name myvrrp"), ("myka", "myvrrp", "myka")),
    (("vrrp_process_name v", "process_names"), ("keepalived", "keepalived_vrrp", "keepalived_lvs")),
    (("process_names", "checker_process_name c"), ("keepalived", "keepalived_vrrp", "c")),
    (("lvs_process_name old",), ("keepalived", "keepalived", "old")),
])
def test_process_names_follow_global_defs_as_keepalived(tmp_path: Path, lines: tuple[str, ...],
                                                         expected: tuple[str, str, str]) -> None:
    from keepalived_py.config import load_config
    from keepalived_py.core.process import comm_for
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n" + "".join(f"  {ln}\n" for ln in lines) + "}\n")
    g = load_config(str(conf)).config
    assert g is not None
    assert tuple(comm_for(role, g.global_defs) for role in ("parent", "vrrp", "checker")) == expected


def test_set_cmdline_rewrites_what_ps_and_pidof_read() -> None:
    import subprocess
    import sys
    code = ("import sys; from keepalived_py.core.process import set_cmdline;"
            "ok = set_cmdline(['keepalived', '-n', '-f', '/etc/k.conf']);"
            "sys.stdout.write(repr(ok) + ' ' + open('/proc/self/cmdline', 'rb').read().hex())")
    r = subprocess.run([sys.executable, "-c", code, "some", "long", "arguments", "to", "make", "room"],
                       capture_output=True, text=True, timeout=30, check=True)
    ok, raw = r.stdout.split()
    assert ok == "True"
    assert bytes.fromhex(raw).rstrip(b"\0").split(b"\0") == [b"keepalived", b"-n", b"-f", b"/etc/k.conf"]
