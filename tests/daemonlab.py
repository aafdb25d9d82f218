"""The whole keepalived-py daemon (parent and children) in a test namespace, and what the
integration tests read of its processes: pidfiles, /proc/PID/stat and status.

    @pytest.fixture
    def daemon_factory(lab, tmp_path):
        with daemons(lab, tmp_path) as make:
            yield make

    d = daemon_factory(conf)               # node "d" on a LAN of its own, files in tmp_path
    child = d.child()                      # the VRRP child's pid, from its pidfile
    d.stop()                               # SIGTERM; the seconds the daemon took to exit
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from netlab import Lab, run_prefix, wait_for


def read_pidfile(path: Path, exact: bool = False) -> int | None:
    """The pid in a pidfile; None while there is none. exact: the file must be keepalived's
    one line (the pid and a newline), asserted."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    if exact:
        assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    try:
        return int(text)
    except ValueError:
        return None


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on: index i is field i + 3 of proc(5)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].decode().split()


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def make_script(path: Path, body: str) -> Path:
    """An executable shell script (a notify, track or startup script)."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@contextmanager
def world_dir(tag: str) -> Iterator[tuple[Path, Path]]:
    """(dir, out): a directory in /tmp that user nobody can reach (pytest's tmp_path is not),
    for scripts run as script_user nobody, and its subdirectory out/ where nobody may write
    what the scripts find; removed at the end."""
    world = Path(tempfile.mkdtemp(prefix=f"{run_prefix()}-{tag}-", dir="/tmp"))
    try:
        world.chmod(0o755)
        out = world / "out"
        out.mkdir()
        out.chmod(0o777)
        yield world, out
    finally:
        shutil.rmtree(world, ignore_errors=True)


VIP = "192.0.2.200"          # the VIP of the tests' instance on eth0


class Daemon:
    """keepalived-py on node "d" of a LAN of its own (192.0.2.1/24 on eth0), with its
    configuration, pidfiles and log (stderr) in `tmp`. start_timeout: wait (seconds) for the
    parent's pidfile; None: do not wait."""

    def __init__(self, lab: Lab, tmp: Path, conf: str, *extra: str,
                 env: dict[str, str] | None = None, cgroup: Path | None = None,
                 start_timeout: float | None = 30.0) -> None:
        self.tmp = tmp
        self.conf = tmp / "keepalived.conf"
        self.conf.write_text(conf)
        self.parent_pidfile, self.vrrp_pidfile = tmp / "keepalived.pid", tmp / "vrrp.pid"
        self.check_pidfile = tmp / "checkers.pid"
        self.node = lab.node("d", lab.lan(), "192.0.2.1/24")
        self.started = time.monotonic()
        self.proc = self.node.popen(
            [sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(self.conf),
             "-p", str(self.parent_pidfile), "-r", str(self.vrrp_pidfile),
             "-c", str(self.check_pidfile), "-b", str(tmp / "bfd.pid"), *extra],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "wb"),
            env={**os.environ, **(env or {})},
            # into the cgroup before exec: the daemon and all its children start inside it
            preexec_fn=(lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid())))
            if cgroup is not None else None)
        if start_timeout is not None:
            assert wait_for(lambda: read_pidfile(self.parent_pidfile) is not None,
                            start_timeout), self.log()

    @property
    def pid(self) -> int:
        """The parent's pid, from its pidfile."""
        p = read_pidfile(self.parent_pidfile)
        assert p is not None
        return p

    def child(self, timeout: float = 8.0) -> int:
        """The VRRP child's pid, once its pidfile is there."""
        assert wait_for(lambda: read_pidfile(self.vrrp_pidfile) is not None, timeout), self.log()
        pid = read_pidfile(self.vrrp_pidfile)
        assert pid is not None
        return pid

    def has_vip(self) -> bool:
        return VIP in self.node.run("ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout

    def log(self) -> str:
        return (self.tmp / "log").read_text(errors="replace")[-20000:]

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM to the parent; the seconds until it has exited."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - t0


@contextmanager
def daemons(lab: Lab, tmp: Path, *extra: str,
            start_timeout: float | None = 30.0) -> Iterator[Callable[..., Daemon]]:
    """make(conf, *more, env=, cgroup=, start_timeout=) starts a Daemon (its options `extra`
    then `more`); at the end every one still running is stopped (SIGTERM, then SIGKILL)."""
    made: list[Daemon] = []

    def make(conf: str, *more: str, **kw: object) -> Daemon:
        kw.setdefault("start_timeout", start_timeout)
        d = Daemon(lab, tmp, conf, *extra, *more, **kw)  # type: ignore[arg-type]
        made.append(d)
        return d
    try:
        yield make
    finally:
        for d in made:
            if d.proc.poll() is None:
                d.proc.terminate()
                try:
                    d.proc.wait(10)
                except subprocess.TimeoutExpired:
                    d.proc.kill()
                    d.proc.wait(5)
