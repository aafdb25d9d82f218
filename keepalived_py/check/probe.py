"""The checker's scheduler and TCP prober: tens of thousands of checks on one event loop.

Theory of operation. Every checker is a job in ONE heap ordered by its due time (its
CheckState's next_at); one loop timer is armed at the earliest due time, and when it fires
every job that is due is started — there is no task per checker sleeping on its own timer
(10,000 sleeping tasks cost a wake-up, a timer handle and a coroutine switch each). How late a
job starts after its due time is its drift; the last DRIFT_SAMPLES of them give the
percentiles the status reports.

A TCP_CHECK never becomes an asyncio task either: `TcpProber.connect` makes a non-blocking
socket, applies the checker's socket options (`bind_socket`: fwmark, bind_if, bindto,
bind_port — the one place for them), starts the connect and registers the socket in the
prober's own epoll set; the event loop watches that single epoll descriptor. Writability means
the connect finished (SO_ERROR says how); the deadlines (connect_timeout) wait in one
first-in-first-out queue per timeout (`_Deadlines`: in order by construction, no heap).
A connected probe is closed as the server's application sees keepalived's close: a FIN first
(`shutdown(SHUT_WR)`: the server reads an end of file, as from keepalived's plain close), then
at once a reset (SO_LINGER 0). The reset, straight behind the FIN, reaches the server's kernel
before its delayed ACK of the FIN, so the server mostly sends nothing back (what it does send,
an ACK or its own FIN when it closed first, is not tracked: check/nft.py) and this host keeps
no TIME_WAIT socket: a graceful close alone would leave one per check (at 10,000 checks/s,
600,000, beyond the kernel's time-wait table) and the server's ACK and FIN would be picked up
by conntrack as new flows (measured: 4,566 entries at 2,000 checks/s). A reset alone keeps
both flat but is an error for the server (ECONNRESET on its first read: Python's http.server
logs a traceback per check; after a FIN it reads a clean end of file). Results are reported
as an errno (0: connected,
ETIMEDOUT: no answer within the timeout), never raised; `reason()` words them.

A probe's socket is used again (most of a check's CPU is the kernel's: a socket made, its
options set, registered in the epoll set, torn down). Once its result is in, the socket is
disconnected — connect() to an AF_UNSPEC address, which the kernel does as an abort: the
reset above, the port released, the socket back to CLOSED with its options and its epoll
registration kept — and parked in an idle pool (per address family and mark) for the next
probe, which connects it from a fresh ephemeral port: what a server sees is the same SYN, FIN
and reset. The abort leaves ECONNRESET pending on the socket (SO_ERROR, read once to clear
it). Sockets stay registered edge-triggered (EPOLLET), so an idle one is reported at most once
after its abort, and a probe's completion is a new edge. A checker with its own socket options
(bind_socket) gets a socket of its own, closed after its check, as does any probe whose
connect failed at once.

A job is in the heap at most once: popped when started, pushed again by its owner when its
result is in (at CheckState's next_at). A job whose `alive` is False is dropped when popped.
"""
from __future__ import annotations

import _socket
import asyncio
import ctypes
import errno
import heapq
import itertools
import os
import select
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from keepalived_py.config.model_lvs import Checker
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.check.probe")
DRIFT_SAMPLES = 8192
_RESET = struct.pack("ii", 1, 0)           # SO_LINGER on, 0 s: close sends a RST
SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
# The mark of the checker's own probe connections when the checker sets no fwmark: the
# nftables dataplane exempts packets with it from connection tracking (check/nft.py), so
# probes never fill the conntrack table. ("kp" in ASCII, in the high bits; a fwmark-based
# virtual server or policy rule is very unlikely to use it.)
PROBE_MARK = 0x6B700000
IDLE_MAX = 65536                # idle probe sockets kept per (family, mark) (TcpProber.trim)
_UNSPEC = bytes(16)             # a struct sockaddr with sa_family AF_UNSPEC: connect() aborts
_EDGE = select.EPOLLOUT | select.EPOLLET
_SOL_SOCKET, _SO_ERROR, _SO_LINGER = socket.SOL_SOCKET, socket.SO_ERROR, socket.SO_LINGER
_SHUT_WR, _EINPROGRESS = socket.SHUT_WR, errno.EINPROGRESS
_FAILED = select.EPOLLERR | select.EPOLLHUP


def _libc_connect() -> Callable[[int, bytes, int], int] | None:
    try:
        fn = ctypes.CDLL(None).connect
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int)   # (a faster call)
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_disconnect = _libc_connect()


def bind_socket(sock: _socket.socket, ch: Checker, family: int) -> None:
    """A checker's socket options, as keepalived's socket_bind_connect: `fwmark` (SO_MARK),
    `bind_if` (SO_BINDTODEVICE), `bindto` and `bind_port` (the source address and port; a
    bind_port alone binds the wildcard address). Raises OSError (a device or address that is
    not there, a port in use, EPERM)."""
    if ch.fwmark:
        sock.setsockopt(socket.SOL_SOCKET, SO_MARK, ch.fwmark)
    bind_source(sock, family, str(ch.bindto) if ch.bindto is not None else None, ch.bind_port,
                ch.bind_if)


def bind_source(sock: _socket.socket, family: int, bindto: str | None, bind_port: int | None,
                bind_if: str | None) -> None:
    """The source options of every checker's socket, in one place (the TCP prober's through
    bind_socket, the other checkers' through checkers.source_socket). Raises OSError."""
    if bind_if:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, bind_if.encode() + b"\0")
    if bindto or bind_port:
        if bind_port:              # several checks from one port to different servers
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        host = bindto or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        sock.bind((host, bind_port or 0))


def needs_binding(ch: Checker) -> bool:
    return bool(ch.fwmark or ch.bind_if or ch.bindto is not None or ch.bind_port)


def reason(err: int) -> str:
    """A prober result in words (the checker's last_result)."""
    if err == 0:
        return "connected"
    if err == errno.ETIMEDOUT:
        return "connect timeout"
    return f"connect failed: {os.strerror(err)}"


UNROUTABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})


def ensure_fd_limit(checkers: int) -> int:
    """Raise the soft RLIMIT_NOFILE so every checker can have a connection in flight at once
    (10,000 servers dying together are 10,000 connects waiting for their timeout; under
    systemd the soft limit is 1,024), as keepalived's set_max_file_limit. Never lowers it;
    bounded by the hard limit. Returns the soft limit in force."""
    import resource
    want = checkers + 1024                     # sockets, pipes, the log, scripts, SMTP
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want or soft == resource.RLIM_INFINITY:
        return soft
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    from keepalived_py.core.scriptenv import remember_nofile
    remember_nofile((soft, hard))               # scripts get it back (core/scriptenv.py)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ValueError, OSError):
        return soft
    return new


class _Alarm:
    """One loop timer armed at the earliest of a subclass's entries (`_earliest`); `due(now)`
    runs when it fires and the timer is re-armed whatever happened."""

    def __init__(self, loop: asyncio.AbstractEventLoop, due: Callable[[float], None]) -> None:
        self.loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._due = due

    def _earliest(self) -> float | None:
        raise NotImplementedError

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = at
        self._handle = self.loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed = float("inf")
        try:
            self._due(self.loop.time())
        finally:                          # whatever happened, the rest stays scheduled
            at = self._earliest()
            if at is not None and at != self._armed:
                self._arm(at)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class _Timer(_Alarm):
    """A heap of (when, seq, item) with one loop timer armed at its earliest entry."""

    def __init__(self, loop: asyncio.AbstractEventLoop, due: Callable[[float], None]) -> None:
        super().__init__(loop, due)
        self.heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()

    def push(self, at: float, item: Any) -> None:
        heapq.heappush(self.heap, (at, next(self._seq), item))
        if at < self._armed:
            self._arm(at)

    def _earliest(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    def close(self) -> None:
        self._disarm()
        self.heap.clear()


class Scheduler:
    """One heap for every checker; `fire(job, due, now)` starts a due job (it must not
    raise; the job's owner pushes it again with `schedule` once its result is in)."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 fire: Callable[[Any, float, float], None]) -> None:
        self.loop = loop
        self.fire = fire
        self._timer = _Timer(loop, self._run)
        self.started = 0
        self._drift = [0.0] * DRIFT_SAMPLES
        self._pos = 0

    def schedule(self, job: Any, at: float) -> None:
        t = self._timer                   # (_Timer.push, inline: once per check)
        heapq.heappush(t.heap, (at, next(t._seq), job))
        if at < t._armed:
            t._arm(at)

    def __len__(self) -> int:
        return len(self._timer.heap)

    def _run(self, now: float) -> None:
        heap = self._timer.heap
        drift, n = self._drift, self._pos
        while heap and heap[0][0] <= now:
            due, _, job = heapq.heappop(heap)
            if not job.alive:
                continue
            drift[n % DRIFT_SAMPLES] = now - due
            n += 1
            try:
                self.fire(job, due, now)
            except Exception as e:        # a bug in one check: it is tried again in 1 s
                log.error("check.scheduler.error", error=repr(e))
                self.schedule(job, now + 1.0)
        self.started += n - self._pos
        self._pos = n

    def drift(self) -> dict[str, float]:
        """Percentiles (ms) of how late the last DRIFT_SAMPLES checks started."""
        got = sorted(self._drift[:min(self._pos, DRIFT_SAMPLES)])
        if not got:
            return {"samples": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        def pct(p: float) -> float:
            return round(got[min(len(got) - 1, int(p * len(got)))] * 1000, 3)
        return {"samples": len(got), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "max_ms": round(got[-1] * 1000, 3)}

    def close(self) -> None:
        self._timer.close()


class _Deadlines(_Alarm):
    """Connect deadlines, one first-in-first-out queue per timeout: every probe with the same
    connect_timeout gets a later deadline than the one before, so each queue stays in order
    with no heap (a push and a pop per check, no comparisons); one loop timer is armed at the
    earliest head. Few distinct timeouts, so few queues."""

    def __init__(self, loop: asyncio.AbstractEventLoop, due: Callable[[float], None]) -> None:
        super().__init__(loop, due)
        self.queues: dict[float, deque[tuple[float, int, Any]]] = {}

    def push(self, timeout: float, fd: int, entry: Any) -> None:
        at = self.loop.time() + timeout
        q = self.queues.get(timeout)
        if q is None:
            q = self.queues[timeout] = deque()
        q.append((at, fd, entry))
        if at < self._armed:
            self._arm(at)

    def _earliest(self) -> float | None:
        heads = [q[0][0] for q in self.queues.values() if q]
        return min(heads) if heads else None

    def close(self) -> None:
        self._disarm()
        self.queues.clear()


class TcpProber:
    """Non-blocking TCP connects on one epoll set; `done(job, err)` gets each result (0 or an
    errno; ETIMEDOUT after `timeout`). Always called from the event loop, never from inside
    `connect` (an immediate result is delivered with call_soon)."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 done: Callable[[Any, int], None]) -> None:
        self.loop = loop
        self.done = done
        self._ep = select.epoll()
        # fd -> (socket, job, pool): pool is the idle list the socket goes back to, or None
        self._pending: dict[int, tuple[_socket.socket, Any, list[_socket.socket] | None]] = {}
        self._idle: dict[tuple[int, int], list[_socket.socket]] = {}
        self._timeouts = _Deadlines(loop, self._expire)
        loop.add_reader(self._ep.fileno(), self._ready)
        self.mark_ok = True          # False once SO_MARK was refused (no CAP_NET_ADMIN)
        self.reuse = _disconnect is not None
        self.made = 0                # sockets made (the rest of the probes reused one)
        # idle sockets kept per pool: a burst of probes (a loop that could not run for a while
        # starts every check that fell due at once) leaves as many for the next burst; never
        # more than there are probes to run (trim), within the fd limit (ensure_fd_limit)
        self.idle_max = IDLE_MAX

    def __len__(self) -> int:
        return len(self._pending)

    def idle(self) -> int:
        return sum(len(x) for x in self._idle.values())

    def trim(self, checkers: int) -> None:
        """At most `checkers` idle sockets per pool from now on (the number of checkers
        after a reload); the ones beyond are closed."""
        self.idle_max = min(IDLE_MAX, max(0, checkers))
        for pool in self._idle.values():
            while len(pool) > self.idle_max:
                pool.pop().close()

    def _new_socket(self, family: int, mark: int) -> _socket.socket:
        # the C socket object: socket.socket's Python layer (makefile, io refs) is not used
        # here and costs a Python call per check at creation and at close
        s = _socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        self.made += 1
        try:
            s.setsockopt(_SOL_SOCKET, _SO_LINGER, _RESET)
            if mark and self.mark_ok:
                try:
                    s.setsockopt(_SOL_SOCKET, SO_MARK, mark)
                except PermissionError:
                    self.mark_ok = False
        except OSError:
            s.close()
            raise
        return s

    def connect(self, job: Any, host: str, port: int, timeout: float,
                ch: Checker | None = None, mark: int = 0) -> None:
        """Start a probe of host:port. `ch`: the checker, when it has socket options of its
        own (needs_binding; its fwmark then replaces `mark`)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        bound = ch is not None and needs_binding(ch)
        if bound and ch is not None and ch.fwmark:
            mark = 0
        pool: list[_socket.socket] | None = None
        s: _socket.socket | None = None
        try:
            if bound or not self.reuse:
                s = self._new_socket(family, mark)
                if ch is not None and bound:
                    bind_socket(s, ch, family)
            else:
                key = (family, mark if self.mark_ok else 0)
                pool = self._idle.get(key)
                if pool is None:
                    pool = self._idle[key] = []
                if pool:
                    s = pool.pop()
                else:
                    s = self._new_socket(family, mark)
                    self._ep.register(s.fileno(), _EDGE)
            err = s.connect_ex((host, port))
        except OSError as e:
            err = e.errno or errno.EMFILE
        except (ValueError, OverflowError):     # a port or address Python refuses
            err = errno.EINVAL
        if err != _EINPROGRESS or s is None:
            if s is not None:
                s.close()                       # (also leaves the epoll set)
            self.loop.call_soon(self.done, job, err)
            return
        fd = s.fileno()
        entry = (s, job, pool)
        self._pending[fd] = entry
        if pool is None:
            self._ep.register(fd, _EDGE)
        # the entry itself tells a deadline of this probe from one of a later probe on the
        # same descriptor (a reused socket, or a new one given the same number)
        self._timeouts.push(timeout, fd, entry)

    def _release(self, s: _socket.socket, pool: list[_socket.socket] | None) -> None:
        """A finished probe's socket: aborted (a reset if it is connected) and parked for the
        next probe, or closed."""
        if pool is not None and len(pool) < self.idle_max and _disconnect is not None \
                and _disconnect(s.fileno(), _UNSPEC, 16) == 0:
            s.getsockopt(_SOL_SOCKET, _SO_ERROR)     # the abort's ECONNRESET, cleared
            pool.append(s)
        else:
            s.close()                # the RST (SO_LINGER 0); closing also leaves the epoll set

    def _ready(self) -> None:
        pending = self._pending
        release = self._release
        done = self.done
        for fd, ev in self._ep.poll(0):
            entry = pending.pop(fd, None)
            if entry is None:
                continue                        # an idle socket's abort
            s, job, pool = entry
            # writable with no error or hang-up reported (the mask is the socket's state when
            # the events were collected): connected; else SO_ERROR says how it failed
            err = s.getsockopt(_SOL_SOCKET, _SO_ERROR) if ev & _FAILED else 0
            if not err:
                try:
                    s.shutdown(_SHUT_WR)        # the FIN: the server reads an end of file
                except OSError:                 # reset already: nothing to say goodbye to
                    pass
            release(s, pool)
            try:
                done(job, err)
            except Exception as e:            # one result's bug must not lose the others
                log.error("check.prober.error", error=repr(e))

    def _expire(self, now: float) -> None:
        pending = self._pending
        for q in self._timeouts.queues.values():
            while q and q[0][0] <= now:
                _, fd, entry = q.popleft()
                now_there = pending.get(fd)
                if now_there is None or now_there is not entry:
                    continue                    # finished in time
                del pending[fd]
                self._release(now_there[0], now_there[2])
                self._report(now_there[1], errno.ETIMEDOUT)

    def _report(self, job: Any, err: int) -> None:
        try:
            self.done(job, err)
        except Exception as e:            # one result's bug must not lose the others
            log.error("check.prober.error", error=repr(e))

    def close(self) -> None:
        self.loop.remove_reader(self._ep.fileno())
        for s, _, _ in self._pending.values():
            s.close()
        self._pending.clear()
        for pool in self._idle.values():
            for s in pool:
                s.close()
        self._idle.clear()
        self._timeouts.close()
        self._ep.close()
