"""The BFD child: keepalived's third child process (started only when bfd_instance blocks exist).

Theory of operation. The pure `SessionTable` (session.py) decides; this edge only moves bytes
and time. Sockets follow RFC 5881 (single hop, as keepalived 2.2.7 does for every session,
`max_hops` widening the TTL check): one receive socket per address family on UDP 3784 asking
the kernel for the received TTL/hop limit and destination address; one send socket per
session, bound to `source_ip` (if any) and a port from 49152..65535, sending with TTL/hop limit
`ttl` (255 by default over IPv4: GTSM, RFC 5881 §5). One timer handle follows the table's
earliest deadline.

A session going Up, or Down from Up (not because the peer said AdminDown), is reported to the
parent as ("bfd", NAME, UP); the parent hands it to the VRRP child (track_bfd) and the checker
child (BFD_CHECK) and repeats the last states to a child it (re)starts. USR1 writes
TMPDIR/keepalived_bfd.data (keepalived's name) with every session's variables and the drop
counters.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from keepalived_py.bfd.packet import (
    CONTROL_PORT,
    SOURCE_PORT_MAX,
    SOURCE_PORT_MIN,
    State,
    encode,
)
from keepalived_py.bfd.session import (
    Action,
    Dropped,
    SendControl,
    Session,
    SessionTable,
    StateChanged,
)
from keepalived_py.config.bfd import BfdInstance, IPAddress
from keepalived_py.config.model import Config
from keepalived_py.core.child import DumpKind
from keepalived_py.obs import slog
from keepalived_py.options import Options

log = slog.get_logger("keepalived_py.bfd")

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_CMSG_SPACE = socket.CMSG_SPACE(64) * 3
SOCKET_RETRY = 60.0               # s, keepalived's retry of a socket it could not open


def _open_receiver(family: int) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind(("0.0.0.0", CONTROL_PORT))
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        s.bind(("::", CONTROL_PORT))
    return s


def _open_sender(cfg: BfdInstance, rand: random.Random) -> socket.socket:
    """RFC 5881 §4: a source port in 49152..65535; §5: TTL/hop limit 255 (or `ttl`)."""
    family = socket.AF_INET if cfg.neighbor_ip.version == 4 else socket.AF_INET6
    s = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        if family == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, cfg.ttl)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, cfg.ttl)
        src = str(cfg.source_ip) if cfg.source_ip is not None else ("0.0.0.0" if family ==
                                                                     socket.AF_INET else "::")
        start = rand.randint(SOURCE_PORT_MIN, SOURCE_PORT_MAX)
        span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1
        for i in range(span):
            port = SOURCE_PORT_MIN + (start - SOURCE_PORT_MIN + i) % span
            try:
                s.bind((src, port))
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        s.connect((str(cfg.neighbor_ip), CONTROL_PORT))
    except OSError:
        s.close()
        raise
    return s


def _ancillary(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, IPAddress | None]:
    """(received TTL/hop limit or 0, the datagram's destination address) from recvmsg."""
    ttl = 0
    dest: IPAddress | None = None
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == socket.IP_TTL and data:
            ttl = data[0] if len(data) == 1 else struct.unpack("=i", data[:4])[0]
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(data) >= 4:
            ttl = struct.unpack("=i", data[:4])[0]
        elif level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            dest = ipaddress.IPv4Address(data[8:12])            # ipi_addr
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= 16:
            dest = ipaddress.IPv6Address(data[:16])
    return ttl, dest


class BfdDaemon:
    role = "bfd"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rand = random.Random()
        self.table = SessionTable(rand=self.rand)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.receivers: dict[int, socket.socket] = {}
        self.senders: dict[str, socket.socket] = {}
        self.sender_keys: dict[str, tuple[Any, ...]] = {}
        self.send_errors: dict[str, bool] = {}
        self.timer: asyncio.TimerHandle | None = None
        self._retry: asyncio.TimerHandle | None = None
        self.to_parent: Callable[..., None] | None = None     # set by core/childrun.py
        self.sent = 0
        self._dumps: Any = None

    # -- ChildDaemon ----------------------------------------------------------------------
    async def start(self, config: Config) -> None:
        self.loop = asyncio.get_running_loop()
        self.table = SessionTable(config.bfd_instances, rand=self.rand)
        self._sockets(config.bfd_instances)
        for s in self.table.sessions.values():
            log.info("bfd.session.configured", session=s.name, neighbor=str(s.cfg.neighbor_ip),
                     discriminator=f"{s.local_discr:#x}")
        self._apply(self.table.start(self.loop.time()))

    async def reload(self, config: Config) -> None:
        assert self.loop is not None
        old = set(self.table.sessions)
        actions = self.table.reconfigure(config.bfd_instances, self.loop.time())
        for name in old - set(self.table.sessions):
            log.info("bfd.session.removed", session=name)
        self._sockets(config.bfd_instances)
        self._apply(actions)

    async def stop(self, release: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self._retry is not None:
            self._retry.cancel()
        for s in list(self.receivers.values()) + list(self.senders.values()):
            if self.loop is not None:
                self.loop.remove_reader(s.fileno())
            s.close()
        self.receivers.clear()
        self.senders.clear()

    def dump(self, kind: DumpKind) -> None:
        if kind is not DumpKind.DATA:
            return
        from keepalived_py.obs import dumps
        if self._dumps is None:
            def render(_: str) -> tuple[str, str]:
                return os.path.join(dumps.dump_dir(), "keepalived_bfd.data"), self.format_data()
            self._dumps = dumps.DumpWriter(render)
        self._dumps.request("bfd")

    # -- sockets --------------------------------------------------------------------------
    def _sockets(self, configs: tuple[BfdInstance, ...]) -> None:
        assert self.loop is not None
        families = {socket.AF_INET if c.neighbor_ip.version == 4 else socket.AF_INET6
                    for c in configs}
        for fam in families - set(self.receivers):
            try:
                sock = _open_receiver(fam)
            except OSError as e:
                # (another BFD daemon on this port): our sessions stay Down, said once here
                log.error("bfd.socket.failed", port=3784, family=int(fam),
                          error=os.strerror(e.errno or 0),
                          compat=f"bfd: cannot listen on UDP port 3784: {os.strerror(e.errno or 0)}")
                continue
            self.receivers[fam] = sock
            self.loop.add_reader(sock.fileno(), self._readable, sock)
        by_name = {c.name: c for c in configs}
        for name in list(self.senders):
            s = self.table.sessions.get(name)
            if s is None or name not in by_name or _sender_key(s.cfg) != self.sender_keys.get(name):
                old = self.senders.pop(name)
                self.loop.remove_reader(old.fileno())
                old.close()
        for name, s in self.table.sessions.items():
            if name not in self.senders:
                try:
                    sock = _open_sender(s.cfg, self.rand)
                except OSError as e:
                    log.error("bfd.socket.failed", session=name, error=os.strerror(e.errno or 0))
                    continue
                self.sender_keys[name] = _sender_key(s.cfg)
                self.senders[name] = sock
                # the connected sender also receives ICMP errors; read and ignore them
                self.loop.add_reader(sock.fileno(), _drain, sock)
        if (len(self.senders) < len(self.table.sessions) or not self.receivers) and \
                self._retry is None:
            # keepalived's bfd_open_fd_out_thread: try again every minute (a source address
            # not configured yet, the port taken by another daemon)
            def retry() -> None:
                self._retry = None
                self._sockets(tuple(s.cfg for s in self.table.sessions.values()))
            self._retry = self.loop.call_later(SOCKET_RETRY, retry)

    def _readable(self, sock: socket.socket) -> None:
        assert self.loop is not None
        actions: list[Action] = []
        for _ in range(64):
            try:
                data, anc, _flags, addr = sock.recvmsg(512, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                log.warning("bfd.receive.failed", error=os.strerror(e.errno or 0))
                break
            ttl, dest = _ancillary(anc)
            source = ipaddress.ip_address(addr[0].split("%", 1)[0])
            actions += self.table.receive(data, source, dest, ttl, self.loop.time())
        self._apply(actions)

    # -- actions --------------------------------------------------------------------------
    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, SendControl):
                self._send(a)
            elif isinstance(a, StateChanged):
                self._changed(a)
            elif isinstance(a, Dropped):
                log.debug("bfd.packet.dropped", reason=a.reason.value, detail=a.detail,
                          source=a.source)
        self._arm()

    def _send(self, a: SendControl) -> None:
        sock = self.senders.get(a.session)
        if sock is None:
            return
        try:
            sock.send(encode(a.packet))
            self.sent += 1
            self.send_errors[a.session] = False
        except OSError as e:
            if not self.send_errors.get(a.session):
                log.error("bfd.send.failed", session=a.session, error=os.strerror(e.errno or 0),
                          compat=f"({a.session}) Error sending packet")
            self.send_errors[a.session] = True

    def _changed(self, a: StateChanged) -> None:
        if a.new is State.UP:
            log.info("bfd.session.up", session=a.session, old=a.old.label,
                     compat=f"({a.session}) Entering Up state")
        elif a.new is State.DOWN and a.old is State.UP:
            if a.silent_for is not None:
                ms = a.silent_for * 1000
                log.warning("bfd.session.expired", session=a.session, silent_ms=round(ms, 3),
                            detect_ms=a.detect_time / 1000,
                            compat=f"({a.session}) Expired after {int(ms)} ms"
                                   f" ({max(0, int(ms * 1000 - a.detect_time))} usec overdue)")
            log.warning("bfd.session.down", session=a.session, diag=a.diag.label,
                        remote_diag=a.remote_diag.label,
                        compat=f"({a.session}) Entering Down state (Local diagnostic -"
                               f" {a.diag.label}, Remote diagnostic - {a.remote_diag.label})")
        else:
            log.debug("bfd.session.changed", session=a.session, old=a.old.label,
                      new=a.new.label, diag=a.diag.label)
        if a.report and self.to_parent is not None:
            self.to_parent("bfd", a.session, a.new is State.UP)

    def _arm(self) -> None:
        assert self.loop is not None
        due = self.table.next_deadline()
        if self.timer is not None:
            if due is not None and self.timer.when() == due:
                return
            self.timer.cancel()
            self.timer = None
        if due is not None:
            self.timer = self.loop.call_at(due, self._fire)

    def _fire(self) -> None:
        assert self.loop is not None
        self.timer = None
        self._apply(self.table.expire(self.loop.time()))

    # -- dumps ----------------------------------------------------------------------------
    def format_data(self) -> str:
        """keepalived's keepalived_bfd.data (bfd_data.c dump_bfd), with our drop counters."""
        assert self.loop is not None
        lines = ["------< BFD Topology >------"]
        mono, wall = self.loop.time(), time.time()
        for s in self.table.sessions.values():
            lines += _dump_session(s, mono, wall)
        lines.append("------< BFD Statistics >------")
        lines.append(f" packets received = {self.table.received}")
        lines.append(f" packets sent = {self.sent}")
        for reason, n in self.table.drops.items():
            lines.append(f" dropped {reason.value} = {n}")
        return "\n".join(lines) + "\n"


def _sender_key(cfg: BfdInstance) -> tuple[Any, ...]:
    return (cfg.neighbor_ip, cfg.source_ip, cfg.ttl)


def _drain(sock: socket.socket) -> None:
    for _ in range(16):
        try:
            sock.recv(512)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue        # ICMP port unreachable (peer not listening): nothing to do


def _dump_session(s: Session, mono: float, wall: float) -> list[str]:
    c = s.cfg
    out = [f" BFD Instance = {c.name}", f"   Neighbor IP = {c.neighbor_ip}"]
    if c.source_ip is not None:
        out.append(f"   Source IP = {c.source_ip}")
    out += [
        f"   Required min RX interval = {c.min_rx_us} us",
        f"   Desired min TX interval = {c.min_tx_us} us",
        f"   Desired idle TX interval = {c.idle_tx_us} us",
        f"   Detection multiplier = {c.multiplier}",
        f"   {'TTL' if c.neighbor_ip.version == 4 else 'hoplimit'} = {c.ttl}",
        f"   max_hops = {c.max_hops}",
        f"   passive = {'true' if c.passive else 'false'}",
        f"   send event to VRRP process = {'Yes' if c.vrrp else 'No'}",
        f"   send event to checker process = {'Yes' if c.checker else 'No'}",
        f"   local state = {s.state.label}",
        f"   remote state = {s.remote_state.label}",
        f"   local discriminator = {s.local_discr:#x}",
        f"   remote discriminator = {s.remote_discr:#x}",
        f"   local diag = {s.local_diag.label}",
        f"   remote diag = {s.remote_diag.label}",
        f"   remote min tx intv = {s.remote_min_tx} us",
        f"   remote min rx intv = {s.remote_min_rx} us",
        "   local demand = 0",
        f"   remote demand = {int(s.remote_demand)}",
        f"   remote detect multiplier = {s.remote_mult}",
        f"   {'' if s.poll else '!'}poll, {'' if s.final else '!'}final",
        f"   local tx intv = {s.tx_interval} us",
        f"   remote tx intv = {s.remote_tx_interval} us",
        f"   local detection time = {s.detect_time} us",
        f"   remote detection time = {s.remote_detect_time} us",
    ]
    if s.last_seen is None:
        out.append("   last_seen = [never]")
    else:
        t = wall - (mono - s.last_seen)
        out.append(f"   last seen = {t:.6f} ({time.ctime(t)})")
    return out


def create(options: Options) -> BfdDaemon:
    return BfdDaemon(options)
