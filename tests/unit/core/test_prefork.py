"""core/prefork.py: the first VRRP child forked at exec, started once the parent's checks
passed, killed and reaped when it is not wanted (issue 16: exec -> first VIP)."""
from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepalived_py.config.model import Config
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.core import prefork
from keepalived_py.options import Options
from keepalived_py.record import evolve

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FG = Options(dont_fork=True, command_line=("-n", "-f", "/etc/k.conf"))


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KEEPALIVED_PY_PREFORK", "1")        # opt-in
    monkeypatch.delenv("KEEPALIVED_PY_EXEC_CHILDREN", raising=False)
    yield
    prefork.discard()


def _echo(parent: int, sock: socket.socket, options: Options) -> int:
    """In place of the VRRP role (the test's child): what the start brought, sent back."""
    msg = prefork._read_start(sock)
    if msg is None:
        return 3
    _, opts, config, mask = msg
    os.umask(mask)
    answer = (opts, config.global_defs.router_id, os.umask(0), os.getppid() == parent)
    sock.sendall(pickle.dumps(answer))
    return 0


def _config(**process: object) -> Config:
    c = Config()
    g = evolve(c.global_defs, router_id="r1", process=ProcessDefs(**process))  # type: ignore[arg-type]
    return evolve(c, global_defs=g)


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_only_where_the_parent_state_at_exec_is_the_childs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert prefork.wanted(FG)
    assert prefork.wanted(evolve(FG, use_vrrp=True))
    assert not prefork.wanted(Options())                        # daemonizes: forks itself
    assert not prefork.wanted(evolve(FG, namespace="blue"))     # -s: setns after the read
    assert not prefork.wanted(evolve(FG, use_checker=True))     # -C: no VRRP child
    assert prefork.wanted(evolve(FG, use_checker=True, use_vrrp=True))
    monkeypatch.setenv("KEEPALIVED_PY_EXEC_CHILDREN", "1")
    assert not prefork.wanted(FG)
    monkeypatch.delenv("KEEPALIVED_PY_EXEC_CHILDREN")
    monkeypatch.setenv("KEEPALIVED_PY_PREFORK", "0")
    assert not prefork.wanted(FG)
    monkeypatch.delenv("KEEPALIVED_PY_PREFORK")
    assert not prefork.wanted(FG)                               # off unless asked


def test_the_start_goes_to_the_prefork_with_the_umask_and_its_pidfile(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(prefork, "_prefork", _echo)
    prefork.fork(FG)
    assert prefork._waiting is not None
    pid = prefork._waiting[0]
    options = evolve(FG, config_file="/tmp/x.conf")
    old = os.umask(0o027)
    try:
        prefork.settle(options, _config(), {"vrrp", "checker"}, str(tmp_path / "vrrp.pid"))
    finally:
        os.umask(old)
    assert (tmp_path / "vrrp.pid").read_text() == f"{pid}\n"
    assert prefork.take("checker") is None
    handed = prefork.take("vrrp")
    assert handed is not None and handed.pid == pid
    assert prefork.take("vrrp") is None                         # once: respawns fork
    # with a checker child to start as well, the parent did not wait for this one
    assert handed.early == b""
    sock = handed.sock
    sock.settimeout(10)
    assert pickle.loads(sock.recv(1 << 16)) == (options, "r1", 0o027, True)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    sock.close()


def _ready_then_more(parent: int, sock: socket.socket, options: Options) -> int:
    if prefork._read_start(sock) is None:
        return 3
    from keepalived_py.core.channel import encode
    sock.sendall(encode(("hb", 0, 0.0)) + encode(("ready",)))
    sock.recv(1)                            # until the test is done reading
    sock.sendall(encode(("hb", 1, 0.0)))
    return 0


def test_the_parent_waits_for_the_childs_ready_and_keeps_its_messages(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from keepalived_py.core.channel import encode
    monkeypatch.setattr(prefork, "_prefork", _ready_then_more)
    monkeypatch.setattr(prefork, "READY_WAIT", 30.0)
    prefork.fork(FG)
    prefork.settle(FG, _config(), {"vrrp"}, str(tmp_path / "vrrp.pid"))
    handed = prefork.take("vrrp")
    assert handed is not None
    assert handed.early == encode(("hb", 0, 0.0)) + encode(("ready",))   # not later ones
    handed.sock.sendall(b"x")
    handed.sock.settimeout(10)
    assert handed.sock.recv(100) == encode(("hb", 1, 0.0))
    os.waitpid(handed.pid, 0)
    handed.sock.close()


def test_the_wait_for_ready_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = socket.socketpair()
    t0 = time.monotonic()
    assert prefork._until_ready(b, 0.2) == b""
    assert 0.15 < time.monotonic() - t0 < 5
    a.close()
    b.close()


@pytest.mark.parametrize("config, roles", [
    (_config(), {"checker"}),                                   # no VRRP child wanted
    (_config(startup_script=None, random_seed=7), {"vrrp"}),    # a seeded generator
])
def test_a_prefork_not_wanted_is_killed_and_reaped(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, config: Config,
                                                   roles: set[str]) -> None:
    monkeypatch.setattr(prefork, "_prefork", _echo)
    prefork.fork(FG)
    assert prefork._waiting is not None
    pid = prefork._waiting[0]
    prefork.settle(FG, config, roles, str(tmp_path / "vrrp.pid"))
    assert _reaped(pid)
    assert prefork.take("vrrp") is None
    assert not (tmp_path / "vrrp.pid").exists()


def test_an_early_exit_kills_and_reaps_the_prefork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefork, "_prefork", _echo)
    prefork.fork(FG)
    assert prefork._waiting is not None
    pid = prefork._waiting[0]
    prefork.discard()
    assert _reaped(pid) and prefork._waiting is None


def test_a_dead_prefork_leaves_the_ordinary_fork(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr(prefork, "_prefork", lambda parent, sock, options: 0)
    prefork.fork(FG)
    assert prefork._waiting is not None
    pid = prefork._waiting[0]
    os.waitpid(pid, 0)                      # gone before its start: the send fails
    prefork.settle(FG, _config(), {"vrrp"}, str(tmp_path / "vrrp.pid"))
    assert prefork.take("vrrp") is None
    assert not (tmp_path / "vrrp.pid").exists()


def test_the_start_message_is_read_or_refused() -> None:
    a, b = socket.socketpair()
    body = pickle.dumps(("start", FG, None, 0o22))
    a.sendall(prefork._LEN.pack(len(body)) + body)
    assert prefork._read_start(b) == ("start", FG, None, 0o22)
    body = pickle.dumps(("reload", None))
    a.sendall(prefork._LEN.pack(len(body)) + body)
    assert prefork._read_start(b) is None                       # not a start
    a.sendall(b"\0\0")
    a.close()
    assert prefork._read_start(b) is None                       # end of stream mid-frame
    b.close()


def test_the_parent_imports_no_asyncio_before_the_start() -> None:
    """The CLI and the supervisor's module (what the parent runs until prefork.settle) leave
    asyncio, ssl, dataclasses (inspect) and the VRRP code to the child forked at exec."""
    code = ("import sys, keepalived_py.cli, keepalived_py.core.supervisor, "
            "keepalived_py.core.prefork, keepalived_py.config.build, keepalived_py.obs.logging\n"
            "print(sorted(m for m in ('asyncio', 'ssl', 'dataclasses', 'inspect', "
            "'keepalived_py.vrrp.daemon') "
            "if m in sys.modules))\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "[]"


def test_idle_work_stops_when_the_start_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """While waiting, the prefork compiles the records' __init__ one class at a time; a start
    already there ends it at once, and a compiled __init__ is the one compiled on first use."""
    import keepalived_py.vrrp.machine  # noqa: F401  (records to compile)
    from keepalived_py import record
    done: list[type] = []
    monkeypatch.setattr(record, "prepare", lambda cls: done.append(cls) or True)
    a, b = socket.socketpair()
    a.sendall(b"x")
    prefork._idle(b)
    assert done == []
    b.recv(1)
    prefork._idle(b)
    assert done and all(issubclass(c, record.Record) for c in done)
    assert all(c.__module__.startswith(prefork.IDLE_RECORDS) for c in done)
    a.close()
    b.close()


def test_a_prepared_record_builds_as_before() -> None:
    from keepalived_py.record import Record, field, prepare

    class Probe(Record, kw_only=False, frozen=False):
        a: int
        b: list[int] = field(default_factory=list)
        c: str = "x"

    assert prepare(Probe) and not prepare(Probe)
    p = Probe(1)
    assert (p.a, p.b, p.c) == (1, [], "x") and Probe(1, [2], c="y").b == [2]
    assert p == Probe(1) and p.b is not Probe(1).b
