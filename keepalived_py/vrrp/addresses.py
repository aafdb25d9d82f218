"""Virtual addresses, routes and rules through netlink (pyroute2's asyncio API).

"Already there" on add (EEXIST) and "already gone" on delete (EADDRNOTAVAIL, ENOENT, ESRCH)
are success (keepalived_py/kernel_errno.py, the rule the checker's dataplanes use too): the
kernel may race us, an operator may have done it by hand. Other failures are logged with the
object and errno and counted; they never stop the instance.
"""
from __future__ import annotations

import errno
import importlib
import importlib.util
import ipaddress
import socket
import sys
from collections.abc import Iterable

import structlog


def _pyroute2_without_its_init() -> None:
    """Make `pyroute2.x.y` importable without running pyroute2/__init__.py first.

    pyroute2's __init__ imports every part of the library (IPDB, NDB, conntrack, ethtool,
    nftables, wireguard, psutil...): twice the CPU of the few modules the VRRP child uses,
    on the path between exec and the first VIP. The package module is created empty; its
    real __init__ runs on the first attribute it does not have (`from pyroute2 import
    IPVS` elsewhere still works). Nothing happens if pyroute2 is already imported."""
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    pkg = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def whole(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")     # a submodule: just it
        del pkg.__dict__["__getattr__"]
        loader.exec_module(pkg)
        return getattr(pkg, name)
    pkg.__getattr__ = whole  # type: ignore[method-assign]
    sys.modules["pyroute2"] = pkg


_pyroute2_without_its_init()
from pyroute2.iproute.linux import AsyncIPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK  # noqa: E402

from keepalived_py.config.model import VirtualAddress, VirtualRoute, VirtualRule  # noqa: E402
from keepalived_py.core.eager import start_now  # noqa: E402
from keepalived_py.kernel_errno import already_done  # noqa: E402  (the one errno rule)

log = structlog.get_logger("keepalived_py.vrrp.addresses")

SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
IFA_F_NODAD, IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR = 0x02, 0x10, 0x100
IFA_F_NOPREFIXROUTE = 0x200
RTPROT_KEEPALIVED = 18            # keepalived's routes and rules show `proto keepalived`


class Netlink:
    """One AsyncIPRoute for commands, one bound to link/address events."""

    def __init__(self) -> None:
        self.ipr: AsyncIPRoute | None = None
        self.events: AsyncIPRoute | None = None
        self.failures = 0
        self._ifindex: dict[str, int] = {}

    async def open(self) -> None:
        self.ipr = AsyncIPRoute()
        self.events = AsyncIPRoute()
        await self.events.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)

    def close(self) -> None:
        for x in (self.ipr, self.events):
            if x is not None:
                x.close()
        self.ipr = self.events = None

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
        """Add or delete every address; returns how many failed for real. Every request is
        written to the netlink socket before the first await (a MASTER's addresses go out in
        the step that sent its advert), then the acknowledgements are collected."""
        assert self.ipr is not None
        steps = []
        failed = 0
        for a in addrs:
            dev = a.dev or default_dev
            idx = self.ifindex(dev)
            if idx is None:
                log.warning("vrrp.address.no_device", instance=who, address=str(a.address), dev=dev)
                failed += 1
                continue
            steps.append(start_now(self._address(add, a, idx, dev, who)))
        for done in steps:
            failed += await done
        return failed

    async def _address(self, add: bool, a: VirtualAddress, idx: int, dev: str, who: str) -> int:
        """One address request and its answer: 1 if it failed for real."""
        assert self.ipr is not None
        kw: dict[str, object] = {"index": idx, "address": str(a.address.ip),
                                 "prefixlen": a.address.network.prefixlen}
        if a.address.version == 4:
            if a.brd is not None:
                kw["broadcast"] = str(a.brd)
            if a.label:
                kw["label"] = a.label
        if a.scope:
            kw["scope"] = SCOPES.get(a.scope, int(a.scope) if a.scope.isdigit() else 0)
        flags = 0
        if a.nodad or (a.address.version == 6 and add):
            flags |= IFA_F_NODAD
        if a.home:
            flags |= IFA_F_HOMEADDRESS
        if a.mngtmpaddr:
            flags |= IFA_F_MANAGETEMPADDR
        if a.noprefixroute:
            flags |= IFA_F_NOPREFIXROUTE
        if flags and add:
            kw["flags"] = flags
        if a.peer is not None:
            kw["local"] = kw["address"]
            kw["address"] = str(a.peer.ip)
        try:
            await self.ipr.addr("add" if add else "del", **kw)
        except NetlinkError as e:
            if already_done(add, e.code):
                return 0
            self.failures += 1
            log.error("vrrp.address.failed", instance=who, op="add" if add else "del",
                      address=str(a.address), dev=dev, errno=e.code,
                      compat=f"({who}) cannot {'add' if add else 'delete'} {a.address}"
                             f" {'to' if add else 'from'} {dev}: {errno.errorcode.get(e.code, e.code)}")
            return 1
        return 0

    async def set_routes(self, add: bool, routes: Iterable[VirtualRoute], default_dev: str | None,
                         who: str) -> None:
        assert self.ipr is not None
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
                await self.ipr.route("add" if add else "del", **kw)
            except NetlinkError as e:
                if already_done(add, e.code):
                    continue
                self.failures += 1
                log.error("vrrp.route.failed", instance=who, route=str(r.dst), errno=e.code)

    async def set_rules(self, add: bool, rules: Iterable[VirtualRule], who: str) -> None:
        assert self.ipr is not None
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
                await self.ipr.rule("add" if add else "del", **kw)
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
