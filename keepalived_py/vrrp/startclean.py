"""A clean start without a netlink round trip per instance (issue 16.1: exec -> all VIPs).

At a clean start the VRRP child releases everything of each instance before it starts it,
as keepalived 2.2.7 does (vrrp_restore_interfaces_startup: nothing of a previous run stays
on the interfaces). For the addresses, that is one RTM_DELADDR per address, answered by the
kernel with "not there" almost always. `present()` reads every address of every interface
once, with one RTM_GETADDR dump, before the instances start; `must_release` then says
whether an instance has anything to release: one of its addresses on its interface, routes,
rules, or a firewall entry. An instance with none skips the release (its outcome, "not
there", is known); any other releases as before. What is not known (a device without an
index, a dump that failed) releases as before.
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepalived_py.config.model import VrrpInstance
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

RTM_NEWADDR, RTM_GETADDR = 20, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFA_ADDRESS, IFA_LOCAL = 1, 2
_HDR = struct.Struct("=IHHII")          # nlmsghdr
_IFADDR = struct.Struct("=BBBBI")       # ifaddrmsg: family, prefixlen, flags, scope, index
_RTA = struct.Struct("=HH")

Present = set[tuple[int, bytes]]        # (interface index, the address's bytes)


def present(timeout: float = 2.0) -> Present | None:
    """Every address on every interface of this namespace; None if it could not be read."""
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    except OSError:
        return None
    try:
        s.settimeout(timeout)
        s.bind((0, 0))
        body = _IFADDR.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        s.send(_HDR.pack(16 + len(body), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body)
        out: Present = set()
        while True:
            done = parse(s.recv(1 << 16), out)
            if done is not None:
                return out if done else None
    except OSError:
        return None
    finally:
        s.close()


def parse(data: bytes, out: Present) -> bool | None:
    """Add the addresses of one read of the dump to `out`. True at its end, False at an
    error, None while more is to come."""
    off = 0
    while off + 16 <= len(data):
        length, mtype = _HDR.unpack_from(data, off)[:2]
        if length < 16 or off + length > len(data):
            return False
        if mtype == NLMSG_DONE:
            return True
        if mtype == NLMSG_ERROR:
            return False
        if mtype == RTM_NEWADDR and length >= 16 + _IFADDR.size:
            index = _IFADDR.unpack_from(data, off + 16)[4]
            a = off + 16 + _IFADDR.size
            end = off + length
            while a + 4 <= end:
                alen, atype = _RTA.unpack_from(data, a)
                if alen < 4:
                    break
                if atype in (IFA_ADDRESS, IFA_LOCAL):
                    out.add((index, bytes(data[a + 4:a + alen])))
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
    return None


def must_release(inst: VrrpInstance, found: Present, ifindex: Callable[[str], int | None],
                 held: Callable[[str], bool]) -> bool:
    """Whether the clean start of `inst` (no VMAC, no ipvlan: the caller's cases) has
    anything to release: routes, rules, a firewall entry, or an address on its device."""
    if inst.virtual_routes or inst.virtual_rules or held(inst.name):
        return True
    for a in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
        dev = a.dev or inst.interface
        index = ifindex(dev) if dev else None
        if index is None or (index, a.address.ip.packed) in found:
            return True
    return False


def runner_must_release(daemon: VrrpDaemon, r: Runner) -> bool:
    """VrrpDaemon's hook: whether runner `r`'s clean start releases (True unless the start's
    dump says it has nothing to; VMACs, ipvlan and per-address VMACs always do)."""
    found = daemon.start_addresses
    if found is None or r.vmac or r.cfg.use_ipvlan is not None or r.cfg.use_vmac is not None:
        return True
    from keepalived_py.vrrp import addr_vmac
    if addr_vmac.wanted(r.cfg):
        return True
    held = daemon.firewall.held
    return must_release(r.cfg, found, daemon.netlink.ifindex, held.__contains__)
