"""The first VRRP child forked at exec (core/prefork.py, issue 16.1): started once the
parent's checks passed, it is the supervisor's child like any other - its pidfile, names,
umask, reload, respawn and stop - and a start that does not want it leaves none behind."""
from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemonlab import Daemon, alive, daemons, read_pidfile, wait_for
from netlab import Lab

pytestmark = pytest.mark.netns

CONF = """
global_defs {
  umask 027
  vrrp_process_name kpvrrp
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 42
    priority 255
    advert_int 1
    virtual_ipaddress { 192.0.2.200/24 }
}
"""


@pytest.fixture
def daemon_factory(lab: Lab, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    with daemons(lab, tmp_path, "-D") as make:
        def opted_in(conf: str, *more: str, **kw: object) -> Daemon:
            kw.setdefault("env", {"KEEPALIVED_PY_PREFORK": "1"})      # opt-in
            return make(conf, *more, **kw)
        yield opted_in


def _status(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def test_the_child_forked_at_exec_is_the_supervisors_child(daemon_factory) -> None:
    d = daemon_factory(CONF)
    assert wait_for(d.has_vip, 20), d.log()
    child = d.child()
    # it was the prefork, started by the parent (not forked from its loop); the parent's
    # lines reach the log once its own start is over (obs/slogchain.py)
    assert wait_for(lambda: f"supervisor.child.prefork role=vrrp pid={child}" in d.log(), 10), \
        d.log()
    assert d.log().count("Starting VRRP child process") == 1, d.log()
    assert _children(d.pid) == [child]
    assert Path(f"/proc/{child}/comm").read_text().strip() == "kpvrrp"
    assert Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0] == b"keepalived"
    assert _status(child, "Umask") == "0027"              # set by the parent after the fork
    assert wait_for(lambda: f"child.ready role=vrrp pid={child}" in d.log(), 10), d.log()
    # a reload goes to it, and it answers
    d.signal(signal.SIGHUP)
    assert wait_for(lambda: "supervisor.reload.applied" in d.log(), 10), d.log()
    assert read_pidfile(d.vrrp_pidfile) == child and alive(child) and d.has_vip()
    # killed, it is replaced by an ordinary fork, pidfile rewritten
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: read_pidfile(d.vrrp_pidfile) not in (None, child), 5), d.log()
    new = read_pidfile(d.vrrp_pidfile)
    assert new is not None and alive(new)
    assert wait_for(lambda: _children(d.pid) == [new], 5), _children(d.pid)   # old one reaped
    assert wait_for(d.has_vip, 10), d.log()
    d.stop()
    assert not d.vrrp_pidfile.exists() and not d.parent_pidfile.exists()
    assert not d.has_vip()


def test_a_start_without_a_vrrp_child_leaves_no_prefork(daemon_factory) -> None:
    d = daemon_factory("# no instance\n")
    time.sleep(0.5)
    assert _children(d.pid) == [] and not d.vrrp_pidfile.exists()
    assert "supervisor.child.prefork" not in d.log()


def test_a_refused_start_leaves_no_prefork(daemon_factory, tmp_path: Path) -> None:
    d = daemon_factory(CONF)
    assert wait_for(d.has_vip, 20), d.log()
    r = d.node.run("env", "KEEPALIVED_PY_PREFORK=1",
                   sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(d.conf),
                   "-p", str(d.parent_pidfile), "-r", str(tmp_path / "o-v.pid"),
                   "-c", str(tmp_path / "o-c.pid"), "-b", str(tmp_path / "o-b.pid"), check=False)
    assert r.returncode == 0 and "daemon is already running" in r.stderr, r.stderr
    assert not (tmp_path / "o-v.pid").exists()
    # nothing of the refused daemon is left (its prefork killed and reaped before it exited)
    mine = {d.pid, *_children(d.pid)}
    others = [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
              if p not in mine and str(d.conf).encode() in _cmdline(p)]
    assert others == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_term_as_soon_as_the_pidfile_is_there_stops_the_started_child(daemon_factory) -> None:
    """TERM while the child forked at exec is starting (the parent's signals wait until it
    is adopted): the daemon stops cleanly, the child with it, nothing left."""
    d = daemon_factory(CONF, start_timeout=None)
    assert wait_for(lambda: read_pidfile(d.parent_pidfile) is not None, 30, step=0.001), d.log()
    d.signal(signal.SIGTERM)
    assert d.proc.wait(15) == 0, d.log()
    assert not d.parent_pidfile.exists() and not d.vrrp_pidfile.exists(), d.log()
    assert not d.has_vip(), d.log()
    mine = [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
            if str(d.conf).encode() in _cmdline(p)]
    assert mine == [], d.log()
