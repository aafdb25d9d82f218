"""vrrp_instance blocks -> VrrpInstance as configured: one handler per keyword (INSTANCE),
keepalived 2.2.7's vrrp_parser.c ranges and messages. What depends on other blocks is
resolved later (build_resolve.py). Called by build.py's Builder (b.instances)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keepalived_py.config import ipvlan, lvs_globals
from keepalived_py.config import keywords as kw
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.model import (
    Notify,
    UnicastPeer,
    VrrpInstance,
    VrrpState,
)
from keepalived_py.config.strict import (
    vmac_name,
)
from keepalived_py.config.tree import Node, SourcePos
from keepalived_py.config.values import (
    read_address,
    read_bool_or_none,
    read_decimal,
    read_int,
)

VRRP_PRIO_OWNER = 255


def vrrp_instance(b: BuildState, node: Node) -> None:
    name = node.args[0] if node.args else ""
    if len(node.args) != 1:
        b.d.error(node.pos, "vrrp_instance must have a name")
        return
    if name in b._skipped_instances:     # every name seen, b.instances' too
        # keepalived skips the whole block of a second instance of the same name
        b.d.error(node.pos, f"vrrp instance {name} already defined")
        return
    b._skipped_instances.add(name)
    children = b.expect_block(node)
    if children is None or not name:
        return
    draft = _Draft(name, node.pos)
    for c in children:
        if c.keyword not in kw.VRRP_INSTANCE:
            b.unknown(c)
            continue
        INSTANCE.get(c.keyword, _i_later)(b, c, draft)
    draft.f["notify"] = Notify(**draft.notify)
    if "virtual_router_id" not in draft.f:
        # vrrp.c chk_min_cfg, after reading: reported with vrrp_complete_init's messages
        b._no_vrid.append((node.pos, f"{draft.vid} the virtual router id must be set"))
        b._dropped_notify.append(draft.f["notify"])   # still checked for script security
        return
    draft.f.setdefault("interface", None)
    b.instances.append((VrrpInstance(**draft.f), draft.given))


class _Draft:
    """A vrrp_instance block being read."""

    def __init__(self, name: str, pos: SourcePos) -> None:
        self.name = name
        self.vid = f"({name})"
        self.f: dict[str, Any] = {"name": name, "pos": pos}
        self.notify: dict[str, Any] = {}
        self.given: dict[str, SourcePos] = {}

    def give(self, key: str, pos: SourcePos) -> None:
        self.given[key] = pos


# keywords whose use without any unicast_peer keepalived warns about (and ignores)
UNICAST_KEYWORDS = ("unicast_src_ip", "unicast_peer", "unicast_fault_no_peer",
                    "check_unicast_src", "old_unicast_checksum")
_MAX_INT = 2**31 - 1


def _i_later(b: BuildState, c: Node, i: _Draft) -> None:
    b.later(c, "vrrp_instance")


def _i_state(b: BuildState, c: Node, i: _Draft) -> None:
    s = c.args[0] if c.args else ""
    if s == "MASTER":
        i.f["state"] = VrrpState.MASTER
    elif s == "BACKUP":
        if i.f.get("state") is VrrpState.MASTER:
            b.d.error(c.pos, f"{i.vid} state previously set as MASTER - ignoring BACKUP")
            return
        i.f["state"] = VrrpState.BACKUP
    else:
        b.d.error(c.pos, f"{i.vid} unknown state '{s}', defaulting to BACKUP")
    i.give("state", c.pos)


def _i_interface(b: BuildState, c: Node, i: _Draft) -> None:
    if not c.args:
        b.d.error(c.pos, f"{i.vid} interface requires a name")
        return
    ifname = c.args[0]
    if len(ifname) > 15:
        b.d.error(c.pos, f"Interface name '{ifname}' too long - ignoring")
        return
    if ifname == "lo":
        b.d.error(c.pos, f"{i.vid} cannot use a loopback interface (lo) for vrrp - ignoring")
        return
    i.f["interface"] = ifname
    if b.interface_missing(ifname):
        b.d.error(c.pos, f"WARNING - interface {ifname} for vrrp_instance {i.name} doesn't exist")
        b.bad_interface = True


def _i_vrf(b: BuildState, c: Node, i: _Draft) -> None:
    """vrrp_parser.c vrrp_vrf_handler's checks (-t verdicts); the VRF itself is not acted on."""
    b.later(c, "vrrp_instance")
    if not c.args:
        return
    name = c.args[0]
    if len(name) >= 16:
        b.d.error(c.pos, f"{i.vid} VRF interface name '{name}' too long - ignoring")
    elif "interface" in i.f:
        b.d.error(c.pos, f"{i.vid} Cannot specify VRF interface and interface - ignoring")
    elif "vrf" in i.given:
        b.d.error(c.pos, f"{i.vid} VRF interface already specified - ignoring")
    elif name == "lo":
        b.d.error(c.pos, f"{i.vid} cannot use a loopback interface ({name}) for VRF - ignoring")
    else:
        i.give("vrf", c.pos)
        if b.interface_missing(name):
            b.d.error(c.pos, f"{i.vid} WARNING - VRF interface {name} doesn't exist")
            b.bad_interface = True


def _i_vrid(b: BuildState, c: Node, i: _Draft) -> None:
    if c.args and (v := read_int(c.args[0], 1, 255, c.pos, b.d)) is not None:
        i.f["virtual_router_id"] = v
    else:
        b.d.error(c.pos, f"{i.vid}: VRID '{c.args[0] if c.args else ''}' not valid - must be"
                         " between 1 & 255")


def _i_priority(b: BuildState, c: Node, i: _Draft) -> None:
    v = read_int(c.args[0], 1, 255, c.pos, b.d) if c.args else None
    if v is None:
        b.d.error(c.pos, f"{i.vid} Priority not valid! must be between 1 & 255. Using default 100")
        return
    i.f["priority"] = v
    i.give("priority", c.pos)


def _i_advert_int(b: BuildState, c: Node, i: _Draft) -> None:
    x = read_decimal(c.args[0], 0.01, 255, c.pos, b.d) if c.args else None
    if x is None or x <= 0:
        b.d.error(c.pos, f"{i.vid} Advert interval ({c.args[0] if c.args else ''}) not valid!"
                         " Must be > 0 - ignoring")
        return
    i.f["advert_int"] = x
    i.give("advert_int", c.pos)


def _i_version(b: BuildState, c: Node, i: _Draft) -> None:
    if c.args and (v := read_int(c.args[0], 2, 3, c.pos, b.d)) is not None:
        i.f["version"] = v
        i.give("version", c.pos)
    else:
        b.d.error(c.pos, f"{i.vid}: Version must be 2 or 3")


def _i_nopreempt(b: BuildState, c: Node, i: _Draft) -> None:
    i.f["nopreempt"] = True
    i.give("nopreempt", c.pos)


def _i_preempt(b: BuildState, c: Node, i: _Draft) -> None:
    i.f["nopreempt"] = False


def _i_preempt_delay(b: BuildState, c: Node, i: _Draft) -> None:
    if c.args and (x := read_decimal(c.args[0], 0, 1000, c.pos, b.d)) is not None:
        i.f["preempt_delay"] = x
        i.give("preempt_delay", c.pos)


def _i_accept(b: BuildState, c: Node, i: _Draft) -> None:
    i.f["accept"] = c.keyword == "accept"
    i.give("accept", c.pos)


def _i_flag(b: BuildState, c: Node, i: _Draft) -> None:
    """A keyword that sets its own field to true."""
    i.f[c.keyword] = True
    i.give(c.keyword, c.pos)


def _i_bool(b: BuildState, c: Node, i: _Draft) -> None:
    """A keyword with an optional true/false word; an invalid word keeps what it had."""
    yes = read_bool_or_none(c, b.d, f"({i.name}) invalid {c.keyword}"
                                    f" {c.words[1] if len(c.words) > 1 else ''} specified")
    if yes is not None:
        i.f[c.keyword] = yes
        i.give(c.keyword, c.pos)


def _i_track(b: BuildState, c: Node, i: _Draft) -> None:
    refs = b.track_refs(c)
    if c.keyword == "track_interface":
        for r in refs:
            if b.interface_missing(r.name):
                b.d.error(r.pos, f"{i.vid} tracked interface {r.name} doesn't exist")
                b.bad_interface = True
    i.f[c.keyword] = i.f.get(c.keyword, ()) + refs


def _i_src_ip(b: BuildState, c: Node, i: _Draft) -> None:
    if c.args:
        i.f[c.keyword] = read_address(c.args[0], c.pos, b.d)
    i.give(c.keyword, c.pos)


def _i_mcast_dst_ip(b: BuildState, c: Node, i: _Draft) -> None:
    if c.args and (a := read_address(c.args[0], c.pos, b.d)) is not None:
        if not a.is_multicast:
            b.d.error(c.pos, f"{i.vid} mcast_dst_ip {a} is not a multicast address")
        else:
            i.f["mcast_dst_ip"] = a


def _i_unicast_peer(b: BuildState, c: Node, i: _Draft) -> None:
    peers = list(i.f.get("unicast_peer", ()))
    for row in c.children or ():
        a = read_address(row.words[0], row.pos, b.d)
        if a is None:
            continue
        pf: dict[str, Any] = {"address": a, "pos": row.pos}
        rest = row.words[1:]
        for j in range(0, len(rest) - 1, 2):
            if rest[j] in ("min_ttl", "max_ttl"):
                pf[rest[j]] = read_int(rest[j + 1], 0, 255, row.pos, b.d)
        peers.append(UnicastPeer(**pf))
    i.f["unicast_peer"] = tuple(peers)
    i.give("unicast_peer", c.pos)


def _i_int(low: int, high: int, as_float: bool = False) -> InstanceHandler:
    """A keyword with one integer value in low..high (stored as a float for seconds)."""
    def handler(b: BuildState, c: Node, i: _Draft) -> None:
        if c.args and (v := read_int(c.args[0], low, high, c.pos, b.d)) is not None:
            i.f[c.keyword] = float(v) if as_float else v
            i.give(c.keyword, c.pos)
    return handler


def _i_old_unicast_checksum(b: BuildState, c: Node, i: _Draft) -> None:
    i.f["old_unicast_checksum"] = not (c.args and c.args[0] == "never")
    i.give("old_unicast_checksum", c.pos)


def _i_authentication(b: BuildState, c: Node, i: _Draft) -> None:
    for row in c.children or ():
        if row.keyword == "auth_type":
            t = row.args[0] if row.args else ""
            if t not in ("PASS", "AH"):
                b.d.error(row.pos, f"{i.vid} unknown authentication type '{t}'")
            else:
                i.f["auth_type"] = t
        elif row.keyword == "auth_pass":
            pw = row.raw.strip().strip('"') if row.args else ""
            if len(pw) > 8:
                b.d.error(row.pos, f"{i.vid} Truncating auth_pass to 8 characters")
            i.f["auth_pass"] = pw[:8]
        else:
            b.unknown(row)
    i.give("authentication", c.pos)


def _i_addresses(b: BuildState, c: Node, i: _Draft) -> None:
    addrs = list(i.f.get(c.keyword, ()))
    for row in b.expect_block(c) or ():
        va = b.virtual_address(row, i.name)
        if va is not None:
            addrs.append(va)
    i.f[c.keyword] = tuple(addrs)


def _i_routes(b: BuildState, c: Node, i: _Draft) -> None:
    routes = []
    for row in b.expect_block(c) or ():
        vr = b.route(row)
        if vr is not None:
            b.untracked_route(vr)
            routes.append(vr)
    i.f["virtual_routes"] = i.f.get("virtual_routes", ()) + tuple(routes)


def _i_rules(b: BuildState, c: Node, i: _Draft) -> None:
    i.f["virtual_rules"] = i.f.get("virtual_rules", ()) + tuple(
        rl for row in b.expect_block(c) or () if (rl := b.rule(row)) is not None)


def _i_notify(b: BuildState, c: Node, i: _Draft) -> None:
    if i.notify.get(c.keyword) is not None:     # vrrp_parser.c vrrp_notify_*_handler
        b.d.error(c.pos, f"{i.vid} {c.keyword} script already specified - ignoring"
                         f" {c.args[0] if c.args else ''}")
        return
    i.notify[c.keyword] = b.notify_script(c)


def _i_notify_deleted(b: BuildState, c: Node, i: _Draft) -> None:
    # keepalived: the keyword alone says DELETED instead of FAULT; a script is optional
    if i.f.get("notify_deleted"):
        b.d.error(c.pos, f"{i.vid} notify_deleted already specified - ignoring"
                         f" {c.args[0] if c.args else ''}")
        return
    if c.args:
        i.notify["notify_deleted"] = b.notify_script(c)
    i.f["notify_deleted"] = True


def _i_garp_extra_if(b: BuildState, c: Node, i: _Draft) -> None:
    if c.keyword == "vmac_garp_intvl":
        b.d.warning(c.pos, 'Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"')
    if (ge := vk.garp_extra_if(c, b.d, i.name)) is not None:
        i.f["garp_extra_if"], i.f["garp_extra_if_all"] = ge
        i.give("garp_extra_if", c.pos)


def _i_notify_priority_changes(b: BuildState, c: Node, i: _Draft) -> None:
    value = vk.notify_priority_changes(c, i.name, "", b.d)
    if value is not None:
        i.f["notify_priority_changes"] = value
        i.give("notify_priority_changes", c.pos)


def _i_smtp_alert(b: BuildState, c: Node, i: _Draft) -> None:
    yes = read_bool_or_none(c, b.d, "Invalid vrrp_instance smtp_alert parameter"
                          f" {c.words[1] if len(c.words) > 1 else ''}")
    if yes is not None:             # keepalived keeps what it had
        i.notify["smtp_alert"] = yes


def _i_use_vmac(b: BuildState, c: Node, i: _Draft) -> None:
    # the VMAC's name; '' = generated at start as keepalived does (vrrp/vmac.py)
    name = i.f.get("use_vmac") or ""
    existing = b.interfaces() if b.check_interfaces else None     # (looked at: reuse.py)
    for word in (a for a in c.args if ":" not in a):
        if name:                        # vrrp_parser.c vrrp_vmac_handler
            b.d.error(c.pos, "VMAC interface name already specified")
            continue
        other = next((x.name for x, _ in b.instances if x.use_vmac == word), None)
        if other is not None:
            b.d.error(c.pos, f"{i.vid} VRRP instance {other} is already using {word} -"
                             " ignoring name")
            continue
        name = vmac_name((word,), i.vid, existing, c.pos, b.d)
    i.f["use_vmac"] = name
    if any(":" in a for a in c.args):
        b.later(c, "vrrp_instance")     # a MAC of its own (VRRP_VMAC_MAC_SPECIFIED) is not used


def _i_use_ipvlan(b: BuildState, c: Node, i: _Draft) -> None:
    others = {str(x.use_vmac or x.use_ipvlan): x.name for x, _ in b.instances
              if x.use_vmac or x.use_ipvlan}
    if b.check_interfaces:
        b.interfaces_mattered = True            # the host's ipvlan links looked at
    ipvlan.read(c, i.vid, i.f, others,
                ipvlan.is_l2_ipvlan if b.check_interfaces else lambda _n: None, b.d)


def _i_native_ipv6(b: BuildState, c: Node, i: _Draft) -> None:
    i.give("native_ipv6", c.pos)


def _i_linkbeat(severity: str, text: str) -> InstanceHandler:
    """The deprecated instance linkbeat_use_polling: keepalived's error, and it still polls."""
    message = _i_message(severity, text)

    def handler(b: BuildState, c: Node, i: _Draft) -> None:
        message(b, c, i)
        i.give("linkbeat_use_polling", c.pos)
    return handler


def _i_message(severity: str, text: str) -> InstanceHandler:
    """A deprecated keyword: only keepalived's message ({vid} is the instance)."""
    def handler(b: BuildState, c: Node, i: _Draft) -> None:
        getattr(b.d, severity)(c.pos, text.format(vid=i.vid))
    return handler


InstanceHandler = Callable[[BuildState, Node, _Draft], None]

INSTANCE: dict[str, InstanceHandler] = {
    "state": _i_state,
    "interface": _i_interface,
    "vrf": _i_vrf,
    "virtual_router_id": _i_vrid,
    "priority": _i_priority,
    "advert_int": _i_advert_int,
    "version": _i_version,
    "nopreempt": _i_nopreempt,
    "no_preempt": _i_nopreempt,
    "preempt": _i_preempt,
    "preempt_delay": _i_preempt_delay,
    "accept": _i_accept,
    "no_accept": _i_accept,
    "strict_mode": _i_bool,
    "dont_track_primary": _i_flag,
    **{k: _i_track for k in ("track_interface", "track_script", "track_process", "track_file",
                             "track_bfd")},
    "mcast_src_ip": _i_src_ip,
    "unicast_src_ip": _i_src_ip,
    "mcast_dst_ip": _i_mcast_dst_ip,
    "unicast_peer": _i_unicast_peer,
    "unicast_ttl": _i_int(0, 255),
    **{k: _i_flag for k in ("unicast_fault_no_peer", "check_unicast_src", "track_src_ip",
                            "promote_secondaries", "skip_check_adv_addr", "vmac_xmit_base")},
    "old_unicast_checksum": _i_old_unicast_checksum,
    "authentication": _i_authentication,
    "virtual_ipaddress": _i_addresses,
    "virtual_ipaddress_excluded": _i_addresses,
    "virtual_routes": _i_routes,
    "virtual_rules": _i_rules,
    "garp_master_delay": _i_int(0, _MAX_INT, as_float=True),
    "garp_lower_prio_delay": _i_int(0, _MAX_INT, as_float=True),
    "garp_master_refresh": _i_int(0, _MAX_INT, as_float=True),
    "garp_master_repeat": _i_int(0, _MAX_INT),
    "garp_lower_prio_repeat": _i_int(0, _MAX_INT),
    "garp_master_refresh_repeat": _i_int(0, _MAX_INT),
    "down_timer_adverts": _i_int(1, 100),
    "lower_prio_no_advert": _i_bool,
    "higher_prio_send_advert": _i_bool,
    "debug": _i_int(0, 4),
    **{k: _i_notify for k in kw.VRRP_INSTANCE
       if k.startswith("notify") and k not in ("notify_priority_changes", "notify_deleted")},
    "notify_deleted": _i_notify_deleted,
    "notify_priority_changes": _i_notify_priority_changes,
    "smtp_alert": _i_smtp_alert,
    "use_vmac": _i_use_vmac,
    "use_ipvlan": _i_use_ipvlan,
    "use_vmac_addr": _i_flag,
    "kernel_rx_buf_size": _i_int(0, _MAX_INT),
    "native_ipv6": _i_native_ipv6,
    "linkbeat_use_polling": _i_linkbeat(
        "error", "{vid} 'linkbeat_use_polling' in vrrp instance deprecated - use"
                 " linkbeat_interfaces block"),
    "lvs_sync_daemon_interface": lvs_globals.instance_sync_daemon,
    "vmac_garp_intvl": _i_garp_extra_if,
    "garp_extra_if": _i_garp_extra_if,
}
