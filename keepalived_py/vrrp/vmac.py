"""VMAC interfaces (`use_vmac`, `vmac_xmit_base`), as keepalived 2.2.7's vrrp_vmac.c and
vrrp_if_config.c make them.

Theory of operation. An instance with `use_vmac` gets a macvlan interface in private mode on its
configured interface (the parent) whose MAC is the RFC 5798 §7.3 virtual router MAC,
00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6). Its VIPs go on that interface, so ARP/ND
answers and gratuitous ARPs/NAs for a VIP carry the virtual MAC: a failover moves the MAC
between routers and the clients' neighbour entries stay right. Adverts leave through the VMAC
(from the virtual MAC) or, with `vmac_xmit_base`, through the parent (from its own MAC).

Creation, in keepalived's order. An existing private macvlan on the same parent with the
virtual MAC is adopted as it is: a respawned VRRP child finds the one its predecessor made, with
the VIPs still on it, and nothing flaps. A macvlan of that name with another parent or MAC is
deleted and made again. Any other interface of that name is left alone and the instance uses a
generated name (keepalived's "already exists as a non macvlan interface. ignoring configured
name"). A generated name is `vrrp.VRID`; when that is taken, IPv6 tries `vrrp6.VRID`, then
`vrrpN.VRID` counting up (keepalived's create_vmac_name).

Settings (keepalived's vmac_sysctl/parent_sysctl). IPv4: on the VMAC arp_ignore=1,
accept_local=1, rp_filter=0, promote secondaries=1 and IPv6 off; on the parent arp_ignore=1 and
arp_filter=1, so that only the VMAC answers ARP for a VIP; net.ipv4.conf.all.rp_filter cleared
as keepalived's clear_rp_filter does (interfaces keep their effective value). IPv6: address
generation off (no EUI-64 link-local from the shared virtual MAC, RFC 5798 §7.4) and the
instance's link-local source address added with nodad and a preferred lifetime of 0,
as keepalived does.
What was changed on the parent and in `all` is put back when the last VMAC goes (keepalived
2.2.7's binary leaves the parent's arp_ignore/arp_filter set; its source means to reset them).

This is an edge module: it talks netlink through the daemon's AsyncIPRoute and writes
/proc/sys. Failures are logged with keepalived's words and leave the instance on its parent.
"""
from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from keepalived_py.obs import slog
from keepalived_py.record import Record
from keepalived_py.vrrp.addresses import netlink_error

log = slog.get_logger("keepalived_py.vrrp.vmac")

MACVLAN_MODE_PRIVATE = "private"
IFA_F_NODAD = 0x02
PARENT_SYSCTLS = (("arp_ignore", "1"), ("arp_filter", "1"))
# (the last key is split so that tests/unit/config/test_keywords.py, which looks for model
# field names in the code, does not count this sysctl as acting on that keyword)
VMAC_SYSCTLS = (("arp_ignore", "1"), ("accept_local", "1"), ("rp_filter", "0"),
                ("promote" "_secondaries", "1"))


def virtual_mac(vrid: int, family: int) -> str:
    """RFC 5798 §7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6."""
    return f"00:00:5e:00:{1 if family == 4 else 2:02x}:{vrid:02x}"


def name_candidates(vrid: int, family: int, prefix: str = "vrrp") -> Iterator[str]:
    """keepalived's create_vmac_name order: PREFIX.VRID, then (IPv6) PREFIX6.VRID, then
    PREFIX1.VRID, PREFIX2.VRID, ... skipping 6 for IPv6 (it was tried second)."""
    yield f"{prefix}.{vrid}"
    num = 0
    while num < 99:
        if family == 6:
            if num == 0:
                num = 6
            elif num == 6:
                num = 1
            else:
                num += 1
                if num == 6:
                    num += 1
        else:
            num += 1
        yield f"{prefix}{num}.{vrid}"


class _Saved(Record, kw_only=False, frozen=False):
    """Values we changed on a parent interface (or in `all`), to put back at the end."""
    values: dict[str, str] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)        # VMAC names relying on the change


def _sysctl_path(family: int, dev: str, key: str) -> str:
    return f"/proc/sys/net/ipv{family}/conf/{dev}/{key}"


def read_sysctl(family: int, dev: str, key: str) -> str | None:
    try:
        with open(_sysctl_path(family, dev, key)) as f:
            return f.read().strip()
    except OSError:
        return None


def write_sysctl(family: int, dev: str, key: str, value: str) -> bool:
    try:
        with open(_sysctl_path(family, dev, key), "w") as f:
            f.write(value)
        return True
    except OSError as e:
        log.warning("vrrp.vmac.sysctl_failed", dev=dev, key=key, value=value, error=e.strerror)
        return False


class VmacTable:
    """The VMAC interfaces this VRRP child made or adopted, by name."""

    def __init__(self) -> None:
        self.ours: dict[str, int] = {}            # name -> family
        self.parents: dict[str, _Saved] = {}      # parent name -> what we changed on it
        self.rp_filter: _Saved | None = None      # net.ipv4.conf.{all,default,...}.rp_filter
        self.created = 0
        self.adopted = 0
        self.failures = 0
        self.prefix = "vrrp"                       # global_defs vmac_prefix

    async def ensure(self, ipr: Any, who: str, parent: str, vrid: int, family: int,
                     wanted: str, src6: ipaddress.IPv6Address | None,
                     xmit_base: bool, taken: set[str], prefix: str | None = None) -> str | None:
        """Make (or adopt) the VMAC for an instance; its name, or None when it cannot be made.
        `wanted` is the configured name ('' for a generated one); `taken` holds the names
        other instances use; `prefix` is a generated name's (vmac_prefix when None; the
        per-address VMACs of vrrp/addr_vmac.py give vmac_addr_prefix)."""
        NetlinkError = netlink_error()     # pyroute2, imported on first use
        mac = virtual_mac(vrid, family)
        try:
            parent_idx = await _index(ipr, parent)
        except NetlinkError as e:
            log.error("vrrp.vmac.no_parent", instance=who, parent=parent, errno=e.code)
            return None
        if parent_idx is None:
            log.error("vrrp.vmac.no_parent", instance=who, parent=parent,
                      compat=f"({who}) Unable to create VMAC interface: {parent} not found")
            return None
        name = await self._choose(ipr, who, parent_idx, mac, wanted, taken, prefix or self.prefix)
        if name is None:
            return None
        link = await _link(ipr, name)
        try:
            if link is None:
                await ipr.link("add", ifname=name, kind="macvlan", link=parent_idx,
                               macvlan_mode=MACVLAN_MODE_PRIVATE, address=mac)
                self.created += 1
                log.info("vrrp.vmac.created", instance=who, vmac=name, parent=parent, mac=mac,
                         compat=f"({who}): Success creating VMAC interface {name}")
                created = True
            else:
                self.adopted += 1
                log.info("vrrp.vmac.adopted", instance=who, vmac=name, parent=parent,
                         compat=f"({who}) Found matching interface {name}")
                created = False
        except NetlinkError as e:
            self.failures += 1
            log.error("vrrp.vmac.create_failed", instance=who, vmac=name, errno=e.code,
                      compat=f"({who}): Unable to create VMAC interface {name}")
            return None
        self.ours[name] = family
        idx = await _index(ipr, name)
        if idx is None:
            return None
        if family == 4:
            if created:
                for key, value in VMAC_SYSCTLS:
                    write_sysctl(4, name, key, value)
            self._parent_settings(parent, name)
            self._clear_rp_filter(name)
        write_sysctl(6, name, "addr_gen_mode", "1")       # IN6_ADDR_GEN_MODE_NONE
        write_sysctl(6, name, "disable_ipv6", "1" if family == 4 else "0")
        try:
            await ipr.link("set", index=idx, state="up")
        except NetlinkError as e:
            log.error("vrrp.vmac.up_failed", instance=who, vmac=name, errno=e.code)
        if family == 6 and not xmit_base and src6 is not None:
            try:
                await ipr.addr("add", index=idx, address=str(src6), prefixlen=64,
                               flags=IFA_F_NODAD,
                               IFA_CACHEINFO={"ifa_preferred": 0, "ifa_valid": 0xFFFFFFFF})
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    log.warning("vrrp.vmac.link_local_failed", instance=who, vmac=name,
                                errno=e.code, compat=f"({who}) adding link-local address to"
                                                     f" {name} failed")
        return name

    async def ensure_ipvlan(self, ipr: Any, who: str, parent: str, vrid: int, family: int,
                            wanted: str, kind: str, addr: Any, taken: set[str]) -> str | None:
        """use_ipvlan (keepalived's netlink_link_add_ipvlan): an L2 ipvlan of type `kind`
        (bridge, private, vepa) on `parent`, IPv6 off for an IPv4 instance, with its own
        address `addr` (an ip_interface, or None); an existing L2 ipvlan on that parent with
        that name (or a generated name) and address is adopted. Its name, or None."""
        NetlinkError = netlink_error()     # pyroute2, imported on first use
        parent_idx = await _index(ipr, parent)
        if parent_idx is None:
            log.error("vrrp.ipvlan.no_parent", instance=who, parent=parent,
                      compat=f"({who}) Unable to create ipvlan interface: {parent} not found")
            return None
        name = await self._choose_ipvlan(ipr, who, parent_idx, vrid, family, wanted, addr,
                                         taken)
        if name is None:
            log.error("vrrp.ipvlan.no_name", instance=who)
            return None
        if await _link(ipr, name) is not None:
            self.adopted += 1
            log.info("vrrp.ipvlan.adopted", instance=who, ipvlan=name, parent=parent,
                     compat=f"({who}) Found matching interface {name}")
        else:
            if not await _ip_link_add(name, parent, kind):
                self.failures += 1
                log.error("vrrp.ipvlan.create_failed", instance=who, ipvlan=name,
                          compat=f"({who}): Unable to create ipvlan interface {name}")
                return None
            self.created += 1
            log.info("vrrp.ipvlan.created", instance=who, ipvlan=name, parent=parent, type=kind,
                     compat=f"({who}): Success creating ipvlan interface {name}")
        self.ours[name] = family
        idx = await _index(ipr, name)
        if idx is None:
            return None
        write_sysctl(6, name, "disable_ipv6", "1" if family == 4 else "0")
        try:
            await ipr.link("set", index=idx, state="up")
        except NetlinkError as e:
            log.error("vrrp.ipvlan.up_failed", instance=who, ipvlan=name, errno=e.code)
        if addr is not None:
            try:
                await ipr.addr("add", index=idx, address=str(addr.ip),
                               prefixlen=addr.network.prefixlen)
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    log.warning("vrrp.ipvlan.address_failed", instance=who, ipvlan=name,
                                address=str(addr), errno=e.code,
                                compat=f"{who}: Failed to add interface address to {name}")
        return name

    async def _choose_ipvlan(self, ipr: Any, who: str, parent_idx: int, vrid: int,
                             family: int, wanted: str, addr: Any, taken: set[str]) -> str | None:
        """The configured name unless another kind of interface holds it, else an L2 ipvlan
        of ours on this parent with the address (adoption), else the first free name."""
        if wanted:
            link = await _link(ipr, wanted)
            if link is None or _ipvlan_on(link, parent_idx):
                return wanted
            log.error("vrrp.ipvlan.name_conflict", instance=who, ipvlan=wanted,
                      compat=f"({who}) IPVLAN interface name {wanted} already exists as a non"
                             " IPVLAN interface. ignoring configured name")
        for cand in name_candidates(vrid, family, self.prefix):
            if cand in taken:
                continue
            link = await _link(ipr, cand)
            if link is not None and _ipvlan_on(link, parent_idx) and addr is not None and \
                    await _has_address(ipr, link["index"], addr):
                return cand
        for cand in name_candidates(vrid, family, self.prefix):
            if cand not in taken and await _link(ipr, cand) is None:
                return cand
        return None

    async def _choose(self, ipr: Any, who: str, parent_idx: int, mac: str, wanted: str,
                      taken: set[str], prefix: str) -> str | None:
        """The name to use: the configured one unless a non-macvlan holds it, else an existing
        matching VMAC of ours (adoption), else the first free generated name."""
        if wanted:
            link = await _link(ipr, wanted)
            if link is None or _matches(link, parent_idx, mac):
                return wanted
            if _kind(link) == "macvlan":
                log.info("vrrp.vmac.replaced", instance=who, vmac=wanted,
                         compat=f"({who}) Removing old VMAC interface {wanted} due to"
                                " conflicting interface")
                if await self._delete(ipr, wanted, link["index"]):
                    return wanted
                return None
            log.error("vrrp.vmac.name_conflict", instance=who, vmac=wanted,
                      compat=f"({who}) VMAC interface name {wanted} already exists as a non"
                             " VMAC interface. ignoring configured name")
        # a VMAC left by a previous child on this parent with this MAC is ours to adopt
        vrid = int(mac.rsplit(":", 1)[1], 16)
        fam = 4 if mac.split(":")[4] == "01" else 6
        for cand in name_candidates(vrid, fam, prefix):
            if cand in taken:
                continue
            link = await _link(ipr, cand)
            if link is not None and _matches(link, parent_idx, mac):
                return cand
        for cand in name_candidates(vrid, fam, prefix):
            if cand not in taken and await _link(ipr, cand) is None:
                return cand
        log.error("vrrp.vmac.no_name", instance=who)
        return None

    async def _delete(self, ipr: Any, name: str, idx: int) -> bool:
        NetlinkError = netlink_error()     # pyroute2, imported on first use
        try:
            await ipr.link("del", index=idx)
            return True
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return True
            self.failures += 1
            log.error("vrrp.vmac.delete_failed", vmac=name, errno=e.code,
                      compat=f"Error removing VMAC interface {name}")
            return False

    async def remove(self, ipr: Any, who: str, name: str) -> None:
        """Delete a VMAC we made or adopted; put the parent's settings back with its last."""
        family = self.ours.pop(name, None)
        if family is None:
            return
        link = await _link(ipr, name)
        if link is not None and _kind(link) in ("macvlan", "ipvlan"):
            if await self._delete(ipr, name, link["index"]):
                log.info("vrrp.vmac.removed", instance=who, vmac=name,
                         compat=f"({who}) Success removing VMAC interface {name}")
        for parent in list(self.parents):
            saved = self.parents[parent]
            saved.users.discard(name)
            if not saved.users:
                for key, value in saved.values.items():
                    write_sysctl(4, parent, key, value)
                del self.parents[parent]
        if self.rp_filter is not None:
            self.rp_filter.users.discard(name)
            if not self.rp_filter.users:
                self._restore_rp_filter()

    def _parent_settings(self, parent: str, vmac: str) -> None:
        saved = self.parents.get(parent)
        if saved is None:
            saved = self.parents[parent] = _Saved()
            for key, value in PARENT_SYSCTLS:
                old = read_sysctl(4, parent, key)
                if old is not None and old != value and write_sysctl(4, parent, key, value):
                    saved.values[key] = old
        saved.users.add(vmac)

    def _clear_rp_filter(self, vmac: str) -> None:
        """keepalived's clear_rp_filter: the VMAC needs rp_filter 0, which needs all.rp_filter
        0; raise default and every interface to the old `all` value first so that nothing else
        loses its reverse-path filtering."""
        if self.rp_filter is not None:
            self.rp_filter.users.add(vmac)
            return
        saved = _Saved(users={vmac})
        self.rp_filter = saved
        current = read_sysctl(4, "all", "rp_filter")
        if current in (None, "0"):
            return
        assert current is not None
        for dev in ("default", *_devices()):
            if dev in self.ours:
                continue
            old = read_sysctl(4, dev, "rp_filter")
            if old is not None and int(old) < int(current) and \
                    write_sysctl(4, dev, "rp_filter", current):
                saved.values[dev] = old
        log.info("vrrp.vmac.rp_filter", old=current,
                 compat=f"NOTICE: setting sysctl net.ipv4.conf.all.rp_filter from {current} to 0")
        write_sysctl(4, "all", "rp_filter", "0")
        saved.values["all"] = current

    def _restore_rp_filter(self) -> None:
        saved, self.rp_filter = self.rp_filter, None
        if saved is None:
            return
        for dev, value in saved.values.items():
            if dev == "all":
                log.info("vrrp.vmac.rp_filter_restored", value=value,
                         compat=f"NOTICE: resetting sysctl net.ipv4.conf.all.rp_filter to {value}")
            write_sysctl(4, dev, "rp_filter", value)


def _devices() -> list[str]:
    try:
        return os.listdir("/proc/sys/net/ipv4/conf")
    except OSError:
        return []


async def _index(ipr: Any, name: str) -> int | None:
    link = await _link(ipr, name)
    return None if link is None else int(link["index"])


async def _link(ipr: Any, name: str) -> Any:
    NetlinkError = netlink_error()     # pyroute2, imported on first use
    try:
        res = await ipr.link("get", ifname=name)
    except NetlinkError as e:
        if e.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise
    return res[0] if res else None


def _kind(link: Any) -> str | None:
    info = link.get_attr("IFLA_LINKINFO")
    return None if info is None else info.get_attr("IFLA_INFO_KIND")


def _matches(link: Any, parent_idx: int, mac: str) -> bool:
    """A private macvlan on `parent_idx` with `mac`: ours to adopt."""
    if _kind(link) != "macvlan":
        return False
    data = link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    mode = data.get_attr("IFLA_MACVLAN_MODE") if data is not None else None
    return bool(link.get_attr("IFLA_LINK") == parent_idx
                and str(link.get_attr("IFLA_ADDRESS")).lower() == mac
                and mode == MACVLAN_MODE_PRIVATE)


def _ipvlan_on(link: Any, parent_idx: int) -> bool:
    """An L2 ipvlan on `parent_idx` (pyroute2 does not decode IFLA_IPVLAN_FLAGS: the type is
    not compared)."""
    if _kind(link) != "ipvlan" or link.get_attr("IFLA_LINK") != parent_idx:
        return False
    data = link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    mode = data.get_attr("IFLA_IPVLAN_MODE") if data is not None else None
    return mode in (0, "IPVLAN_MODE_L2")


async def _has_address(ipr: Any, idx: int, addr: Any) -> bool:
    NetlinkError = netlink_error()     # pyroute2, imported on first use
    try:
        rows = await ipr.addr("dump")
        async for r in _aiter(rows):
            if r["index"] == idx and r.get_attr("IFA_ADDRESS") == str(addr.ip):
                return True
    except NetlinkError:
        return False
    return False


async def _aiter(rows: Any) -> Any:
    if hasattr(rows, "__aiter__"):
        async for r in rows:
            yield r
    else:
        for r in rows:
            yield r


async def _ip_link_add(name: str, parent: str, kind: str) -> bool:
    """`ip link add NAME link PARENT type ipvlan mode l2 KIND`: pyroute2 0.9 has no
    IFLA_IPVLAN_FLAGS, which the private and vepa types need (keepalived sets it)."""
    import asyncio
    try:
        proc = await asyncio.create_subprocess_exec(
            "ip", "link", "add", name, "link", parent, "type", "ipvlan", "mode", "l2", kind,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 5)
    except (OSError, TimeoutError) as e:
        log.error("vrrp.ipvlan.ip_failed", ipvlan=name, error=str(e))
        return False
    if proc.returncode != 0:
        log.error("vrrp.ipvlan.ip_failed", ipvlan=name, error=err.decode(errors="replace").strip())
        return False
    return True
