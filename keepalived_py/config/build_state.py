"""What the block readers share while one configuration is read: the lists each block kind
fills, read again by the others and by the resolution at the end (build.py's Builder is a
BuildState), and the readers of what several blocks hold: tracked objects (track_*), virtual
and static addresses, routes and rules. The block modules (build_globals, build_track,
build_sync, build_instance, build_resolve) take a BuildState."""
from __future__ import annotations

from typing import Any

from keepalived_py.config.context import BuildContext, Host
from keepalived_py.config.model import (
    Notify,
    Script,
    TrackRef,
    VirtualAddress,
    VirtualRoute,
    VirtualRule,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackFile,
    VrrpTrackProcess,
)
from keepalived_py.config.tree import Diagnostics, Node, SourcePos
from keepalived_py.config.values import (
    read_address,
    read_int,
    read_interface,
    read_network,
)

SCOPES = {"site", "link", "host", "nowhere", "global"}


class BuildState(BuildContext):
    """One configuration being read: what its blocks gave so far."""

    def __init__(self, diags: Diagnostics, check_interfaces: bool, host: Host | None = None
                 ) -> None:
        super().__init__(diags, check_interfaces, host)
        self.min_garp = False              # global_defs vrrp_min_garp (applied in _finish)
        self.global_fields: dict[str, Any] = {}
        self.process_fields: dict[str, Any] = {}  # GlobalDefs.process (config/build_process.py)
        self.scripts: list[VrrpScript] = []
        self.processes: list[VrrpTrackProcess] = []
        self.files: list[VrrpTrackFile] = []
        self.groups: list[VrrpSyncGroup] = []
        self.instances: list[tuple[VrrpInstance, dict[str, Any]]] = []
        self.static_addresses: list[VirtualAddress] = []
        self.static_routes: list[VirtualRoute] = []
        self.static_rules: list[VirtualRule] = []
        self.lvs_blocks: list[Node] = []
        self._skipped_instances: set[str] = set()   # names already seen (defined or not)
        self._start_stop: list[Script] = []          # global startup/shutdown scripts
        self._dropped_notify: list[Notify] = []     # of instances keepalived drops late
        self._skipped_groups: set[str] = set()
        self._default_interface = "eth0"             # keepalived's DFLT_INT
        self.garp_groups: list[Any] = []            # garp_group blocks (config/vrrp_keywords.py)
        self._garp_taken: dict[str, int] = {}
        self.garp_numbered = 0                              # garp_groups with `interfaces`
        self.track_groups: dict[str, tuple[str, ...]] = {}  # track_group name -> instances
        self.if_delays: list[tuple[str, float, float]] = []  # interface_up_down_delays
        self.linkbeat: list[str] = []                       # linkbeat_interfaces
        self.linkbeat_all = False                           # linkbeat_use_polling (root)
        self.used_scripts: set[str] = set()                 # (set again by _finish)
        self.seen_vrid: dict[tuple[str | None, int, int, str], str] = {}
        self._no_vrid: list[tuple[SourcePos, str]] = []     # instances without a VRID

    def interface_missing(self, name: str) -> bool:
        # dynamic_interfaces (issue 12): an interface may appear after start, no error
        return not self.global_fields.get("dynamic_interfaces") and super().interface_missing(name)

    def interface_exists(self, name: str, pos: SourcePos, what: str) -> bool:
        if not self.interface_missing(name):
            return True
        self.d.error(pos, f"WARNING - interface {name} for {what} doesn't exist")
        self.bad_interface = True
        return False

    def track_refs(self, node: Node) -> tuple[TrackRef, ...]:
        refs = []
        rows = list(node.children or ())
        if node.args:
            rows.insert(0, Node(node.args, node.pos))
        for row in rows:
            words = row.words
            name, weight, reverse = words[0], None, False
            rest = list(words[1:])
            if rest and rest[0] == "weight":
                lim = 253 if node.keyword in ("track_interface", "track_script", "track_bfd") else 254
                if len(rest) < 2:
                    self.d.error(row.pos, f"weight without value for {name}")
                else:
                    weight = read_int(rest[1], -lim, lim, row.pos, self.d)
                rest = rest[2:]
            if rest and rest[0] in ("reverse", "noreverse", "no_reverse"):
                reverse = rest[0] == "reverse"
                rest = rest[1:]
            if rest:
                kind = node.keyword.replace("track_", "track ")
                self.d.error(row.pos, f"unknown {kind} option {rest[0]} - ignoring")
            refs.append(TrackRef(name=name, weight=weight, reverse=reverse, pos=row.pos))
        return tuple(refs)

    def untracked_route(self, r: VirtualRoute) -> None:
        if r.dev is None and not r.no_track and r.type in (None, "unicast"):
            self.d.warning(r.pos, f"Warning - cannot track route {r.dst} with no interface"
                                  " specified, not tracking")

    # -- addresses, routes, rules --------------------------------------------------------
    def virtual_address(self, node: Node, instance: str | None, static: bool = False
                        ) -> VirtualAddress | None:
        words = node.words
        addr = read_interface(words[0], node.pos, self.d)
        if addr is None:
            return None
        f: dict[str, Any] = {"address": addr, "pos": node.pos}
        i = 1
        while i < len(words):
            w = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else None
            if w in ("brd", "broadcast") and nxt is not None:
                f["brd"] = read_address(nxt, node.pos, self.d) if nxt != "+" else None
                i += 2
            elif w == "dev" and nxt is not None:
                f["dev"] = nxt
                self.interface_exists(nxt, node.pos, f"ip address {words[0]}")
                i += 2
            elif w == "scope" and nxt is not None:
                if nxt not in SCOPES and not nxt.isdigit():
                    self.d.error(node.pos, f"Invalid scope '{nxt}' - ignoring")
                else:
                    f["scope"] = nxt
                i += 2
            elif w == "label" and nxt is not None:
                f["label"] = nxt
                i += 2
            elif w == "peer" and nxt is not None:
                f["peer"] = read_interface(nxt, node.pos, self.d)
                i += 2
            elif w == "preferred_lft" and nxt is not None:
                f["preferred_lft"] = None if nxt == "forever" else read_int(nxt, 0, 2**32 - 1,
                                                                           node.pos, self.d)
                i += 2
            elif w == "track_group" and nxt is not None:
                f["track_group"] = nxt
                i += 2
            elif w in ("home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin",
                       "no_track") or (w == "use_vmac" and not static):
                f[{"-nodad": "nodad"}.get(w, w)] = True
                i += 1
            else:
                self.d.error(node.pos, f"Unknown configuration entry '{w}' for ip address"
                                       " - ignoring")
                i += 1
        if addr.version == 6 and "preferred_lft" not in f and addr.network.prefixlen == 128:
            f["preferred_lft"] = 0      # keepalived's default: a /128 VIP is added deprecated
        return VirtualAddress(**f)

    def route(self, node: Node) -> VirtualRoute | None:
        words = list(node.words)
        f: dict[str, Any] = {"pos": node.pos}
        options: list[tuple[str, str]] = []
        route_types = {"blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
                       "anycast", "multicast", "nat", "unicast"}
        i = 0
        dst = None
        while i < len(words):
            w = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else None
            if w in route_types and dst is None:
                f["type"] = w
                i += 1
            elif w == "src" and nxt is not None:
                f["src"] = read_address(nxt, node.pos, self.d)
                i += 2
            elif w == "to" and nxt is not None:
                dst = read_network(nxt, node.pos, self.d)
                i += 2
            elif w in ("via", "gw") and nxt is not None:
                if w == "gw":
                    self.d.error(node.pos, '"gw" for routes is deprecated. Please use "via"')
                if nxt in ("inet", "inet6") and i + 2 < len(words):
                    i += 1
                    nxt = words[i + 1]
                f["via"] = read_address(nxt, node.pos, self.d)
                i += 2
            elif w == "or" and nxt is not None:
                self.d.error(node.pos, '"or" for routes is deprecated. Please use "nexthop"')
                f["or_via"] = read_address(nxt, node.pos, self.d)
                i += 2
            elif w in ("dev", "oif") and nxt is not None:
                f["dev"] = nxt
                if not self.interface_exists(nxt, node.pos, "VROUTE nexthop"):
                    return None         # vrrp_iproute.c: the route is dropped (goto err)
                i += 2
            elif w == "scope" and nxt is not None:
                f["scope"] = nxt
                i += 2
            elif w == "table" and nxt is not None:
                f["table"] = read_int(nxt, 0, 2**32 - 1, node.pos, self.d) if nxt.isdigit() else None
                if not nxt.isdigit():
                    options.append(("table", nxt))
                i += 2
            elif w in ("metric", "priority", "preference") and nxt is not None:
                f["metric"] = read_int(nxt, 0, 2**32 - 1, node.pos, self.d)
                i += 2
            elif w in ("no_track", "inet6", "append", "onlink"):
                if w == "no_track":
                    f["no_track"] = True
                else:
                    options.append((w, ""))
                i += 1
            elif w == "track_group" and nxt is not None:
                f["track_group"] = nxt
                i += 2
            elif dst is None and (w[0].isdigit() or ":" in w or w == "default"):
                dst = read_network(w, node.pos, self.d)
                i += 1
            elif nxt is not None:
                options.append((w, nxt))     # mtu, protocol, tos, realms, nexthop ...
                i += 2
            else:
                options.append((w, ""))
                i += 1
        if dst is None:
            self.d.error(node.pos, "Route destination missing")
            return None
        f["dst"] = dst
        f["options"] = tuple(options)
        return VirtualRoute(**f)

    def rule(self, node: Node) -> VirtualRule | None:
        words = list(node.words)
        f: dict[str, Any] = {"pos": node.pos}
        options: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            w = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else None
            if w == "from" and nxt is not None:
                f["from_"] = read_network(nxt, node.pos, self.d)
                i += 2
            elif w == "to" and nxt is not None:
                f["to"] = read_network(nxt, node.pos, self.d)
                i += 2
            elif w in ("table", "lookup") and nxt is not None:
                f["table"] = read_int(nxt, 0, 2**32 - 1, node.pos, self.d) if nxt.isdigit() else None
                i += 2
            elif w in ("priority", "preference", "prio") and nxt is not None:
                f["priority"] = read_int(nxt, 0, 2**32 - 1, node.pos, self.d)
                i += 2
            elif w in ("inet", "inet6"):
                f["family"] = 6 if w == "inet6" else 4
                i += 1
            elif w == "no_track":
                f["no_track"] = True
                i += 1
            elif w == "track_group" and nxt is not None:
                f["track_group"] = nxt
                i += 2
            elif w in ("dev", "iif", "oif") and nxt is not None and \
                    not self.interface_exists(nxt, node.pos, "rule"):
                return None             # vrrp_iprule.c: the rule is dropped (goto err)
            elif nxt is not None and w not in ("not",):
                options.append((w, nxt))
                i += 2
            else:
                options.append((w, ""))
                i += 1
        f["options"] = tuple(options)
        if f.get("priority") is None:
            self.d.warning(node.pos, "Rule has no preference specified - setting to 16384."
                                     " This is probably not what you want.")
            f["priority"] = 16384
        return VirtualRule(**f)
