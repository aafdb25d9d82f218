from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from keepalived_py.config.model import Script
from keepalived_py.notify.fifo import NotifyFifo, vrrp_fifo_line
from keepalived_py.notify.scripts import Notifier, check_script_security, vrrp_notify_args


def test_vrrp_fifo_line_format() -> None:
    assert vrrp_fifo_line("INSTANCE", "VI_1", "MASTER", 100) == b'INSTANCE "VI_1" MASTER 100\n'
    assert vrrp_fifo_line("GROUP", "G", "BACKUP", 0) == b'GROUP "G" BACKUP 0\n'


def test_notify_args_as_keepalived() -> None:
    assert vrrp_notify_args("INSTANCE", "VI_1", "FAULT", 90) == ("INSTANCE", "VI_1", "FAULT", "90")


def test_fifo_lines_reach_a_reader_and_a_full_fifo_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    f = NotifyFifo(str(path))
    assert f.open()
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert f.write(vrrp_fifo_line("INSTANCE", "VI_1", "MASTER", 100))
        assert os.read(reader, 100) == b'INSTANCE "VI_1" MASTER 100\n'
        for _ in range(100000):                 # nobody reads: the pipe fills, lines drop
            f.write(b"x" * 100 + b"\n")
        assert f.dropped > 0
    finally:
        os.close(reader)
        f.close()


def test_fifo_refuses_a_regular_file(tmp_path: Path) -> None:
    p = tmp_path / "file"
    p.write_text("keep")
    assert not NotifyFifo(str(p)).open()
    assert p.read_text() == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership checks need root-owned files")
def test_script_security_names_the_unsafe_component(tmp_path: Path) -> None:
    d = tmp_path / "bin"
    d.mkdir()
    script = d / "notify.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    d.chmod(0o777)
    v = check_script_security(str(script))
    assert not v.ok and v.path == str(d) and "everyone" in v.reason
    d.chmod(0o755)
    script.chmod(0o757)
    v = check_script_security(str(script))
    assert not v.ok and v.path == str(script)
    script.chmod(0o755)
    os.chown(script, 1000, 0)
    v = check_script_security(str(script))
    assert not v.ok and "uid 1000" in v.reason
    os.chown(script, 0, 0)
    assert check_script_security(str(script)).ok or stat.S_IMODE(os.stat(tmp_path.parent).st_mode) & 0o002


def test_notifier_passes_arguments(tmp_path: Path) -> None:
    out = tmp_path / "args"
    script = Script(argv=("/bin/sh", "-c", f'echo "$@" > {out}', "sh"), text="n")

    async def scenario() -> None:
        n = Notifier()
        assert n.launch(script, vrrp_notify_args("INSTANCE", "VI_1", "MASTER", 100))
        await n.drain()
    asyncio.run(scenario())
    assert out.read_text().split() == ["INSTANCE", "VI_1", "MASTER", "100"]


def test_notifier_refuses_unsafe_script_under_script_security(tmp_path: Path) -> None:
    s = tmp_path / "s.sh"
    s.write_text("#!/bin/sh\n")
    s.chmod(0o777)

    async def scenario() -> Notifier:
        n = Notifier(script_security=True)
        assert not n.launch(Script(argv=(str(s),), text=str(s)))
        return n
    assert asyncio.run(scenario()).refused == 1
