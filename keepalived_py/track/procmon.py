"""vrrp_track_process, the edge: follow processes with the kernel's proc connector, or by polling.

Theory of operation. At start every /proc/PID is read once (comm and state from
/proc/PID/stat; the command line only if some tracker needs it) and each tracker's quorum is
set. Then the proc connector (NETLINK_CONNECTOR, CN_IDX_PROC; message layouts from pyroute2)
reports fork, exec, comm and exit events, each of which re-reads only that PID. The kernel
serves these events only to sockets in the initial network namespace: elsewhere (a daemon
started inside a namespace or container, a user namespace, a kernel without PROC_EVENTS) the
subscription is refused (ECONNREFUSED and friends). keepalived then puts instances in FAULT;
here one warning is logged and /proc is polled instead (every `poll_interval` seconds), so
the monitoring mechanism never decides an instance's state. PIDs are 32-bit everywhere
(pid_max may be 4194304). With `-s/--namespace`, call `open_connector()` before entering the
namespace and pass the socket in, as keepalived does.
"""
from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable, Sequence

import psutil

from keepalived_py.config.model import VrrpTrackProcess
from keepalived_py.obs import slog
from keepalived_py.track.process import ProcessInfo, ProcessQuorum

log = slog.get_logger("keepalived_py.track.process")

# errnos meaning "process events are not served to this socket": fall back to polling
_UNAVAILABLE = {errno.ECONNREFUSED, errno.EPERM, errno.EACCES, errno.EPROTONOSUPPORT,
                errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP}


def open_connector() -> socket.socket:
    """Open and subscribe a proc connector socket. Raises OSError when events are refused."""
    from keepalived_py.pyroute2_parts import pyroute2_without_its_init
    pyroute2_without_its_init()
    from pyroute2.netlink import NETLINK_CONNECTOR, NLMSG_DONE
    from pyroute2.netlink.connector import cn_proc

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    try:
        sock.bind((0, cn_proc.CN_IDX_PROC))
        msg = cn_proc.proc_event_control()
        msg["header"]["type"] = NLMSG_DONE
        msg["idx"] = cn_proc.CN_IDX_PROC
        msg["val"] = cn_proc.CN_VAL_PROC
        msg["len"] = 4
        msg["action"] = cn_proc.PROC_CN_MCAST_LISTEN
        msg.encode()
        sock.send(msg.data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def read_process(pid: int, want_cmdline: bool) -> ProcessInfo | None:
    """Read one live process; None if it is gone, a zombie, or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    lp, rp = stat.find(b"("), stat.rfind(b")")
    if lp < 0 or rp < lp or stat[rp + 2: rp + 3] in (b"Z", b"X", b""):
        return None
    comm = stat[lp + 1: rp].decode("utf-8", "surrogateescape")
    cmdline: tuple[str, ...] = ()
    if want_cmdline:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        if raw:
            cmdline = tuple(a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0"))
    return ProcessInfo(pid, comm, cmdline)


ChangeCallback = Callable[[str, bool], None]


class ProcessMonitor:
    """All vrrp_track_process trackers of the child; reports (name, up) on each change."""

    def __init__(self, trackers: Sequence[VrrpTrackProcess], on_change: ChangeCallback, *,
                 connector: socket.socket | None = None, poll_interval: float = 1.0,
                 use_connector: bool = True) -> None:
        self.quorums = {t.name: ProcessQuorum.from_config(t) for t in trackers}
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.mode = "none"
        self.events = 0
        self.rescans = 0
        self._sock = connector
        self._use_connector = use_connector
        self.rcv_bufs: object = None         # global_defs process_monitor_rcv_bufs (RcvBufs)
        self._need_cmdline = any(q.spec.needs_cmdline for q in self.quorums.values())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- state ---------------------------------------------------------------------------
    def state(self, name: str) -> bool | None:
        q = self.quorums.get(name)
        return None if q is None else q.reported

    def _scan(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {name: set() for name in self.quorums}
        for pid in psutil.pids():
            info = read_process(pid, self._need_cmdline)
            if info is not None:
                self._classify(info, found)
        return found

    def _classify(self, info: ProcessInfo, found: dict[str, set[int]]) -> None:
        for name, q in self.quorums.items():
            if q.spec.matches(info):
                found[name].add(info.pid)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self.quorums:
            return
        if self._use_connector and self._sock is None:
            try:
                self._sock = open_connector()
            except OSError as e:
                level = log.warning if e.errno in _UNAVAILABLE else log.error
                level("track.process.connector_unavailable", errno=e.errno,
                      error=os.strerror(e.errno or 0), fallback="polling /proc",
                      poll_interval=self.poll_interval,
                      msg="process events unavailable (not the initial network namespace?)"
                          "; following processes by polling /proc")
                self._sock = None
        found = self._scan()
        for name, q in self.quorums.items():
            up = q.initial(found[name])
            self.on_change(name, up)
        if self._sock is not None:
            if self.rcv_bufs is not None:
                from keepalived_py.core.rcvbufs import apply_rcvbuf
                apply_rcvbuf(self._sock, self.rcv_bufs, "process monitor")  # type: ignore[arg-type]
            self.mode = "connector"
            self._loop.add_reader(self._sock.fileno(), self._readable)
        else:
            self.mode = "polling"
            self._poller = self._loop.create_task(self._run_poll())
        log.info("track.process.started", mode=self.mode, trackers=len(self.quorums))

    def stop(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- connector path -------------------------------------------------------------------
    def _readable(self) -> None:
        from keepalived_py.pyroute2_parts import pyroute2_without_its_init
        pyroute2_without_its_init()
        from pyroute2.netlink.connector import cn_proc

        assert self._sock is not None and self._loop is not None
        marshal = cn_proc.ProcEventMarshal()
        now = self._loop.time()
        for _ in range(64):                       # bounded work per wake-up
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.ENOBUFS:      # events were lost: rescan everything
                    self.rescans += 1
                    log.warning("track.process.events_lost", action="rescan")
                    self._resync(now)
                    continue
                log.error("track.process.connector_failed", errno=e.errno)
                self._fallback()
                return
            try:
                msgs = list(marshal.parse(data))
            except Exception as e:
                log.warning("track.process.bad_event", error=str(e))
                continue
            for msg in msgs:
                self.events += 1
                self._event(msg, now)
        self._arm()

    def _event(self, msg: dict[str, object], now: float) -> None:
        what = msg.get("event")
        if what == "PROC_EVENT_FORK":
            pid, tgid = msg.get("child_pid"), msg.get("child_tgid")
        else:
            pid, tgid = msg.get("process_pid"), msg.get("process_tgid")
        if pid != tgid or not isinstance(tgid, int):
            return                                  # a thread, not a process
        if what in ("PROC_EVENT_FORK", "PROC_EVENT_EXEC", "PROC_EVENT_COMM"):
            self._refresh(tgid, now)
        elif what == "PROC_EVENT_EXIT":
            for name, q in self.quorums.items():
                self._report(name, q.removed(tgid, now))

    def _refresh(self, pid: int, now: float) -> None:
        info = read_process(pid, self._need_cmdline)
        for name, q in self.quorums.items():
            if info is not None and q.spec.matches(info):
                self._report(name, q.added(pid, now))
            else:
                self._report(name, q.removed(pid, now))

    def _fallback(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        self.mode = "polling"
        if self._loop is not None:
            self._poller = self._loop.create_task(self._run_poll())

    # -- polling path ---------------------------------------------------------------------
    async def _run_poll(self) -> None:
        assert self._loop is not None
        while True:
            await asyncio.sleep(self.poll_interval)
            self._resync(self._loop.time())
            self._arm()

    def _resync(self, now: float) -> None:
        found = self._scan()
        for name, q in self.quorums.items():
            self._report(name, q.resync(found[name], now))

    # -- delays -------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._loop is None:
            return
        deadlines = [d for q in self.quorums.values() if (d := q.next_deadline()) is not None]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadlines:
            self._timer = self._loop.call_at(min(deadlines), self._expire)

    def _expire(self) -> None:
        assert self._loop is not None
        self._timer = None
        now = self._loop.time()
        for name, q in self.quorums.items():
            self._report(name, q.expire(now))
        self._arm()

    def _report(self, name: str, change: bool | None) -> None:
        if change is not None:
            log.info("track.process.changed", tracker=name, up=change,
                     processes=len(self.quorums[name].pids),
                     compat=f"Quorum {'gained' if change else 'lost'} for tracked process {name}")
            self.on_change(name, change)

