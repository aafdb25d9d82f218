"""The block tree -> the frozen model, with keepalived 2.2.7's defaults, ranges and checks.

Theory of operation. Each block kind has a keyword table (keywords.py names every keyword
keepalived 2.2.7 accepts there) and a module that reads it: build_globals.py (global_defs),
build_track.py (vrrp_script, vrrp_track_process, track_file), build_sync.py
(vrrp_sync_group), build_instance.py (vrrp_instance), build_lvs.py (virtual servers, BFD),
build_process.py (the process keywords of global_defs); this module reads the small blocks
(static addresses, routes and rules, garp_group, linkbeat_interfaces...) and coordinates. A
keyword with a handler fills model fields; a keyword that keepalived accepts but
keepalived-py does not act on yet is recorded and listed with a notice (never an error). An
unknown keyword is an error, as in keepalived, and so is a block where keepalived expects a
value or the reverse. After all blocks are read, `_finish` resolves what depends on other
blocks (global defaults into each instance: build_resolve.py; sync groups, tracked objects,
duplicate VRIDs) with keepalived's messages. Problems never raise: they are diagnostics at
file:line.
"""
from __future__ import annotations

from keepalived_py.config import (
    build_globals,
    build_instance,
    build_lvs,
    build_process,
    build_sync,
    build_track,
    lvs_globals,
)
from keepalived_py.config import keywords as kw
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.build_instance import VRRP_PRIO_OWNER
from keepalived_py.config.build_resolve import InstanceResolution
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.context import Host
from keepalived_py.config.model import (
    Config,
)
from keepalived_py.config.model import evolve as replace  # dataclasses.replace, faster (issue 16)
from keepalived_py.config.track_weights import group_weights
from keepalived_py.config.tree import Diagnostics, Node, SourcePos


class _Abort(Exception):
    """keepalived stops reading the configuration here."""


class Builder(BuildState):
    """The whole configuration read in keepalived's order (`build`), each top-level block by
    its reader (TOP), then what depends on other blocks resolved (`_finish`)."""

    _syncd_named: bool = False     # lvs_sync_daemon_interface named (by an earlier instance)

    # -- top level -----------------------------------------------------------------------
    def _missing_values(self, nodes: tuple[Node, ...], context: str = "top") -> None:
        aborts = kw.MISSING_PARAMETER_ABORTS.get(context, frozenset())
        named: set[tuple[str, str]] = set()
        sorry = False
        for n in nodes:
            if context == "vrrp_instance" and n.keyword == "lvs_sync_daemon_interface":
                # vrrp_parser.c vrrp_lvs_syncd_handler: "already been specified" (by an
                # earlier instance) comes before its value is read
                if len(n.words) == 1 and self._syncd_named:
                    continue
                self._syncd_named = self._syncd_named or len(n.words) > 1
            if context == "virtual_server":
                sorry = sorry or n.keyword == "sorry_server"
                if n.keyword == "sorry_server_lvs_method" and len(n.words) == 1 and sorry:
                    # check_parser.c ss_forwarding_handler reads it only with a sorry_server
                    self.d.error(n.pos, "*** Configuration line starting `sorry_server_lvs_method`"
                                        " is missing a parameter after keyword"
                                        " `sorry_server_lvs_method` at word position 2")
                    raise _Abort
            if context == "global_defs" and n.pos in self.d.escaped:
                # only keepalived's parent reads global_defs, and it saw the escaped character
                # as the value (an invalid one here): no stop
                msg = f"invalid value for {n.keyword} (an escaped '#' or '!')"
                if len(n.words) == 1 and n.keyword in aborts and \
                        not any(x.message == msg and x.pos == n.pos for x in self.d.items):
                    self.d.error(n.pos, msg)
                continue
            if context == "top" and n.keyword in ("vrrp_instance", "vrrp_sync_group"):
                # keepalived skips the block of a second or unnamed instance/group unread
                key = (n.keyword, n.args[0] if len(n.args) == 1 else "")
                if (len(n.args) != 1 or key in named) and n.unbraced is None:
                    continue
                named.add(key)
            if len(n.words) == 1 and n.keyword in aborts:
                self.d.error(n.pos, f"*** Configuration line starting `{n.keyword}` is missing a"
                                    f" parameter after keyword `{n.keyword}` at word position 2")
                raise _Abort
            if context == "top" and n.keyword == "virtual_server_group" and \
                    (at := n.pos if len(n.words) > 2 else n.unbraced) is not None:
                # check_parser.c vsg_handler gives alloc_value_block its words without the
                # group's name and a NULL first word: a word after the name that is not '{', or
                # a first line that does not start with '{', makes it name that NULL word
                self.d.error(at, "*** Configuration line starting `***MISSING ***` is missing a"
                                 " parameter at word position 1")
                raise _Abort
            if n.keyword in ("virtual_routes", "static_routes", "virtual_rules", "static_rules") \
                    and context in ("top", "vrrp_instance"):
                opts = kw.ROUTE_OPTIONS_WITH_VALUE if n.keyword.endswith("routes") else \
                    kw.RULE_OPTIONS_WITH_VALUE
                for row in n.children or ():
                    if row.words[-1] in opts:
                        w = row.words
                        self.d.error(row.pos, f"*** Configuration line starting `{w[0]}` is"
                                              f" missing a parameter after keyword `{w[-1]}`"
                                              f" at word position {len(w) + 1}")
                        raise _Abort
            sub = kw.SUBCONTEXT.get((context, n.keyword))
            if n.children is not None and sub is not None and not _skipped_server(n, context):
                self._missing_values(n.children, sub)

    def _not_implemented(self, nodes: tuple[Node, ...], context: str = "top") -> None:
        """Each use of a keyword in keywords.NOT_IMPLEMENTED: a notice naming it at file:line."""
        for n in nodes:
            if (context, n.keyword) in kw.NOT_IMPLEMENTED:
                self.later(n, "top-level" if context == "top" else context)
            sub = kw.SUBCONTEXT.get((context, n.keyword))
            if n.children is not None and sub is not None:
                self._not_implemented(n.children, sub)

    def build(self, tree: tuple[Node, ...],
              views: tuple[tuple[tuple[Node, ...], frozenset[str]], ...] = ()) -> Config:
        self._has_virtual_server = any(n.keyword == "virtual_server" for n in tree)
        try:
            # keepalived -t stops on a keyword without its value only as one of its processes
            # reads the file (blocks.read_trees); without those readings, the whole tree
            for view, inactive in views or ((tree, frozenset()),):
                self._syncd_named = False
                self._missing_values(tuple(n for n in view if n.keyword not in inactive))
        except _Abort:
            self.d.aborted = 2
            return Config()
        self._not_implemented(tree)
        only_there = self._top_only_in_readings(tree, views)
        tree = _fold_skipped_unbraced(tree)
        read = _read_by_owner(tree, views) | {(n.keyword, n.pos) for n in only_there}
        for node in (*tree, *only_there):
            if (node.keyword, node.pos) not in read:
                continue            # the process that owns this block never reads it
            handler = TOP.get(node.keyword)
            if handler is None:
                if node.keyword in kw.ROOT_LATER:
                    self.later(node, "top-level")
                    continue
                self.unknown(node)
                continue
            handler(self, node)
        return self._finish()

    def _top_only_in_readings(self, tree: tuple[Node, ...],
                              views: tuple[tuple[tuple[Node, ...], frozenset[str]], ...]
                              ) -> tuple[Node, ...]:
        """The lines of a block opened without its '{' are top-level statements in the
        readings where its keyword is inactive (parser.c: the line cancels skip_sublevel -1).
        keepalived reports each that is no top-level keyword as unknown there; a top-level
        block active in that reading is read by that process (a global_defs inside a
        virtual_server without '{' is the parent's global_defs): those are returned."""
        top = {n.pos for n in tree}
        said: set[SourcePos] = set()
        read: list[Node] = []
        for view, inactive in views:
            for n in view:
                if n.pos in top or n.pos in said:
                    continue
                if n.keyword not in kw.CONTEXT_KEYWORDS["top"]:
                    said.add(n.pos)
                    self.d.error(n.pos, f"Unknown keyword '{n.keyword}'")
                elif n.keyword not in inactive:
                    said.add(n.pos)
                    read.append(n)
        return tuple(read)

    def _static_addresses(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            a = self.virtual_address(c, None, static=True)
            if a is not None:
                self.static_addresses.append(vk.checked_track_group(a, self.track_groups, self.d))

    def _static_routes(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            r = self.route(c)
            if r is not None:
                self.untracked_route(r)
                self.static_routes.append(vk.checked_track_group(r, self.track_groups, self.d))

    def _static_rules(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            r = self.rule(c)
            if r is not None:
                self.static_rules.append(vk.checked_track_group(r, self.track_groups, self.d))


    # -- small blocks --------------------------------------------------------------------
    def _garp_group(self, node: Node) -> None:
        group = vk.garp_group(self, node, self._garp_taken)                      # issue 12
        if group is not None:
            self.garp_groups.append(group)

    def _linkbeat(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            ifname = c.words[0]
            if self.interface_missing(ifname):
                # keepalived 2.2.7 vrrp_parser.c alloc_linkbeat_interface: CONFIG_FATAL
                self.d.fatal(c.pos, f"unknown interface {ifname} specified for linkbeat interface")
                continue
            if len(c.words) > 1 and (c.words[1] not in ("MII", "ETHTOOL", "IOCTL")
                                     or len(c.words) > 2):
                self.d.error(c.pos, f"extra characters {c.words[1]} in linkbeat interface")
            if ifname not in self.linkbeat:
                self.linkbeat.append(ifname)                        # issue 12

    def _track_group(self, node: Node) -> None:
        tg = vk.track_group(self, node)                             # issue 12
        if tg is not None:
            self.track_groups[tg[0]] = tg[1]

    def _lvs(self, node: Node) -> None:
        self.lvs_blocks.append(node)

    # -- cross references: named passes, in keepalived's order of messages -----------------
    def _finish(self) -> Config:
        g = build_globals.global_defs_model(self)
        build_globals.script_default_user(self, g)
        self._check_static_addresses()
        # keepalived's VRRP process stops right after reading when an interface it was given
        # does not exist (vrrp_daemon.c, "Non-existent interface"): nothing of its
        # vrrp_complete_init is reported then (sync groups, instances, script security)
        complete_init = len(self.d.items)
        for pos, message in self._no_vrid:
            self.d.error(pos, message)
        groups, member_of = build_sync.resolve_sync_groups(self)
        self.used_scripts = set()
        self.seen_vrid = {}
        instances = [i for i in (InstanceResolution(self, g, inst, seen).run(member_of, groups)
                                 for inst, seen in self.instances) if i is not None]
        instances = vk.fold_track_groups(instances, self.track_groups, (   # track_group
            self.static_addresses, self.static_routes, self.static_rules), g.default_interface)
        # a sync group with an address owner member: every weight cleared (track_weights.py)
        owners = {i.name for i in instances if i.priority == VRRP_PRIO_OWNER}
        groups = [group_weights(grp, bool(owners & set(grp.group)),
                                {s.name: s.weight for s in self.scripts},
                                {t.name: t.weight for t in self.files},
                                {p.name: p.weight for p in self.processes}, self.d.error)
                  for grp in groups]
        build_track.unused_scripts(self, groups)
        build_track.script_security(self, g, instances)
        if self.bad_interface:
            del self.d.items[complete_init:]
            self.d.fatal(None, "Non-existent interface specified in configuration")
        build_track.start_stop_security(self, g)
        vsgs, vss, bfds = build_lvs.build(self.lvs_blocks, g, self)
        if g.lvs_sync_daemon is not None:           # inst NAME: a vrrp_instance (vrrp.c)
            g = replace(g, lvs_sync_daemon=lvs_globals.resolve_sync_instance(
                g.lvs_sync_daemon, instances, self.d))
        # --- BFD hook (issue 17): track_bfd names a bfd_instance; weights default from it
        from keepalived_py.config.bfd import resolve_track_refs
        instances = [replace(i, track_bfd=resolve_track_refs(  # type: ignore[arg-type]
            i.name, i.track_bfd, bfds, self.d)) if i.track_bfd else i for i in instances]
        groups = [replace(gr, track_bfd=resolve_track_refs(  # type: ignore[arg-type]
            gr.name, gr.track_bfd, bfds, self.d)) if gr.track_bfd else gr for gr in groups]
        # --- end BFD hook
        for key, pos in self.unimplemented.items():
            where, word = key.split()[0], key.split()[-1]
            why = kw.NOT_IMPLEMENTED.get(("top" if where == "top-level" else where, word))
            self.d.notice(pos, f"'{word}' ({where}) is accepted but not implemented by"
                               " keepalived-py yet" + (f": {why}" if why else ""))
        return Config(global_defs=g, static_ipaddress=tuple(self.static_addresses),
                      static_routes=tuple(self.static_routes),
                      static_rules=tuple(self.static_rules), vrrp_scripts=tuple(self.scripts),
                      vrrp_track_processes=tuple(self.processes),
                      vrrp_track_files=tuple(self.files), vrrp_sync_groups=tuple(groups),
                      vrrp_instances=tuple(instances), virtual_server_groups=vsgs,
                      virtual_servers=vss, bfd_instances=bfds, ssl=self.ssl,
                      garp_groups=tuple(self.garp_groups),
                      interface_delays=tuple(self.if_delays),
                      linkbeat_interfaces=vk.linkbeat_interfaces(
                          self.linkbeat, self.linkbeat_all, instances,
                          {inst.name for inst, seen in self.instances
                           if "linkbeat_use_polling" in seen}))

    def _check_static_addresses(self) -> None:
        if any(a.dev is None for a in self.static_addresses) and \
                self.interface_missing(self._default_interface):
            # vrrp_ipaddress.c parse_ipaddress: a static address needs its dev or the default one
            for a in [a for a in self.static_addresses if a.dev is None]:
                self.d.fatal(a.pos, f"Static address {a.address} requires either an interface or"
                                    " default interface must exist")
            self.static_addresses = [a for a in self.static_addresses if a.dev is not None]


def _read_by_owner(tree: tuple[Node, ...],
                   views: tuple[tuple[tuple[Node, ...], frozenset[str]], ...]
                   ) -> set[tuple[str, SourcePos]]:
    """The top-level statements of `tree` that the keepalived process owning them reads
    (blocks.read_trees): a block that another block swallows in its owner's reading (an
    inactive keyword's '{' there skips up to its matching '}') does not exist for it. A
    keyword no view treats as inactive anywhere is kept."""
    if not views:
        return {(n.keyword, n.pos) for n in tree}
    owned = frozenset().union(*(inactive for _, inactive in views))
    seen: set[tuple[str, SourcePos]] = set()
    for view, inactive in views:
        seen |= {(n.keyword, n.pos) for n in view if n.keyword not in inactive}
    return {(n.keyword, n.pos) for n in tree
            if n.keyword not in owned or (n.keyword, n.pos) in seen}


def _fold_skipped_unbraced(tree: tuple[Node, ...]) -> tuple[Node, ...]:
    """A vrrp_instance/vrrp_sync_group/virtual_server header whose handler skips its block
    (no name, a name already used, an invalid address) with no '{' after it: the block is read
    after all (blocks.py), and its lines' handlers act on the last such block allocated
    (list_last_entry): its lines join that block's. With none before, keepalived crashes."""
    if not any(n.unbraced is not None for n in tree):
        return tree
    out = list(tree)
    last: dict[str, int] = {}
    names: dict[str, set[str]] = {"vrrp_instance": set(), "vrrp_sync_group": set()}
    for i, n in enumerate(tree):
        k = n.keyword
        if k not in ("vrrp_instance", "vrrp_sync_group", "virtual_server"):
            continue
        if k == "virtual_server":
            skipped = kw.skipped_header("top", n.words)
        else:
            skipped = len(n.args) != 1 or n.args[0] in names[k]
            if not skipped:
                names[k].add(n.args[0])
        if not skipped:
            last[k] = i
        elif n.unbraced is not None:
            if k in last:
                j = last[k]
                out[j] = replace(out[j], children=(*(out[j].children or ()), *(n.children or ())))
            out[i] = replace(n, children=None)
    return tuple(out)


def _skipped_server(n: Node, context: str) -> bool:
    """A server block keepalived skips unread (a '{' followed its invalid header)."""
    return n.unbraced is None and kw.skipped_header(context, n.words)


TOP = {
    "global_defs": build_globals.global_defs,
    "static_ipaddress": Builder._static_addresses,
    "static_routes": Builder._static_routes,
    "static_rules": Builder._static_rules,
    "vrrp_script": build_track.vrrp_script,
    "vrrp_track_process": build_track.vrrp_track_process,
    "track_file": build_track.track_file,
    "vrrp_track_file": build_track.track_file,
    "vrrp_sync_group": build_sync.sync_group,
    "vrrp_instance": build_instance.vrrp_instance,
    "garp_group": Builder._garp_group,
    "linkbeat_interfaces": Builder._linkbeat,
    "interface_up_down_delays": lambda b, n: b.if_delays.extend(vk.up_down_delays(b, n)),
    "linkbeat_use_polling": lambda b, n: setattr(b, "linkbeat_all", True),
    "track_group": Builder._track_group,
    "virtual_server": Builder._lvs,
    "virtual_server_group": Builder._lvs,
    "bfd_instance": Builder._lvs,
    "SSL": Builder._lvs,
    "child_wait_time": lambda b, n: build_process.parse_root(n, b.process_fields, b.d),
    "use_pid_dir": lambda b, n: build_process.parse_root(n, b.process_fields, b.d),
}


def build_config(tree: tuple[Node, ...], diags: Diagnostics, *,
                 check_interfaces: bool = False, host: Host | None = None,
                 views: tuple[tuple[tuple[Node, ...], frozenset[str]], ...] = ()) -> Config:
    """Build the model; every problem goes to `diags` (never raises for bad input).
    views: the same configuration as keepalived's other processes read it (blocks.read_trees);
    a keyword missing its value in any of them stops the reading."""
    builder = Builder(diags, check_interfaces, host)
    config = builder.build(tree, views)
    if hasattr(host, "interfaces_mattered"):    # reuse.RecordingHost: for reuse.remember
        host.interfaces_mattered = builder.interfaces_mattered  # type: ignore[union-attr]
    return config

