"""Raw VRRP sockets (IP protocol 112), one per interface and address family.

Each socket is bound to its interface (SO_BINDTODEVICE), joins 224.0.0.18 / ff02::12 (or the
configured group) there, sends with TTL / hop limit 255 (unicast_ttl for unicast) and has
multicast loopback off. Received packets are checked as keepalived checks them — TTL/hop
limit 255 for multicast, min/max_ttl for unicast peers, our VRID — decoded (packet.py), and
handed to the instance by VRID. Every drop is counted by reason; nothing raises. Packets
are read in batches (recvmmsg, vrrp/rxbatch.py) and a master's repeated advert skips the
decode and, once the daemon hooked it (`fast_hook`, vrrp/rxfast.py), the lookup (see
`_readable4`, `_readable6`).

Instances with `auth_type AH` use a separate IPv4 socket on protocol 51 (AH) with IP_HDRINCL,
as keepalived does: it sends whole packets built by ah.build and hands each received packet,
parsed by ah.decode_packet but not yet authenticated, to `deliver_ah` (the key and sequence
counter are per instance).

Every socket asks for SO_RXQ_OVFL: each packet then carries the kernel's count of packets it
dropped on that socket because the receive queue was full (a flood). A rise is reported to
`on_overflow(n)` (the daemon tells the instances, whose master down timer then allows for
a master advert lost that way: vrrp/machine.py `ReceiveLost`) and kept as `kernel_drops`.

The priority lane (VRRP sockets, IPv4 and IPv6): once the instances on a socket have heard
their masters, `prioritise(sources)` opens a second socket on the same interface and group
with a kernel filter (classic BPF on the IP source address: source_filter, source_filter6)
that admits only those masters' packets, and gives the first socket the opposite filter. A
flood from anywhere else fills the first queue and no longer pushes the masters' adverts out:
they have a queue of their own.
Both feed the same decoding and counters. A flood spoofing a master's own address still
reaches the lane; then the loss is reported as above. The lane gets the receive buffer size
vrrp_rx_bufs_policy gave the socket (`set_rcvbuf`, vrrp/rxbufs.py), if any.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from keepalived_py.obs import slog
from keepalived_py.vrrp.ah import IPPROTO_AH, AhPacket, decode_packet
from keepalived_py.vrrp.packet import (
    IPPROTO_VRRP,
    VRRP_TTL,
    Address,
    Advert,
    DecodeError,
    Reason,
    decode,
    decode_ipv4,
)
from keepalived_py.vrrp.rxbatch import CONTROL6, META_OFF, NAME6, SIZE6, STRIDE, BatchReader
from keepalived_py.vrrp.rxbatch import SIZE as SLOT

log = slog.get_logger("keepalived_py.vrrp.transport")

IP_MULTICAST_ALL = 49
IP_PKTINFO = 8
IPV6_RECVHOPLIMIT, IPV6_HOPLIMIT = 51, 52
IPV6_RECVPKTINFO, IPV6_PKTINFO = 49, 50
SO_RXQ_OVFL = 40
_ANC = 256                      # ancillary space: pktinfo, hop limit, the drop counter

_SEEN_MAX = 1024            # distinct good packets remembered per socket
_SEEN_KEY_MAX = 1100        # and bytes of each (IPv6: up to 66 addresses; any IPv4 packet)
_BAD_TTL = Reason.BAD_TTL.counter

# an IPv6 packet's ancillary data without the drop counter (_readable6): struct cmsghdr
# (length, level, type) + in6_pktinfo (address, ifindex), then cmsghdr + the hop limit (int)
_CMSG = struct.Struct("@Nii")
_ALIGN = struct.calcsize("@N")


def _space(n: int) -> int:
    """CMSG_SPACE(n)."""
    return (_CMSG.size + n + _ALIGN - 1) & ~(_ALIGN - 1)


_HDR6 = _CMSG.pack(_CMSG.size + 20, socket.IPPROTO_IPV6, IPV6_PKTINFO)
_HDR6_LEN = _CMSG.size
_HOP_HDR6 = _CMSG.pack(_CMSG.size + 4, socket.IPPROTO_IPV6, IPV6_HOPLIMIT)
_HOP_HDR_OFF = _space(20)
_HOP_HDR_END = _HOP_HDR_OFF + _CMSG.size
_PLAIN6 = _space(20) + _space(4)
_DST_OFF = _CMSG.size
_HOP_OFF = _HOP_HDR_END + (0 if sys.byteorder == "little" else 3)   # (0..255: one byte)

Deliver = Callable[[Advert, Address, Address, int], None]
DeliverAh = Callable[[AhPacket], None]
Overflow = Callable[[int, bool], None]     # (packets lost, on the priority lane)
FastHook = Callable[[int], bool]           # (TTL) -> taken (VrrpSocket.fast_hook)
SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27
LANE_MAX = 16                   # master addresses a priority lane admits at most


def source_filter(sources: list[bytes], admit_listed: bool) -> bytes:
    """A classic BPF program (struct sock_filter[]) for a raw IPv4 socket, whose packets start
    at the IP header: admit the packets whose source is in `sources` (or all the others)."""
    n = len(sources)
    prog = [(0x20, 0, 0, 12)]                                    # ld [12]: the source
    prog += [(0x15, n - i, 0, int.from_bytes(a, "big"))          # jeq #a, listed
             for i, a in enumerate(sources)]
    keep, drop = 0xFFFFFFFF, 0
    prog.append((0x06, 0, 0, drop if admit_listed else keep))    # not listed
    prog.append((0x06, 0, 0, keep if admit_listed else drop))    # listed
    return b"".join(struct.pack("@HBBI", *ins) for ins in prog)


SKF_NET_OFF = -0x100000        # classic BPF: a load relative to the network (IP) header


def source_filter6(sources: list[bytes], admit_listed: bool) -> bytes:
    """The same for a raw IPv6 socket, whose packets start after the IPv6 header (the VRRP
    packet): the 16-byte source address is read relative to the network header (SKF_NET_OFF
    + 8), 4 bytes at a time; each listed address is a block of 8 instructions."""
    n = len(sources)
    prog: list[tuple[int, int, int, int]] = []
    for i, a in enumerate(sources):
        for j in range(4):
            word = int.from_bytes(a[4 * j:4 * j + 4], "big")
            prog.append((0x20, 0, 0, (SKF_NET_OFF + 8 + 4 * j) & 0xFFFFFFFF))   # ld [net+k]
            if j < 3:
                prog.append((0x15, 0, 6 - 2 * j, word))        # no: the next address's block
            else:
                prog.append((0x15, 8 * (n - i) - 7, 0, word))  # yes: listed
    keep, drop = 0xFFFFFFFF, 0
    prog.append((0x06, 0, 0, drop if admit_listed else keep))    # not listed
    prog.append((0x06, 0, 0, keep if admit_listed else drop))    # listed
    return b"".join(struct.pack("@HBBI", *ins) for ins in prog)


def attach_filter(sock: socket.socket, program: bytes) -> None:
    import ctypes
    buf = ctypes.create_string_buffer(program, len(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("@HP", len(program) // 8, ctypes.addressof(buf)))


class VrrpSocket:
    """One raw socket on `ifname` for `family`; `deliver(advert, src, dst, ttl)` per packet."""

    def __init__(self, ifname: str, family: int, group: Address, deliver: Deliver,
                 unicast_src: Address | None = None, unicast_ttl: int = VRRP_TTL,
                 deliver_ah: DeliverAh | None = None,
                 on_overflow: Overflow | None = None) -> None:
        self.ifname = ifname
        self.deliver_ah = deliver_ah        # set: an AH socket (IPv4, protocol 51)
        self.proto = IPPROTO_AH if deliver_ah is not None else IPPROTO_VRRP
        self.family = family
        self.group = group
        self.deliver = deliver
        self.unicast_src = unicast_src
        self.unicast_ttl = unicast_ttl
        self.drops: Counter[str] = Counter()
        self.received = 0
        self.sent = 0
        self.send_errors = 0
        self.on_overflow = on_overflow
        self.kernel_drops = 0           # packets the kernel dropped: receive queue full
        self.lane_kernel_drops = 0      # (of which on the priority lane)
        self._ovfl_seen: dict[int, int] = {}   # fd -> the kernel's cumulative counter
        self.lane: socket.socket | None = None  # the priority lane, see the module docstring
        self.lane_sources: frozenset[Address] = frozenset()
        self.lane_received = 0
        self._lane_loop: Any = None
        self.rcvbuf: int | None = None  # SO_RCVBUF from vrrp_rx_bufs_policy (set_rcvbuf)
        self.ifindex = 0
        # the source address of what we send, when the kernel must not choose it (a VMAC
        # holds only VIPs, and keepalived sends from the parent's address): IP(V6)_PKTINFO
        self.source: Address | None = None
        self._sockaddrs: dict[Address, tuple[Any, ...]] = {}
        # IPv4: source, destination and payload bytes of a good packet -> [source, destination,
        # advert, multicast?, the hook `deliver` set for it or None] (_readable4)
        self._seen: dict[bytes, list[Any]] = {}
        self._current: list[Any] | None = None     # the entry `deliver` is handling
        # recvmmsg readers of the socket and its lane (None: not yet made; False: unavailable)
        self._rb: BatchReader | bool | None = None
        self._rb_lane: BatchReader | bool | None = None
        self._in_batch = False
        # what the loop calls when the socket or its lane is readable: `readable(lane)`, or
        # the daemon's wrapper (timers due first: daemon._read)
        self.reader: Callable[[bool], object] = self.readable
        # when the packets being delivered were read: the wake-up (issue 16.4: a backup's
        # down timer runs from when the kernel had the advert, not from when its turn in the
        # batch came); None outside a read
        self.rx_at: float | None = None
        self.sock = self._open()

    def _open(self) -> socket.socket:
        af = socket.AF_INET if self.family == 4 else socket.AF_INET6
        s = socket.socket(af, socket.SOCK_RAW, self.proto)
        s.setblocking(False)
        if self.proto == IPPROTO_AH:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)   # ah.build makes the header
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.ifname.encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        except OSError as e:          # (every Linux since 2.6.33 has it)
            log.debug("vrrp.socket.rxq_ovfl_unavailable", error=e.strerror)
        idx = socket.if_nametoindex(self.ifname)
        self.ifindex = idx
        if self.family == 4:
            s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            mreqn = self.group.packed + b"\0\0\0\0" + struct.pack("@i", idx)
            try:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            except OSError as e:
                log.warning("vrrp.socket.join_failed", ifname=self.ifname, error=e.strerror)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, self.unicast_ttl)
            if self.unicast_src is not None:
                try:
                    s.bind((str(self.unicast_src), 0))
                except OSError as e:
                    log.warning("vrrp.socket.bind_failed", address=str(self.unicast_src),
                                error=e.strerror)
        else:
            try:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                             self.group.packed + struct.pack("@I", idx))
            except OSError as e:
                log.warning("vrrp.socket.join_failed", ifname=self.ifname, error=e.strerror)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, self.unicast_ttl)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            if self.unicast_src is not None:
                # as keepalived: the adverts leave from unicast_src_ip. Unbound, the kernel
                # picks the source, and once a VIP of the same prefix is on the interface
                # it may pick the VIP, which breaks the v3 checksum (its pseudo-header
                # names unicast_src_ip): the peer drops every advert, priority 0 included
                try:
                    s.bind((str(self.unicast_src), 0, 0,
                            idx if self.unicast_src.is_link_local else 0))
                except OSError as e:
                    log.warning("vrrp.socket.bind_failed", address=str(self.unicast_src),
                                error=e.strerror)
        return s

    def _sockaddr(self, dst: Address) -> tuple[Any, ...]:
        """The sendto address of `dst`, made once (no str() or if_nametoindex per advert)."""
        if self.family == 4:
            to: tuple[Any, ...] = (str(dst), 0)
        else:
            scope = self.ifindex if dst.is_link_local or dst.is_multicast else 0
            to = (str(dst), 0, 0, scope)
        if len(self._sockaddrs) < 1024:
            self._sockaddrs[dst] = to
        return to

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self._close_lane()
        self.sock.close()

    def _close_lane(self) -> None:
        if self.lane is not None:
            if self._lane_loop is not None:
                self._lane_loop.remove_reader(self.lane.fileno())
            self._ovfl_seen.pop(self.lane.fileno(), None)
            self.lane.close()
            self.lane = None
            self._rb_lane = None

    def set_rcvbuf(self, size: int) -> None:
        """The receive buffer vrrp_rx_bufs_policy asks for (vrrp/rxbufs.py): this socket's and
        its priority lane's, now and when the lane is opened later."""
        self.rcvbuf = size
        for s in (self.sock, self.lane):
            if s is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    def rcvbuf_bytes(self) -> int:
        """The kernel's figure for the receive buffer (twice what was asked, at least its
        minimum)."""
        try:
            return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            return 0

    def prioritise(self, sources: set[Address], loop: Any) -> None:
        """Give the adverts of `sources` (the masters heard) a receive queue of their own
        (VRRP sockets; AH sockets keep one queue). An empty set closes the lane."""
        if self.deliver_ah is not None:
            return
        want = frozenset(a for a in sources if a.version == self.family)
        if len(want) > LANE_MAX:
            want = frozenset()
        if want == self.lane_sources:
            return
        try:
            if not want:
                self._close_lane()
                self.sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
            else:
                packed = [a.packed for a in sorted(want)]
                make = source_filter if self.family == 4 else source_filter6
                if self.lane is None:
                    self.lane = self._open()
                    if self.rcvbuf:
                        self.lane.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                    self._lane_loop = loop
                    loop.add_reader(self.lane.fileno(), self.reader, True)
                attach_filter(self.lane, make(packed, True))   # lane first: no gap
                attach_filter(self.sock, make(packed, False))
        except OSError as e:
            log.warning("vrrp.socket.lane_failed", ifname=self.ifname, error=e.strerror)
            self._close_lane()
            want = frozenset()
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
            except OSError:
                pass
        self.lane_sources = want

    def send(self, payload: bytes, dst: Address, source: Address | None = None) -> bool:
        """`source`: this packet's source address (an instance's mcast_src_ip on a shared
        socket), else the socket's `source`, else the kernel's choice."""
        try:
            to = self._sockaddrs.get(dst)
            if to is None:
                to = self._sockaddr(dst)
            source = source or self.source
            if source is not None and self.deliver_ah is None:
                self.sock.sendmsg([payload], [self._pktinfo(source)], 0, to)
            else:
                self.sock.sendto(payload, to)
            self.sent += 1
            return True
        except OSError as e:
            self.send_errors += 1
            log.debug("vrrp.socket.send_failed", ifname=self.ifname, error=e.strerror)
            return False

    def _pktinfo(self, source: Address) -> tuple[int, int, bytes]:
        if self.family == 4:          # struct in_pktinfo: ifindex, spec_dst (the source), addr
            return (socket.IPPROTO_IP, IP_PKTINFO,
                    struct.pack("@i", 0) + source.packed + bytes(4))
        return (socket.IPPROTO_IPV6, IPV6_PKTINFO,     # struct in6_pktinfo: addr, ifindex
                source.packed + struct.pack("@I", self.ifindex))

    def _overflowed(self, anc: list[tuple[int, int, bytes]], fd: int = -1,
                    lane: bool = False) -> None:
        """The kernel's drop counter from a packet's ancillary data (absent while zero)."""
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                total = struct.unpack("@I", value[:4])[0]
                lost = (total - self._ovfl_seen.get(fd, 0)) & 0xFFFFFFFF
                self._ovfl_seen[fd] = total
                if lost and lost < 1 << 31:
                    self.kernel_drops += lost
                    if lane:
                        self.lane_kernel_drops += lost
                    if self.on_overflow is not None:
                        self.on_overflow(lost, lane)

    def drain(self, seconds: float) -> None:
        """Read queued packets now, for `seconds` at most (the daemon does this before it
        declares a master down after an overflow: its advert may be waiting in the queue)."""
        end = time.monotonic() + seconds
        if self.lane is not None:
            while self.readable(True) and time.monotonic() < end:
                pass
        while self.readable() and time.monotonic() < end:
            pass

    def fast_hook(self, hook: FastHook) -> None:
        """Called by `deliver` while it handles a packet of the VRRP receive path: the next
        packets with the same bytes (source, destination, VRRP payload) go to `hook(ttl)`
        first; it returns False when it did not take the packet (then `deliver` gets it, as
        the first time). See `_readable4`."""
        if self._current is not None:
            self._current[4] = hook

    def readable(self, lane: bool = False) -> bool:
        """Drain the socket (bounded), deliver each good advert, count the rest. True when
        the bound was reached with packets possibly still queued. `lane`: the priority lane.
        `rx_at` is the time of the wake-up while the packets are delivered."""
        outer, self.rx_at = self.rx_at, time.monotonic()
        try:
            return self._readable(lane)
        finally:
            self.rx_at = outer

    def _readable(self, lane: bool) -> bool:
        sock = self.lane if lane else self.sock
        if sock is None:
            return False
        if self.deliver_ah is None:
            if self.family == 4:
                return self._readable4(sock, lane)
            return self._readable6(sock, lane)
        fd = sock.fileno()                  # an AH socket (IPv4)
        for _ in range(64):
            try:
                data, anc, _flags, _addr = sock.recvmsg(65535, _ANC)
                if anc:
                    self._overflowed(anc, fd)
                pkt = decode_packet(data)
                if pkt.dst.is_multicast and pkt.ttl != VRRP_TTL:      # RFC 5798 §7.1
                    self.drops[Reason.BAD_TTL.counter] += 1
                    continue
                self.received += 1
                self.deliver_ah(pkt)
            except BlockingIOError:
                return False
            except DecodeError as e:
                self.drops[e.reason.counter] += 1
                continue
            except OSError:
                return False
        return True

    def _reader(self, sock: socket.socket, lane: bool) -> BatchReader | None:
        """The socket's (or its lane's) recvmmsg reader, made on first use; None: recvmsg."""
        rb = self._rb_lane if lane else self._rb
        if rb is None:
            rb = (BatchReader.open(sock) if self.family == 4 else
                  BatchReader.open(sock, CONTROL6, NAME6, SIZE6)) or False
            if lane:
                self._rb_lane = rb
            else:
                self._rb = rb
        if rb is False or self._in_batch:
            return None                 # (a delivery reading again: the batch is in use)
        assert isinstance(rb, BatchReader)
        return rb

    def _readable4(self, sock: socket.socket, lane: bool) -> bool:
        """readable() for IPv4 VRRP (the per-packet path of a backup, issue 16).

        The queued packets are read with one recvmmsg per VLEN of them (vrrp/rxbatch.py;
        recvmsg one by one where it is unavailable, or when called again from a delivery).
        A master sends the same bytes every interval. A packet with a plain 20-byte header,
        whose total length is right and whose addresses and payload were decoded good before
        (`_seen`, by those bytes), skips the header parse, the address objects and the decode:
        its TTL is checked (RFC 5798 §7.1) and it goes to the entry's hook, if `deliver` set
        one (`fast_hook`: the daemon restarts the down timer there), else to `deliver` with
        the parts decoded the first time. Everything else takes the full path (`_full4`).
        The counters are those of the full path: `received` counts the packets whose IP
        header parsed, every drop its reason's counter."""
        rb = self._reader(sock, lane)
        if rb is None:
            return self._readable4_plain(sock, lane)
        seen, buf, view, hdr, meta = self._seen, rb.buf, rb.view, rb.hdr, rb.meta
        self._in_batch = True
        try:
            # until a read finds nothing (the adverts a master sends together keep arriving
            # while the first ones are handled: reading again is cheaper than a wake-up)
            total = 0
            while total < 64:
                if total:
                    self.rx_at = time.monotonic()   # (these arrived after the last read)
                cnt = rb.read()
                if not cnt:
                    return False
                total += cnt
                for i in range(cnt):
                    used, _flags, n = meta(hdr, i * STRIDE + META_OFF)
                    if used:
                        self._overflowed(rb.ancillary(i, used), rb.fd, lane)
                    if lane:
                        self.lane_received += 1
                    b = i * SLOT
                    if 20 < n <= SLOT and buf[b] == 0x45 and buf[b + 9] == IPPROTO_VRRP and \
                            (buf[b + 2] << 8 | buf[b + 3]) == n:
                        ent = seen.get(bytes(view[b + 12:b + n]))
                        if ent is not None:
                            self._seen_again(ent, buf[b + 8])
                            continue
                    self._full4(rb.packet(i, n))
            return True
        finally:
            self._in_batch = False

    def _readable4_plain(self, sock: socket.socket, lane: bool) -> bool:
        """_readable4 with recvmsg, one packet per call."""
        recvmsg, seen = sock.recvmsg, self._seen
        for _ in range(64):
            try:
                data, anc, _flags, _addr = recvmsg(65535, _ANC)
            except OSError:                 # BlockingIOError: drained (EINTR is retried)
                return False
            if anc:
                self._overflowed(anc, sock.fileno(), lane)
            if lane:
                self.lane_received += 1
            n = len(data)
            ent = seen.get(data[12:]) if n > 20 and data[0] == 0x45 and data[9] == IPPROTO_VRRP \
                and (data[2] << 8 | data[3]) == n else None
            if ent is not None:
                self._seen_again(ent, data[8])
                continue
            self._full4(data)
        return True

    def _seen_again(self, ent: list[Any], ttl: int) -> None:
        """A packet whose bytes (addresses and payload) were decoded before: the TTL check,
        then the fast hook or the decoded advert delivered again."""
        self.received += 1
        if ttl != VRRP_TTL and ent[3]:                    # RFC 5798 §7.1
            self.drops[_BAD_TTL] += 1
            return
        hook = ent[4]
        if hook is not None and hook(ttl):
            return
        self._current = ent
        self.deliver(ent[2], ent[0], ent[1], ttl)
        self._current = None

    def _full4(self, data: bytes) -> None:
        """An IPv4 packet through the header parse and the decode; a good one is remembered
        by its bytes (`_seen`) and delivered."""
        try:
            ttl, src, dst, payload = decode_ipv4(data)
            self.received += 1
            adv = decode(payload, family=4, src=src, dst=dst)
        except DecodeError as e:
            self.drops[e.reason.counter] += 1
            return
        mcast = dst.is_multicast
        ent = [src, dst, adv, mcast, None]
        if data[0] == 0x45:
            seen = self._seen
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[data[12:]] = ent
        if mcast and ttl != VRRP_TTL:                             # RFC 5798 §7.1
            self.drops[_BAD_TTL] += 1
            return
        self._current = ent
        self.deliver(adv, src, dst, ttl)
        self._current = None

    def _readable6(self, sock: socket.socket, lane: bool) -> bool:
        """readable() for IPv6 VRRP: _readable4's batches and repeated-advert path.

        An IPv6 raw socket's packet is the VRRP payload alone; its source comes in the
        message's address, its destination (IPV6_PKTINFO) and hop limit (IPV6_HOPLIMIT) in the
        ancillary data, which the kernel lays out the same way every time: with no drop
        counter, pktinfo then hop limit, `_PLAIN6` bytes, whose headers are checked against
        `_HDR6` and whose values are then read at fixed offsets (anything else is parsed item
        by item: `_anc6`). A packet is remembered by its source, destination and payload bytes
        (`_seen`, as IPv4: the v3 checksum covers exactly those), so a repeated advert skips
        the address objects and the decode and goes to its hook or `deliver`."""
        rb = self._reader(sock, lane)
        if rb is None:
            return self._readable6_plain(sock, lane)
        seen, view, hdr, meta, ctl, names = self._seen, rb.view, rb.hdr, rb.meta, rb.ctl, \
            rb.names
        group = self.group.packed
        self._in_batch = True
        try:
            total = 0
            while total < 64:
                cnt = rb.read()
                if not cnt:
                    return False
                total += cnt
                for i in range(cnt):
                    used, _flags, n = meta(hdr, i * STRIDE + META_OFF)
                    c = i * CONTROL6
                    if used == _PLAIN6 and ctl[c:c + _HDR6_LEN] == _HDR6 and \
                            ctl[c + _HOP_HDR_OFF:c + _HOP_HDR_END] == _HOP_HDR6:
                        ttl = ctl[c + _HOP_OFF]
                        dst: bytes | memoryview = ctl[c + _DST_OFF:c + _DST_OFF + 16]
                    else:
                        ttl, dst = self._anc6(rb.ancillary(i, used), rb.fd, lane, group)
                    if lane:
                        self.lane_received += 1
                    b, a = i * SIZE6, i * NAME6 + 8
                    if n > SIZE6:                   # (no VRRP packet: see rxbatch.py)
                        self._full6(names[a:a + 16], dst, rb.packet(i, n), ttl)
                        continue
                    key = b"".join((names[a:a + 16], dst, view[b:b + n]))
                    ent = seen.get(key)
                    if ent is not None:
                        self._seen_again(ent, ttl)
                        continue
                    self._full6(names[a:a + 16], dst, key[32:], ttl, key)
            return True
        finally:
            self._in_batch = False

    def _readable6_plain(self, sock: socket.socket, lane: bool) -> bool:
        """_readable6 with recvmsg, one packet per call."""
        recvmsg, seen, group, fd = sock.recvmsg, self._seen, self.group.packed, sock.fileno()
        for _ in range(64):
            try:
                data, anc, _flags, addr = recvmsg(65535, _ANC)
            except OSError:                 # BlockingIOError: drained (EINTR is retried)
                return False
            ttl, dst = self._anc6(anc, fd, lane, group)
            if lane:
                self.lane_received += 1
            try:
                src = socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0])
            except (OSError, IndexError, TypeError):
                continue                    # (a raw IPv6 socket always names the source)
            key = b"".join((src, dst, data))
            ent = seen.get(key)
            if ent is not None:
                self._seen_again(ent, ttl)
                continue
            self._full6(src, dst, data, ttl, key)
        return True

    def _anc6(self, anc: list[tuple[int, int, bytes]], fd: int, lane: bool, group: bytes
              ) -> tuple[int, bytes | memoryview]:
        """(hop limit, destination address bytes) of an IPv6 packet's ancillary items, the
        drop counter among them reported; VRRP_TTL and the socket's group where absent."""
        ttl, dst = VRRP_TTL, group
        self._overflowed(anc, fd, lane)
        for level, kind, value in anc:
            if level == socket.IPPROTO_IPV6:
                if kind == IPV6_HOPLIMIT and len(value) >= 4:
                    ttl = struct.unpack("@i", value[:4])[0]
                elif kind == IPV6_PKTINFO and len(value) >= 16:
                    dst = value[:16]
        return ttl, dst

    def _full6(self, src: bytes | memoryview, dst: bytes | memoryview, data: bytes, ttl: int,
               key: bytes | None = None) -> None:
        """An IPv6 packet through the decode; a good one is remembered by `key` (its source,
        destination and payload bytes; None: not remembered) and delivered."""
        self.received += 1
        s, d = ipaddress.IPv6Address(bytes(src)), ipaddress.IPv6Address(bytes(dst))
        try:
            adv = decode(data, family=6, src=s, dst=d)
        except DecodeError as e:
            self.drops[e.reason.counter] += 1
            return
        mcast = d.is_multicast
        ent = [s, d, adv, mcast, None]
        if key is not None and len(key) <= _SEEN_KEY_MAX:
            seen = self._seen
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[key] = ent
        if mcast and ttl != VRRP_TTL:                             # RFC 5798 §7.1
            self.drops[_BAD_TTL] += 1
            return
        self._current = ent
        self.deliver(adv, s, d, ttl)
        self._current = None
