"""Virtual addresses, routes and rules through netlink.

Addresses — the failover path — go through a small rtnetlink socket of this module
(`_Rtnl`): the requests are built with struct, sent as one batch and their acks read back,
with no library between a state change and the kernel. Link and address events come from a
second small socket (`LinkEvents`). pyroute2 (its asyncio API) is imported only for what
is rarer: routes, rules, VMAC interfaces (`Netlink.ipr`, created on first use).

"Already there" on add (EEXIST) and "already gone" on delete (EADDRNOTAVAIL, ENOENT, ESRCH)
are success (keepalived_py/kernel_errno.py, the rule the checker's dataplanes use too): the
kernel may race us, an operator may have done it by hand. Other failures are logged with the
object and errno and counted; they never stop the instance.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import struct
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import VirtualAddress, VirtualRoute, VirtualRule
from keepalived_py.config.model_process import RcvBufs
from keepalived_py.core.rcvbufs import apply_rcvbuf
from keepalived_py.kernel_errno import already_done  # the one errno rule (also check/)
from keepalived_py.obs import slog
from keepalived_py.pyroute2_parts import pyroute2_without_its_init as _pyroute2_without_its_init

if TYPE_CHECKING:
    from pyroute2.iproute.linux import AsyncIPRoute

    class NetlinkErrorType(Exception):
        """What the daemon reads of pyroute2's NetlinkError (pyroute2 ships no types)."""
        code: int               # the kernel's errno


def netlink_error() -> type[NetlinkErrorType]:
    """pyroute2's NetlinkError (imported on first need: only pyroute2 calls raise it)."""
    _pyroute2_without_its_init()
    from pyroute2.netlink.exceptions import NetlinkError
    return NetlinkError  # type: ignore[no-any-return]


log = slog.get_logger("keepalived_py.vrrp.addresses")

SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
IFA_F_NODAD, IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR = 0x02, 0x10, 0x100
IFA_F_NOPREFIXROUTE, IFA_F_MCAUTOJOIN = 0x200, 0x400
RTPROT_KEEPALIVED = 18            # keepalived's routes and rules show `proto keepalived`

# rtnetlink (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/if_link.h)
NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS = 1, 2, 3, 4, 6, 8
IFLA_IFNAME = 3
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x1, 0x10, 0x100
_HDR = struct.Struct("=IHHII")          # nlmsghdr: len, type, flags, seq, pid
_IFADDR = struct.Struct("=BBBBi")       # ifaddrmsg: family, prefixlen, flags, scope, index
_IFINFO = struct.Struct("=BxHiII")      # ifinfomsg: family, type, index, flags, change
_RTA = struct.Struct("=HH")
_ERR = struct.Struct("=i")
_EVENTS = {RTM_NEWLINK: "RTM_NEWLINK", RTM_DELLINK: "RTM_DELLINK",
           RTM_NEWADDR: "RTM_NEWADDR", RTM_DELADDR: "RTM_DELADDR"}
_BATCH = 32 << 10                      # bytes of requests per send (the socket's sndbuf is larger)


def _rta(kind: int, data: bytes) -> bytes:
    n = _RTA.size + len(data)
    return _RTA.pack(n, kind) + data + b"\0" * (-n & 3)


def address_request(add: bool, a: VirtualAddress, index: int) -> bytes:
    """The body (after nlmsghdr) of RTM_NEWADDR / RTM_DELADDR for `a` on `index`, with the
    attributes `ip addr add/del` sends: IFA_LOCAL and IFA_ADDRESS (IPv4; the peer's address
    as IFA_ADDRESS with `peer`), IFA_ADDRESS (IPv6), broadcast, label, IFA_FLAGS on add."""
    ip = a.address.ip
    v4 = ip.version == 4
    scope = 0
    if a.scope:
        scope = SCOPES.get(a.scope, int(a.scope) if a.scope.isdigit() else 0)
    attrs = []
    own = ip.packed
    if a.peer is not None:
        attrs.append(_rta(IFA_LOCAL, own))
        attrs.append(_rta(IFA_ADDRESS, a.peer.ip.packed))
    else:
        if v4:
            attrs.append(_rta(IFA_LOCAL, own))
        attrs.append(_rta(IFA_ADDRESS, own))
    if v4:
        if a.brd is not None:
            attrs.append(_rta(IFA_BROADCAST, a.brd.packed))
        if a.label:
            attrs.append(_rta(IFA_LABEL, a.label.encode() + b"\0"))
    flags = 0
    if not v4 and add:
        # keepalived adds IPv6 VIPs without DAD unless the address says -nodad (then the
        # kernel's DAD runs); IPv4 has no DAD. A preferred_lft other than forever (a /128's
        # default is 0: deprecated, never a source address) is IPv6 only (issue 12).
        if not a.nodad:
            flags |= IFA_F_NODAD
        if a.preferred_lft is not None:
            attrs.append(_rta(IFA_CACHEINFO, struct.pack("=IIII", a.preferred_lft,
                                                         0xFFFFFFFF, 0, 0)))
    if a.autojoin:
        flags |= IFA_F_MCAUTOJOIN
    if a.home:
        flags |= IFA_F_HOMEADDRESS
    if a.mngtmpaddr:
        flags |= IFA_F_MANAGETEMPADDR
    if a.noprefixroute:
        flags |= IFA_F_NOPREFIXROUTE
    if flags and add:
        attrs.append(_rta(IFA_FLAGS, struct.pack("=I", flags)))
    family = socket.AF_INET if v4 else socket.AF_INET6
    return _IFADDR.pack(family, a.address.network.prefixlen, 0, scope, index) + b"".join(attrs)


class _Rtnl:
    """A blocking NETLINK_ROUTE socket for requests: rtnetlink handles a request inside the
    send, so the acks are queued when it returns and reading them never waits (a timeout
    guards a kernel that would not answer)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(2.0)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, bodies: list[bytes]) -> list[int]:
        """Send every request (one message each, in as few sends as fit) and return the
        errno of each, in order (0: done)."""
        results = [0] * len(bodies)
        i = 0
        while i < len(bodies):
            first_seq = self.seq + 1
            chunk: list[bytes] = []
            size = 0
            j = i
            while j < len(bodies) and (not chunk or size + len(bodies[j]) + 16 <= _BATCH):
                self.seq = (self.seq + 1) & 0xFFFFFFFF
                body = bodies[j]
                chunk.append(_HDR.pack(16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK,
                                       self.seq, 0) + body)
                size += 16 + len(body)
                j += 1
            waiting = {(first_seq + k) & 0xFFFFFFFF: i + k for k in range(j - i)}
            try:
                self.sock.send(b"".join(chunk))
                while waiting:
                    data = self.sock.recv(65536)
                    off = 0
                    while off + 16 <= len(data):
                        length, mtype, _f, seq, _pid = _HDR.unpack_from(data, off)
                        if length < 16:
                            break
                        if mtype == NLMSG_ERROR and seq in waiting and off + 20 <= len(data):
                            results[waiting.pop(seq)] = -_ERR.unpack_from(data, off + 16)[0]
                        off += (length + 3) & ~3
            except OSError as e:             # (socket.timeout included)
                for k in waiting.values():
                    results[k] = e.errno or errno.ETIMEDOUT
            i = j
        return results


class RtMessage:
    """A link or address event, read as the daemon reads pyroute2's messages:
    msg.get("event" | "index" | "flags" | "family"), msg.get_attr("IFLA_IFNAME" |
    "IFA_ADDRESS" | "IFA_LOCAL" | "IFA_LABEL")."""

    __slots__ = ("attrs", "fields")

    def __init__(self, fields: dict[str, Any], attrs: dict[str, Any]) -> None:
        self.fields = fields
        self.attrs = attrs

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def get_attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def __repr__(self) -> str:
        return f"RtMessage({self.fields!r}, {self.attrs!r})"


def parse_events(data: bytes) -> list[RtMessage]:
    """The link and address messages of one netlink datagram (the others are skipped)."""
    out: list[RtMessage] = []
    off = 0
    n = len(data)
    while off + 16 <= n:
        length, mtype, _f, _seq, _pid = _HDR.unpack_from(data, off)
        if length < 16 or off + length > n:
            break
        event = _EVENTS.get(mtype)
        body = off + 16
        end = off + length
        attrs: dict[str, Any] = {}
        if event is not None and mtype in (RTM_NEWADDR, RTM_DELADDR) and body + 8 <= end:
            family, prefixlen, flags, scope, index = _IFADDR.unpack_from(data, body)
            fields = {"event": event, "family": family, "prefixlen": prefixlen,
                      "flags": flags, "scope": scope, "index": index}
            a = body + 8
            while a + 4 <= end:
                alen, atype = _RTA.unpack_from(data, a)
                if alen < 4 or a + alen > end:
                    break
                raw = data[a + 4:a + alen]
                if atype in (IFA_ADDRESS, IFA_LOCAL) and len(raw) in (4, 16):
                    attrs["IFA_ADDRESS" if atype == IFA_ADDRESS else "IFA_LOCAL"] = \
                        socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6,
                                         raw)
                elif atype == IFA_LABEL:
                    attrs["IFA_LABEL"] = raw.split(b"\0", 1)[0].decode(errors="replace")
                a += (alen + 3) & ~3
            out.append(RtMessage(fields, attrs))
        elif event is not None and body + 16 <= end:
            family, itype, index, flags, change = _IFINFO.unpack_from(data, body)
            fields = {"event": event, "family": family, "ifi_type": itype, "index": index,
                      "flags": flags, "change": change}
            a = body + 16
            while a + 4 <= end:
                alen, atype = _RTA.unpack_from(data, a)
                if alen < 4 or a + alen > end:
                    break
                if atype == IFLA_IFNAME:
                    attrs["IFLA_IFNAME"] = data[a + 4:a + alen].split(b"\0", 1)[0].decode(
                        errors="replace")
                a += (alen + 3) & ~3
            out.append(RtMessage(fields, attrs))
        off += (length + 3) & ~3
    return out


def _wake(ready: asyncio.Future[None]) -> None:
    """The reader callback of LinkEvents.get: the socket is readable (once per wait)."""
    if not ready.done():
        ready.set_result(None)


class LinkEvents:
    """Link and address events (RTMGRP_LINK and the IPv4/IPv6 address groups): `get()` yields
    the messages of every datagram queued when the socket becomes readable."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        self.sock.setblocking(False)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        self.sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        self.overruns = 0

    def close(self) -> None:
        self.sock.close()

    async def get(self) -> AsyncIterator[RtMessage]:
        loop = asyncio.get_running_loop()
        fd = self.sock.fileno()
        while True:
            ready = loop.create_future()
            loop.add_reader(fd, _wake, ready)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.ENOBUFS:      # events lost: the next ones still come
                        self.overruns += 1
                        continue
                    raise
                for msg in parse_events(data):
                    yield msg


class Netlink:
    """The daemon's netlink: addresses through `_Rtnl`, events from `LinkEvents`, and a
    pyroute2 AsyncIPRoute (`ipr`) for routes, rules and VMAC interfaces, made on first use."""

    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self.rtnl: _Rtnl | None = None
        self.events: LinkEvents | None = None
        self.failures = 0
        self._ifindex: dict[str, int] = {}
        self._cmd_bufs: RcvBufs | None = None

    async def open(self, cmd_bufs: RcvBufs | None = None,
                   monitor_bufs: RcvBufs | None = None) -> None:
        """`cmd_bufs`/`monitor_bufs`: global_defs vrrp_netlink_cmd_rcv_bufs and
        vrrp_netlink_monitor_rcv_bufs (with their _force), on the request socket (and on
        pyroute2's, made later for routes, rules and links) and on the event socket."""
        self.rtnl = _Rtnl()
        self.events = LinkEvents()
        self._cmd_bufs = cmd_bufs
        if cmd_bufs is not None and cmd_bufs.size:
            apply_rcvbuf(self.rtnl.sock, cmd_bufs, "vrrp netlink command")
        if monitor_bufs is not None:
            apply_rcvbuf(self.events.sock, monitor_bufs, "vrrp netlink monitor")

    @property
    def opened(self) -> bool:
        return self.rtnl is not None

    @property
    def ipr(self) -> AsyncIPRoute | None:
        """pyroute2's socket for routes, rules and links (None once closed)."""
        if self._ipr is None and self.rtnl is not None:
            _pyroute2_without_its_init()
            from pyroute2.iproute.linux import AsyncIPRoute
            self._ipr = AsyncIPRoute()
            if self._cmd_bufs is not None and self._cmd_bufs.size:
                apply_rcvbuf(self._ipr, self._cmd_bufs, "vrrp netlink command")
        return self._ipr

    def close(self) -> None:
        for x in (self._ipr, self.rtnl, self.events):
            if x is not None:
                x.close()
        self._ipr = self.rtnl = self.events = None

    def forget(self, ifname: str | None = None) -> None:
        if ifname is None:
            self._ifindex.clear()
        else:
            self._ifindex.pop(ifname, None)

    def learn(self, name: str, index: int | None) -> None:
        """A link message told `name`'s index: a re-created interface's new one replaces
        the cached one (its RTM_DELLINK may have been lost with an overrun socket)."""
        if index is None:
            self._ifindex.pop(name, None)
        elif self._ifindex.get(name, index) != index:
            self._ifindex[name] = index

    def ifindex(self, name: str) -> int | None:
        idx = self._ifindex.get(name)
        if idx is None:
            try:
                idx = socket.if_nametoindex(name)
            except OSError:
                return None
            self._ifindex[name] = idx
        return idx

    async def set_addresses(self, add: bool, addrs: Iterable[VirtualAddress], default_dev: str,
                            who: str) -> int:
        """Add or delete every address (one batch of requests); returns how many failed for
        real."""
        return self.set_addresses_many(add, [(addrs, default_dev, who)])[0]

    def set_addresses_many(self, add: bool,
                           jobs: list[tuple[Iterable[VirtualAddress], str, str]]) -> list[int]:
        """Several instances' address changes - (addresses, default device, instance) each -
        in one batch of requests (the takeovers of a burst: one send, not a round trip per
        instance; issue 16.4); returns how many failed for real, per job."""
        assert self.rtnl is not None
        failed = [0] * len(jobs)
        todo: list[tuple[int, VirtualAddress, str]] = []
        bodies: list[bytes] = []
        for k, (addrs, default_dev, who) in enumerate(jobs):
            for a in addrs:
                dev = a.dev or default_dev
                idx = self.ifindex(dev)
                if idx is None:
                    log.warning("vrrp.address.no_device", instance=who, address=str(a.address),
                                dev=dev)
                    failed[k] += 1
                    continue
                todo.append((k, a, dev))
                bodies.append(address_request(add, a, idx))
        if not bodies:
            return failed
        if add:
            codes = self.rtnl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, bodies)
        else:
            codes = self.rtnl.request(RTM_DELADDR, 0, bodies)
        for (k, a, dev), code in zip(todo, codes, strict=True):    # (request: one code a body)
            if code == 0 or already_done(add, code):
                continue
            failed[k] += 1
            self.failures += 1
            who = jobs[k][2]
            log.error("vrrp.address.failed", instance=who, op="add" if add else "del",
                      address=str(a.address), dev=dev, errno=code,
                      compat=f"({who}) cannot {'add' if add else 'delete'} {a.address}"
                             f" {'to' if add else 'from'} {dev}: {errno.errorcode.get(code, code)}")
        return failed

    async def set_routes(self, add: bool, routes: Iterable[VirtualRoute], default_dev: str | None,
                         who: str) -> None:
        ipr = self.ipr
        assert ipr is not None
        NetlinkError = netlink_error()
        for r in routes:
            kw: dict[str, object] = {"dst": str(r.dst), "proto": RTPROT_KEEPALIVED}
            dev = r.dev or None
            if dev:
                idx = self.ifindex(dev)
                if idx is not None:
                    kw["oif"] = idx
            if r.via is not None:
                kw["gateway"] = str(r.via)
            if r.src is not None:
                kw["prefsrc"] = str(r.src)
            if r.table is not None:
                kw["table"] = r.table
            if r.metric is not None:
                kw["priority"] = r.metric
            if r.type and r.type != "unicast":
                kw["type"] = r.type
            if r.scope:
                kw["scope"] = SCOPES.get(r.scope, 0)
            if r.dst.version == 6:
                kw["family"] = socket.AF_INET6
            try:
                await ipr.route("add" if add else "del", **kw)
            except NetlinkError as e:
                if already_done(add, e.code):
                    continue
                self.failures += 1
                log.error("vrrp.route.failed", instance=who, route=str(r.dst), errno=e.code)

    async def set_rules(self, add: bool, rules: Iterable[VirtualRule], who: str) -> None:
        ipr = self.ipr
        assert ipr is not None
        NetlinkError = netlink_error()
        for r in rules:
            kw: dict[str, object] = {}
            fam = socket.AF_INET
            for key, net in (("src", r.from_), ("dst", r.to)):
                if net is not None:
                    kw[key] = str(net.network_address)
                    kw[f"{key}_len"] = net.prefixlen
                    if net.version == 6:
                        fam = socket.AF_INET6
            if r.family == 6:
                fam = socket.AF_INET6
            kw["family"] = fam
            kw["protocol"] = RTPROT_KEEPALIVED
            if r.table is not None:
                kw["table"] = r.table
            if r.priority is not None:
                kw["priority"] = r.priority
            try:
                await ipr.rule("add" if add else "del", **kw)
            except NetlinkError as e:
                if already_done(add, e.code):
                    continue
                self.failures += 1
                log.error("vrrp.rule.failed", instance=who, errno=e.code)


def primary_address(ifname: str, family: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The interface's first address of `family` (IPv6: its link-local), as keepalived picks
    the source of its adverts. Read from the kernel through the sysfs-free ioctl-less path:
    pyroute2 would need a loop here, so this uses `ip -j addr`-free parsing of /proc for v6
    and a netlink-free socket trick for v4."""
    import fcntl
    import struct
    if family == 4:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            res = fcntl.ioctl(s.fileno(), 0x8915,               # SIOCGIFADDR
                              struct.pack("256s", ifname.encode()[:15]))
            return ipaddress.IPv4Address(res[20:24])
        except OSError:
            return None
        finally:
            s.close()
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5] == ifname and parts[0].startswith("fe80"):
                    return ipaddress.IPv6Address(int(parts[0], 16))
    except OSError:
        return None
    return None
