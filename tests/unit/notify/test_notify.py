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


def test_fifo_script_reads_the_fifo_and_is_ended_at_close(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = tmp_path / "reader.sh"
    script.write_text(f'#!/bin/sh\nwhile read l; do echo "$l" >> {out}; done < "$1"\n')
    script.chmod(0o755)
    path = tmp_path / "fifo"

    async def scenario() -> NotifyFifo:
        f = NotifyFifo(str(path), Script(argv=(str(script),), text=str(script)), "vrrp")
        assert f.open() and f.created
        assert f.write(vrrp_fifo_line("INSTANCE", "VI_1", "MASTER", 100))
        for _ in range(100):
            if out.exists() and out.read_text():
                break
            await asyncio.sleep(0.05)
        assert f.script_running
        await f.aclose()
        return f
    f = asyncio.run(scenario())
    assert out.read_text() == 'INSTANCE "VI_1" MASTER 100\n'
    assert not f.script_running and not path.exists()


def test_fifo_script_that_exits_is_not_restarted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "quit.sh"
    script.write_text(f"#!/bin/sh\necho x >> {runs}\nexit 3\n")
    script.chmod(0o755)
    path = tmp_path / "fifo"

    async def scenario() -> None:
        f = NotifyFifo(str(path), Script(argv=(str(script),), text=str(script)), "lvs")
        assert f.open()
        await asyncio.sleep(1.0)
        assert not f.script_running
        assert f.write(b"still written\n")            # the FIFO stays open for other readers
        await f.aclose()
    asyncio.run(scenario())
    assert runs.read_text() == "x\n"


def test_fifo_existing_is_kept_at_close(tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    f = NotifyFifo(str(path))
    assert f.open() and not f.created
    f.close()
    assert path.exists()


def test_lvs_fifo_lines_as_keepalived() -> None:
    import ipaddress

    from keepalived_py.config.model_lvs import RealServer, VirtualServer
    from keepalived_py.notify.fifo import lvs_rs_fifo_line, lvs_vs_fifo_line
    vs = VirtualServer(address=ipaddress.ip_address("192.0.2.100"), port=80, protocol="TCP")
    rs = RealServer(address=ipaddress.ip_address("198.51.100.11"), port=8080)
    assert lvs_rs_fifo_line(rs, vs, False) == b"RS [198.51.100.11]:tcp:8080 [192.0.2.100]:tcp:80 DOWN\n"
    assert lvs_vs_fifo_line(vs, True) == b"VS [192.0.2.100]:tcp:80 UP\n"
