"""`use_ipvlan [NAME] [ADDRESS[/PREFIX]] [bridge|private|vepa]` of a vrrp_instance, as keepalived
2.2.7 reads and completes it (vrrp_parser.c vrrp_ipvlan_handler, vrrp.c vrrp_complete_instance).

The instance gets an ipvlan interface in L2 mode on its interface (vrrp/vmac.py makes it): the
VIPs go there and the adverts leave from it. An ipvlan shares its parent's MAC, so unlike a
VMAC it moves no MAC address; its own ADDRESS is the adverts' source (keepalived copies it into
the source address unless mcast_src_ip/unicast_src_ip gave one). An IPv4 instance needs that
address: without it, or with one of the other family, the instance stays in FAULT (keepalived's
num_config_faults). Pure: words in, fields and keepalived's messages out.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from keepalived_py.config.tree import Diagnostics, Node

IFNAMSIZ = 16
TYPES = ("bridge", "private", "vepa")       # IFLA_IPVLAN_FLAGS 0, IPVLAN_F_PRIVATE, IPVLAN_F_VEPA


def _address(word: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        return None


def read(c: Node, vid: str, f: dict[str, Any], other_names: dict[str, str],
         is_l2_ipvlan: Callable[[str], bool | None], d: Diagnostics) -> None:
    """One use_ipvlan line into the draft fields `f` (use_ipvlan: the name, '' for a generated
    one; ipvlan_type; ipvlan_addr). `other_names`: VMAC/ipvlan name -> the instance using it;
    `is_l2_ipvlan(name)`: None when no such interface (or interfaces are not checked)."""
    if f.get("use_ipvlan") is not None:
        d.error(c.pos, f"{vid} use_ipvlan already specified")
        return
    f["use_ipvlan"] = ""
    had_type = False
    for word in c.args:
        if word in TYPES:
            if had_type:
                d.error(c.pos, f"{vid} ipvlan type already specified - ignoring '{word}'")
            else:
                f["ipvlan_type"] = word
                had_type = True
            continue
        addr = _address(word)
        if addr is not None:
            if f.get("ipvlan_addr") is not None:
                d.error(c.pos, f"{vid} ipvlan address already specified - ignoring '{word}'")
                continue
            vips = f.get("virtual_ipaddress") or ()
            if vips and vips[0].address.version != addr.version:
                d.error(c.pos, f"{vid} ipvlan address[{word}] MUST match vrrp instance family"
                               " !!! Skipping...")
                continue
            f["ipvlan_addr"] = addr
            continue
        if f["use_ipvlan"]:
            d.error(c.pos, f"{vid} IPVLAN interface already specified - ignoring '{word}'")
            continue
        if len(word) >= IFNAMSIZ:
            d.error(c.pos, f"{vid} IPVLAN interface name '{word}' too long - ignoring")
            continue
        if word in other_names:
            d.error(c.pos, f"{vid} VRRP instance {other_names[word]} is already using {word}"
                           " - ignoring name")
            continue
        if is_l2_ipvlan(word) is False:
            d.error(c.pos, f"{vid} interface {word} already exists and is not an l2 ipvlan;"
                           " ignoring ipvlan if_name")
            continue
        f["use_ipvlan"] = word


def complete(inst: Any, f: dict[str, Any], d: Diagnostics) -> None:
    """vrrp_complete_instance's part for the VrrpInstance `inst` being resolved into `f`: the
    config fault of an IPv4 ipvlan without an address (or with one of the other family) and
    the address as the adverts' source."""
    if inst.promote_secondaries and (inst.use_vmac is not None or inst.use_ipvlan is not None):
        d.error(inst.pos, f"({inst.name}) promote_secondaries is automatically set for vmacs -"
                          " ignoring")
        f["promote_secondaries"] = False
    if inst.use_ipvlan is None:
        return
    vid, addr, family = f"({inst.name})", inst.ipvlan_addr, f.get("family", inst.family)
    if family == 4 and addr is None:
        d.error(inst.pos, f"{vid} IPv4 ipvlan requires a source ip address to be configured."
                          " setting instance to fault state")
        f["ipvlan_fault"] = True
    elif addr is not None and addr.version != family:
        d.error(inst.pos, f"{vid} IPv4 ipvlan address family does not match instance. setting"
                          " instance to fault state")
        f["ipvlan_fault"] = True
    elif addr is not None and inst.mcast_src_ip is None and inst.unicast_src_ip is None:
        f["unicast_src_ip" if inst.unicast_peer else "mcast_src_ip"] = addr.ip


def is_l2_ipvlan(name: str) -> bool | None:
    """Whether an existing interface is an L2 ipvlan (ip -d -j link, as sysfs does not tell the
    link kind); None when there is no such interface."""
    import json
    import subprocess
    try:
        res = subprocess.run(["ip", "-d", "-j", "link", "show", "dev", name],
                             capture_output=True, text=True, timeout=2)
        if res.returncode != 0:
            return None
        info = json.loads(res.stdout or "[]")[0].get("linkinfo", {})
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, AttributeError):
        return None
    return bool(info.get("info_kind") == "ipvlan"
                and info.get("info_data", {}).get("mode") == "l2")


def address_vmacs(inst: Any, f: dict[str, Any], d: Diagnostics) -> bool:
    """A virtual_ipaddress/_excluded entry's own `use_vmac` (vrrp.c vrrp_complete_instance):
    on the instance's interface and family with the instance's use_vmac it says nothing more
    (keepalived's error); with use_vmac_addr on another interface or family it is redundant
    (its error too). True when an address still asks for a VMAC of its own (made by
    vrrp/addr_vmac.py)."""
    vid, family = f"({inst.name})", f.get("family", inst.family)
    wants = False
    for a in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
        if not a.use_vmac:
            continue
        elsewhere = a.dev not in (None, inst.interface) or a.address.version != family
        if not elsewhere and inst.use_vmac is not None:
            d.error(inst.pos, f"{vid} use_vmac specified for VIP/eVIP {a.address} and vrrp"
                              " instance")
        elif elsewhere and inst.use_vmac_addr:
            d.error(inst.pos, f"{vid} use_vmac_addr specified and use_vmac specified for"
                              f" VIP/eVIP {a.address}")
        else:
            wants = True
    return wants


def address_vmac_wants(interface: str | None, family: int, instance_vmac: bool,
                       use_vmac_addr: bool, addresses: Any) -> list[tuple[int, str, int]]:
    """(position, interface, family) of each address of `addresses` (virtual_ipaddress then
    virtual_ipaddress_excluded) that gets a VMAC of its own (vrrp.c vrrp_complete_instance):
    on the instance's interface and family it goes on the instance's VMAC if there is one,
    else on the interface unless it says use_vmac; elsewhere (another interface, the other
    family) it gets one with use_vmac or the instance's use_vmac_addr. vrrp/addr_vmac.py
    makes them; resolve_garp_extra_if (config/vrrp_keywords.py) counts them."""
    out = []
    for n, a in enumerate(addresses):
        fam = a.address.version
        if a.dev is None or a.dev == interface:
            if instance_vmac and fam == family:
                continue                    # on the instance's own VMAC
            need = a.use_vmac or (use_vmac_addr and fam != family)
        else:
            need = a.use_vmac or use_vmac_addr
        dev = a.dev or interface
        if need and dev:
            out.append((n, dev, fam))
    return out
