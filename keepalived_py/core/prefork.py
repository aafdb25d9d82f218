"""The first VRRP child forked at exec, importing its code while the parent reads the
configuration (issue 16: exec -> first VIP).

Theory of operation. A child forked from the supervisor once the configuration is built pays,
after the parent's imports (asyncio, ssl, logging, the configuration's reader) and the parse,
its own role's imports before its first advert: one after the other on the way to the first
VIP. Forked at exec instead, before the parent imports asyncio or reads the file, the child
(the "prefork") imports asyncio, the child's runner and the role's code on one CPU while the
parent reads and builds the configuration on the other, then waits. Once the parent has
passed every check a start needs (the configuration valid, no daemon already running, its own
pidfile written), it hands the prefork its start - ("start", options, config, umask) over
their socketpair - and writes the child's pidfile. When it is the only child to start, the
parent then leaves the CPUs to it until its ("ready",) (at most READY_WAIT; signals stay
pending meanwhile), keeping what it sent; only then does the parent import asyncio and start
its loop, where the supervisor adopts the running child (core/supervisor.py `spawn`) as if it
had just forked it, reading what it kept first. While it waits for its start, the prefork
compiles the __init__ of the records its start makes, one class at a time. From the start
message on, the child is a forked child like any other (core/childrun.py `run_forked`).


Only the first start of the VRRP child, and only where the parent's state at the fork is the
child's: in the foreground (-n: daemonizing forks the parent itself), without -s (the
namespace is entered after the configuration is read), without startup_script (the children
start after it) or random_seed (a forked child inherits the seeded generator), without
KEEPALIVED_PY_EXEC_CHILDREN. The umask the parent set after the fork travels with the start.
Everywhere else, and when the configuration needs no VRRP child, the prefork is killed and
reaped before the parent goes on (`settle`), and the child is forked as before; so is every
respawn.

Measured (2026-12-03, 2 CPUs shared with other jobs, load 2.5-4): no gain at that load - the
two branches compete with the other jobs for the CPUs, and the imports both make after the
fork (logging, typing...) add CPU - while the tree's PSS grows by 4.4 MiB (200 instances:
33.4 vs 29.0 MiB; the modules both import after the fork are no longer shared copy-on-write).
On an idle machine the child reached its start ~25 ms earlier. So it is opt-in:
KEEPALIVED_PY_PREFORK=1.

What the parent holds is only a pid and a socket: this module imports neither asyncio nor
the configuration.
"""
from __future__ import annotations

import functools
import os
import pickle
import signal
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from keepalived_py.config.model import Config
    from keepalived_py.options import Options

ROLE = "vrrp"
_LEN = struct.Struct("!I")          # core/channel.py's framing
MAX_START = 256 << 20
# how long the parent leaves the CPUs to the started child (until its "ready") before its own
# loop's imports and start-up, when it is the only child to start
READY_WAIT = 0.5


class Handed:
    """A started prefork: its pid, the parent's end of the channel, and what the child sent
    while the parent waited (its "ready"). (A plain class: no NamedTuple made at exec.)"""

    __slots__ = ("early", "pid", "sock")

    def __init__(self, pid: int, sock: socket.socket, early: bytes) -> None:
        self.pid, self.sock, self.early = pid, sock, early


_waiting: tuple[int, socket.socket] | None = None       # forked, not started yet
_handed: Handed | None = None                           # started, not adopted yet


def wanted(options: Options) -> bool:
    """Whether a prefork may serve this start (see the module's docstring)."""
    if os.environ.get("KEEPALIVED_PY_PREFORK", "") != "1":
        return False                    # opt-in: see "Measured" in the module's docstring
    if os.environ.get("KEEPALIVED_PY_EXEC_CHILDREN", "") not in ("", "0"):
        return False
    if not options.dont_fork or options.namespace:
        return False
    return options.use_vrrp or not options.use_checker


def fork(options: Options) -> None:
    """Fork the prefork when it may serve this start. Never raises: without it the child is
    forked later, as always."""
    global _waiting
    if _waiting is not None or not wanted(options):
        return
    try:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return
    me = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        parent_end.close()
        child_end.close()
        return
    if pid == 0:
        code = 127
        try:
            parent_end.close()
            code = _prefork(me, child_end, options)
        except Exception:
            import traceback
            traceback.print_exc()
            code = 70                   # EX_SOFTWARE, as core/childrun.py
        finally:
            chain = sys.modules.get("keepalived_py.obs.slogchain")
            if chain is not None:       # the lines still waiting (core/supervisor.py spawn)
                try:
                    chain.flush()
                except Exception:
                    pass
            os._exit(code)
    child_end.close()
    _waiting = (pid, parent_end)


def _prefork(parent: int, sock: socket.socket, options: Options) -> int:
    """The child: import, wait for the start, then run as a forked child."""
    # what a forked child has: default dispositions (the parent's loop has none yet), the
    # parent's names (core/supervisor.py run)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from keepalived_py.core.process import die_with_parent, set_cmdline, set_name
    die_with_parent(parent)
    set_cmdline(["keepalived", *options.command_line])
    set_name("keepalived")
    from keepalived_py.core import childrun
    childrun.preload(ROLE)
    _idle(sock)
    msg = _read_start(sock)
    if msg is None:
        return 0                        # not wanted (or the parent is gone): nothing done
    _, options, config, mask = msg
    os.umask(mask)
    return childrun.run_forked(ROLE, parent, sock.detach(), None, start=(options, config))


# the records the child's start makes (events, actions, runners; the configuration arrives
# pickled, without __init__): their __init__ compiled while the parent is still reading
IDLE_RECORDS = ("keepalived_py.vrrp.", "keepalived_py.track.", "keepalived_py.notify.",
                "keepalived_py.core.")


def _idle(sock: socket.socket) -> None:
    """Work ahead of the start, one short step at a time, until the start is there: the
    records' __init__, then what the start imports after its first packets."""
    from keepalived_py.core import childrun
    from keepalived_py.record import prepare, record_classes
    steps: list[Callable[[], object]] = [functools.partial(prepare, cls)
                                         for cls in record_classes(IDLE_RECORDS)]
    steps += [functools.partial(childrun._try_import, name) for name in childrun.later(ROLE)]
    for step in steps:
        try:
            sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            return                      # the start (or the parent's end) is there: go
        except BlockingIOError:
            pass
        except OSError:
            return
        step()


def _read_start(sock: socket.socket) -> tuple[Any, ...] | None:
    def exactly(n: int) -> bytes | None:
        parts = []
        while n:
            try:
                chunk = sock.recv(n)
            except InterruptedError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)
    head = exactly(_LEN.size)
    if head is None:
        return None
    (n,) = _LEN.unpack(head)
    body = exactly(n) if n <= MAX_START else None
    if body is None:
        return None
    msg = pickle.loads(body)            # from our own parent, over our own socketpair
    if not isinstance(msg, tuple) or len(msg) != 4 or msg[0] != "start":
        return None
    return msg


def settle(options: Options, config: Config, roles: set[str], pidfile: str) -> None:
    """The parent, once every check of a start has passed: hand the prefork its start (and
    write its pidfile) when the configuration runs a VRRP child and the parent's state is the
    child's; otherwise kill and reap it. Never raises."""
    global _waiting, _handed
    if _waiting is None:
        return
    proc = config.global_defs.process
    if ROLE not in roles or proc.startup_script is not None or proc.random_seed is not None:
        discard()
        return
    pid, sock = _waiting
    _waiting = None
    mask = os.umask(0)
    os.umask(mask)
    body = pickle.dumps(("start", options, config, mask), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        sock.sendall(_LEN.pack(len(body)) + body)
    except OSError:                     # it died: forked the ordinary way instead
        _kill(pid, sock)
        return
    from keepalived_py.core.pidfile import write_pidfile
    from keepalived_py.errors import PidfileError
    try:
        write_pidfile(pidfile, pid)     # as soon as the child runs (spawn writes it again)
    except PidfileError:
        pass                            # spawn's write says so in the log
    from keepalived_py.obs import slog
    log = slog.get_logger("keepalived_py.supervisor")
    log.info("supervisor.child.started", role=ROLE, pid=pid,
             compat=f"Starting VRRP child process, pid={pid}")
    t0 = time.monotonic()
    # (another child to start - checker, BFD - is not kept waiting for it)
    _handed = Handed(pid, sock, _until_ready(sock, READY_WAIT) if roles == {ROLE} else b"")
    log.debug("supervisor.child.prefork", role=ROLE, pid=pid,
              waited_ms=round((time.monotonic() - t0) * 1000, 1))


_READY = pickle.dumps(("ready",), protocol=pickle.HIGHEST_PROTOCOL)


def _until_ready(sock: socket.socket, wait: float) -> bytes:
    """What the child sends until its ("ready",) message, its end, or `wait` seconds: the
    child's start has the CPUs (a loaded host's too) to itself rather than beside our loop's
    imports. Signals wait meanwhile (blocked since the pidfile, core/supervisor.py run)."""
    got = bytearray()
    frame = _LEN.pack(len(_READY)) + _READY
    deadline = time.monotonic() + wait
    try:
        while frame not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break                   # its end: the supervisor's reading sees it again
            got += chunk
    except OSError:                     # (the timeout included)
        pass
    finally:
        sock.settimeout(None)
    return bytes(got)


def started() -> bool:
    """Whether a started prefork waits for the supervisor to adopt it (`take`)."""
    return _handed is not None


def take(role: str) -> Handed | None:
    """The started prefork for the first spawn of `role`, once."""
    global _handed
    if role != ROLE or _handed is None:
        return None
    handed, _handed = _handed, None
    return handed


def discard() -> None:
    """Kill and reap a prefork not wanted. One already started but never adopted (the parent
    failed on its way to its loop) is stopped as the parent's death would stop it: SIGTERM,
    its addresses released. Never raises."""
    global _waiting, _handed
    if _waiting is not None:
        _kill(*_waiting)
    if _handed is not None:
        _handed.sock.close()
        try:
            os.kill(_handed.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _waiting = _handed = None


def _kill(pid: int, sock: socket.socket) -> None:
    sock.close()
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
