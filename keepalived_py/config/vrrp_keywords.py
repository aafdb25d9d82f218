"""VRRP keywords of the long tail (issue 12 item 4) as keepalived 2.2.7's parsers read them:
global_defs' log_unknown_vrids, fifo_write_vrrp_states_on_reload, vrrp_notify_priority_changes,
disable_local_igmp, dynamic_interfaces, default_interface, vrrp_garp_interval /
vrrp_gna_interval; vrrp_instance's notify_deleted and notify_priority_changes; a sync group's
notify_priority_changes. Pure: words in, values and keepalived's messages out."""
from __future__ import annotations

import re
from typing import Any

from keepalived_py.config.tree import Diagnostics, Node

GLOBAL = frozenset({"log_unknown_vrids", "fifo_write_vrrp_states_on_reload",
                    "vrrp_notify_priority_changes", "disable_local_igmp", "dynamic_interfaces",
                    "default_interface", "vrrp_garp_interval", "vrrp_gna_interval"})

_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")
_DECIMAL = re.compile(r"\+?([0-9]+)(?:\.([0-9]*))?$")
_UINT_MAX = 2**32 - 1


def true_false(word: str) -> bool | None:
    """keepalived's check_true_false (strcmp: lower case only): None when the word is neither."""
    return True if word in _TRUE else False if word in _FALSE else None


def read_interval(word: str, keyword: str, node: Node, d: Diagnostics) -> float | None:
    """read_decimal_unsigned_strvec(1 .. UINT_MAX, 6 decimal places) in seconds: 0.000001 up
    to 4294.967295, with the binary's three messages."""
    m = _DECIMAL.match(word)
    if m is None:
        d.error(node.pos, f"invalid number '{word}'")
        d.error(node.pos, f"{keyword} '{word}' is invalid")
        return None
    frac = m.group(2) or ""
    if len(frac) > 6:
        d.error(node.pos, f"number '{word}' has too many decimal places")
        frac = frac[:6]
    micro = int(m.group(1)) * 1_000_000 + int((frac + "000000")[:6])
    if not 1 <= micro <= _UINT_MAX:
        d.error(node.pos, f"number '{word}' outside range [0.000001, 4294.967295]")
        d.error(node.pos, f"{keyword} '{word}' is invalid")
        return None
    return micro / 1_000_000


def global_keyword(c: Node, g: dict[str, Any], d: Diagnostics) -> None:
    """One global_defs line whose keyword is in GLOBAL."""
    k, args = c.keyword, c.args
    if k in ("log_unknown_vrids", "fifo_write_vrrp_states_on_reload"):
        g[k] = True                              # keepalived sets these whatever follows
    elif k == "vrrp_notify_priority_changes":
        value = true_false(args[0]) if args else True
        if value is None:
            d.error(c.pos, f"Invalid value '{args[0]}' for global {k} specified")
        else:
            g[k] = value
    elif k == "disable_local_igmp":
        g[k] = True
    elif k == "dynamic_interfaces":
        g[k] = True
        if args and args[0] == "allow_if_changes":
            g["allow_if_changes"] = True
        elif args:
            d.error(c.pos, f"Unknown dynamic_interfaces option '{args[0]}'")
    elif k == "default_interface":
        if args:
            g[k] = args[0]
        else:
            d.error(c.pos, "default_interface requires interface name")
    elif k in ("vrrp_garp_interval", "vrrp_gna_interval"):
        if args and (v := read_interval(args[0], k, c, d)) is not None:
            g[k] = v                             # >= 1s: keepalived only logs "very large"


def notify_priority_changes(c: Node, who: str, what: str, d: Diagnostics) -> bool | None:
    """An instance's or sync group's notify_priority_changes [BOOL]; None when invalid."""
    if not c.args:
        return True
    value = true_false(c.args[0])
    if value is None:
        d.error(c.pos, f"({who}) Invalid value '{c.args[0]}' for {what}notify_priority_changes"
                       " specified")
    return value


def garp_group(b: Any, node: Node, taken: dict[str, int]) -> Any:
    """A garp_group block (vrrp_parser.c garp_group_*_handler): its intervals and interfaces;
    an interface already in a group stays in that one. `b` is the config Builder (messages,
    interface checks, dynamic_interfaces); `taken`: interface -> group index so far."""
    from keepalived_py.config.model import GarpGroup
    d: Diagnostics = b.d
    f: dict[str, Any] = {"pos": node.pos}
    names: list[str] = []
    dynamic = bool(b.global_fields.get("dynamic_interfaces"))
    for c in b.expect_block(node) or ():
        k = c.keyword
        if k in ("garp_interval", "gna_interval") and c.args:
            m = _DECIMAL.match(c.args[0])
            frac = (m.group(2) or "") if m else ""
            micro = int(m.group(1)) * 1_000_000 + int((frac + "000000")[:6]) if m else -1
            if m is None:
                d.error(c.pos, f"invalid number '{c.args[0]}'")
            elif len(frac) > 6 or micro > 2**31 - 1:
                d.error(c.pos, f"garp_group {k} '{c.args[0]}' invalid")
            else:
                f[k] = micro / 1_000_000
        elif k in ("interface", "interfaces"):
            rows = [(c.args[0], c.pos)] if k == "interface" and c.args else \
                [(w, n.pos) for n in (c.children or ()) for w in n.words] if k == "interfaces" \
                else []
            if k == "interfaces" and not rows:
                d.error(c.pos, "Warning - empty garp_group interfaces block")
            for name, pos in rows:
                if b.interface_missing(name) or (dynamic and name not in b.interfaces()
                                                 and b.check_interfaces):
                    if not dynamic:
                        d.error(pos, f"WARNING - interface {name} specified for garp_group"
                                       " doesn't exist")
                        b.bad_interface = True
                    continue
                if name in taken or name in names:
                    d.error(pos, f"garp_group already specified for {name} - ignoring")
                    continue
                names.append(name)
        elif k not in ("garp_interval", "gna_interval"):
            b.unknown(c)
    if "garp_interval" not in f and "gna_interval" not in f:
        # garp_group_end_handler: the group is freed; its number is 0 unless an `interfaces`
        # block numbered it (1 + the groups numbered before it that were kept)
        seq = 1 + b.garp_numbered if any(c.keyword == "interfaces"
                                         for c in node.children or ()) else 0
        d.error(node.pos, f"garp group {seq} does not have any delay set - removing")
        return None
    if any(c.keyword == "interfaces" for c in node.children or ()):
        b.garp_numbered += 1
    for name in names:
        taken[name] = len(taken)
    return GarpGroup(interfaces=tuple(names), **f)


def track_group(b: Any, node: Node) -> tuple[str, tuple[str, ...]] | None:
    """track_group NAME { group { INSTANCE ... } }: the instances that track the interfaces of
    the static addresses, routes and rules naming the group (vrrp_static_track.c)."""
    if not node.args:
        b.d.error(node.pos, "track_group must have a name - skipping")
        return None
    members: list[str] = []
    for c in b.expect_block(node) or ():
        if c.keyword == "group":
            members += [w for n in (c.children or ()) for w in n.words] + list(c.args)
        else:
            b.unknown(c)
    return node.args[0], tuple(members)


def checked_track_group(obj: Any, groups: dict[str, tuple[str, ...]], d: Diagnostics) -> Any:
    """A static address/route/rule whose track_group is not defined (yet): keepalived's error,
    the option dropped."""
    from keepalived_py.record import evolve as replace
    name = obj.track_group
    if name is None or name in groups:
        return obj
    d.error(obj.pos, f"track_group {name} not found")
    return replace(obj, track_group=None)


def fold_track_groups(instances: list[Any], groups: dict[str, tuple[str, ...]],
                      config_statics: tuple[list[Any], list[Any], list[Any]],
                      default_interface: str) -> list[Any]:
    """Each member instance of a track group tracks (weight 0: FAULT when down) the interface
    of every static address (its dev, else default_interface), route (its dev) and rule (its
    iif) naming the group, unless the entry says no_track - keepalived's TRACK_SADDR,
    TRACK_SROUTE and TRACK_SRULE interfaces."""
    from keepalived_py.record import evolve as replace

    from keepalived_py.config.model import TrackRef
    addrs, routes, rules = config_statics
    wanted: dict[str, list[str]] = {}
    for obj, ifname in [(a, a.dev or default_interface) for a in addrs] + \
            [(r, r.dev) for r in routes] + \
            [(r, dict(r.options).get("iif") or dict(r.options).get("iifname")) for r in rules]:
        if obj.track_group is None or obj.no_track or not ifname:
            continue
        for member in groups.get(obj.track_group, ()):
            if ifname not in wanted.setdefault(member, []):
                wanted[member].append(ifname)
    out = []
    for inst in instances:
        have = {t.name for t in inst.track_interface}
        extra = tuple(TrackRef(name=n, weight=0) for n in wanted.get(inst.name, ()) if n not in have)
        out.append(replace(inst, track_interface=inst.track_interface + extra) if extra else inst)
    return out


def up_down_delays(b: Any, node: Node) -> list[tuple[str, float, float]]:
    """interface_up_down_delays { IFNAME DOWN_DELAY [UP_DELAY] ... } (vrrp_parser.c
    alloc_if_up_down_delay): seconds, 0 to 255 with up to 6 decimal places. keepalived only
    logs a bad line (never a config error); an unknown interface is fatal."""
    out = []
    for row in b.expect_block(node) or ():
        name, rest = row.words[0], row.words[1:]
        if b.interface_missing(name):
            b.d.fatal(row.pos, f"unknown interface {name} specified for up/down delay")
            continue
        values = []
        for w in rest[:2]:
            m = _DECIMAL.match(w)
            if m is None:
                b.d.error(row.pos, f"negative number '{w}'" if re.match(r"-[0-9.]+$", w)
                          else f"invalid number '{w}'")
                break
            frac = m.group(2) or ""
            if len(frac) > 6:
                b.d.error(row.pos, f"number '{w}' has too many decimal places")
                break
            v = float(f"{m.group(1)}.{frac or '0'}")
            if v > 255:
                b.d.error(row.pos, f"number '{w}' outside range [0.000000, 255.000000]")
                break
            values.append(v)
        if len(values) == min(len(rest), 2) and values:
            out.append((name, values[0], values[1] if len(values) > 1 else 0.0))
    return out


def garp_extra_if(c: Node, d: Diagnostics, instance: str | None) -> tuple[int, bool] | None:
    """vrrp_garp_extra_if SECS [all] (global, 1..86400) / garp_extra_if SECS [all] (instance,
    0..86400): (seconds, all); None after keepalived's message when invalid."""
    who = f"({instance}): " if instance else ""
    lo = 0 if instance else 1
    delay: int | None = None
    every = False
    for w in c.args:
        if w == "all":
            every = True
            continue
        if not re.match(r"[0-9]+$", w):
            d.error(c.pos, f"invalid number '{w}'")
        elif not lo <= int(w) <= 86400:
            d.error(c.pos, f"number '{w}' outside range [{lo}, 86400]")
        else:
            delay = int(w)
            continue
        d.error(c.pos, f"{who}{c.keyword} '{w}' invalid - ignoring")
        return None
    if delay is None or (delay == 0 and not instance):
        d.error(c.pos, f"{who}{c.keyword} specified without time - ignoring")
        return None
    return delay, every


def resolve_garp_extra_if(inst: Any, f: dict[str, Any], g: Any, given: bool) -> None:
    """An instance without garp_extra_if takes global_defs'; it stays on (vrrp.c
    vrrp_complete_instance) with a per-address VMAC (config/ipvlan.py address_vmac_wants),
    or with `all` and VIPs on another interface than the instance's."""
    from keepalived_py.config.ipvlan import address_vmac_wants
    delay, every = (inst.garp_extra_if, inst.garp_extra_if_all) if given else \
        (g.vrrp_garp_extra_if, g.vrrp_garp_extra_if_all)
    addrs = inst.virtual_ipaddress + inst.virtual_ipaddress_excluded
    extra = any(a.dev and a.dev != inst.interface for a in addrs)
    vmacs = bool(address_vmac_wants(inst.interface, f.get("family", inst.family),
                                    f.get("use_vmac", inst.use_vmac) is not None,
                                    inst.use_vmac_addr, addrs))
    f["garp_extra_if"] = delay if vmacs or (extra and every) else 0
    f["garp_extra_if_all"] = every


def linkbeat_interfaces(named: list[str], everywhere: bool, instances: list[Any],
                        polling_instances: set[str]) -> tuple[str, ...]:
    """The interfaces whose link state is polled (vrrp_if.c init_interface_linkbeat): those of
    linkbeat_interfaces, and with linkbeat_use_polling (root, or deprecated in an instance)
    the instances' own; only ones an instance uses (its interface or a tracked one)."""
    used: set[str] = set()
    wanted = list(named)
    for inst in instances:
        own = {inst.interface} if inst.interface else set()
        used |= own | {t.name for t in inst.track_interface}
        if everywhere or inst.name in polling_instances:
            wanted += sorted(own)
    return tuple(dict.fromkeys(n for n in wanted if n in used))
