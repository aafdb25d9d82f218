"""The block tree -> the frozen model, with keepalived 2.2.7's defaults, ranges and checks.

Theory of operation. Each block kind has a keyword table (keywords.py names every keyword
keepalived 2.2.7 accepts there). A keyword with a handler here fills model fields; a keyword
that keepalived accepts but keepalived-py does not act on yet is recorded and listed with a
notice (never an error). An unknown keyword is an error, as in keepalived, and so is a block
where keepalived expects a value or the reverse. After all blocks are read, `_finish`
resolves what depends on other blocks (global defaults into instances, sync groups, tracked
objects, duplicate VRIDs) with keepalived's messages. Problems never raise: they are
diagnostics at file:line.
"""
from __future__ import annotations

import functools
import os
import shutil
import socket
from dataclasses import fields, replace
from typing import Any

from keepalived_py.config import keywords as kw
from keepalived_py.config.model import (
    Config,
    GlobalDefs,
    Notify,
    Script,
    TrackRef,
    UnicastPeer,
    VirtualAddress,
    VirtualRoute,
    VirtualRule,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpSyncGroup,
    VrrpTrackFile,
    VrrpTrackProcess,
)
from keepalived_py.config.tree import Diagnostics, Node, SourcePos
from keepalived_py.config.values import (
    read_address,
    read_bool,
    read_decimal,
    read_int,
    read_interface,
    read_network,
    script_argv,
)

VRRP_PRIO_OWNER = 255

class _Abort(Exception):
    """keepalived stops reading the configuration here."""
SCOPES = {"site", "link", "host", "nowhere", "global"}


class Builder:
    def __init__(self, diags: Diagnostics, check_interfaces: bool) -> None:
        self.min_garp = False              # global_defs vrrp_min_garp (applied in _finish)
        self.d = diags
        self.check_interfaces = check_interfaces
        self._ifnames: set[str] | None = None
        self.global_fields: dict[str, Any] = {}
        self.scripts: list[VrrpScript] = []
        self.processes: list[VrrpTrackProcess] = []
        self.files: list[VrrpTrackFile] = []
        self.groups: list[VrrpSyncGroup] = []
        self.instances: list[tuple[VrrpInstance, dict[str, Any]]] = []
        self.static_addresses: list[VirtualAddress] = []
        self.static_routes: list[VirtualRoute] = []
        self.static_rules: list[VirtualRule] = []
        self.lvs_blocks: list[Node] = []
        self.unimplemented: dict[str, SourcePos] = {}
        self.ssl: Any = None
        self.first_script: SourcePos | None = None
        self._skipped_instances: set[str] = set()   # names already seen (defined or not)
        self._skipped_groups: set[str] = set()
        self._default_interface = "eth0"             # keepalived's DFLT_INT

    # -- helpers -------------------------------------------------------------------------
    def interfaces(self) -> set[str]:
        if self._ifnames is None:
            try:
                self._ifnames = {name for _, name in socket.if_nameindex()}
            except OSError:
                self._ifnames = set()
        return self._ifnames

    def interface_exists(self, name: str, pos: SourcePos, what: str) -> bool:
        if not self.check_interfaces or name in self.interfaces():
            return True
        self.d.error(pos, f"WARNING - interface {name} for {what} doesn't exist")
        self._bad_interface = True
        return False

    def later(self, node: Node, where: str) -> None:
        """A keyword keepalived accepts but keepalived-py does not act on yet."""
        key = f"{where} {node.keyword}"
        if key not in self.unimplemented:
            self.unimplemented[key] = node.pos

    def unknown(self, node: Node) -> None:
        self.d.error(node.pos, f"Unknown keyword '{node.keyword}'")
        if node.children is not None:
            self.d.error(node.pos, "Unexpected '{' - ignoring")
            for child in node.children:
                self.unknown(child)

    def expect_block(self, node: Node) -> tuple[Node, ...] | None:
        if node.children is None:
            self.d.error(node.pos, "Missing '{' at beginning of configuration block")
            return None
        return node.children

    def script(self, node: Node, words: tuple[str, ...] | None = None) -> Script | None:
        words = node.words[1:] if words is None else words
        if not words:
            self.d.error(node.pos, f"No script specified for {node.keyword}")
            return None
        argv = script_argv(words)
        if not argv:
            self.d.error(node.pos, f"No script specified for {node.keyword}")
            return None
        if self.first_script is None:
            self.first_script = node.pos
        return Script(argv=argv, text=" ".join(words), pos=node.pos)

    def notify_script(self, node: Node) -> Script | None:
        """A notify script (keepalived notify_script_init): the first word is the command (quote
        it to give arguments), the words after it the user and group it runs as. An unknown
        user or group drops the script, as keepalived does (it only logs it)."""
        words = node.words[1:]
        script = self.script(node, words[:1])
        if script is None or len(words) < 2:
            return script
        user, group = words[1], (words[2] if len(words) > 2 else None)
        bad = [f"Script user '{user}' does not exist"] if not _user_exists(user) else []
        if group is not None and not _group_exists(group):
            bad.append(f"Script group '{group}' does not exist")
        if bad:
            for line in bad:
                self.d.notice(node.pos, line)
            self.d.notice(node.pos, f"Invalid user/group for {node.keyword} script"
                                    f" {script.argv[0]} - ignoring")
            return None
        return replace(script, user=user, group=group)

    # -- top level -----------------------------------------------------------------------
    def _missing_values(self, nodes: tuple[Node, ...], context: str = "top") -> None:
        aborts = kw.MISSING_PARAMETER_ABORTS.get(context, frozenset())
        named: set[tuple[str, str]] = set()
        for n in nodes:
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
                if len(n.args) != 1 or key in named:
                    continue
                named.add(key)
            if len(n.words) == 1 and n.keyword in aborts:
                self.d.error(n.pos, f"*** Configuration line starting `{n.keyword}` is missing a"
                                    f" parameter after keyword `{n.keyword}` at word position 2")
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
        self._bad_interface = False
        self._has_virtual_server = any(n.keyword == "virtual_server" for n in tree)
        try:
            self._missing_values(tree)
            for view, inactive in views:
                self._missing_values(tuple(n for n in view if n.keyword not in inactive))
        except _Abort:
            self.d.aborted = 2
            return Config()
        self._not_implemented(tree)
        for node in tree:
            handler = TOP.get(node.keyword)
            if handler is None:
                if node.keyword in kw.ROOT_LATER:
                    self.later(node, "top-level")
                    continue
                self.unknown(node)
                continue
            handler(self, node)
        return self._finish()

    def _global_defs(self, node: Node) -> None:
        children = self.expect_block(node)
        if children is None:
            return
        g = self.global_fields
        g.setdefault("pos", node.pos)
        for c in children:
            k, args = c.keyword, c.args
            if k in kw.EXTENSIONS["global_defs"]:
                self.d.warning(c.pos, f"'{k}' is a keepalived-py extension (keepalived 2.2.7:"
                                      f" Unknown keyword '{k}')")
            elif k not in kw.GLOBAL_DEFS:
                self.unknown(c)
                continue
            if k == "notification_email":
                if c.children is not None:
                    g["notification_email"] = tuple(w for n in c.children for w in n.words)
                else:
                    g["notification_email"] = tuple(args)
            elif k == "smtp_server" and args:
                g[k] = args[0]
                port = read_int(args[1], 1, 65535, c.pos, self.d) if len(args) > 1 else 25
                if port is None:
                    self.d.error(c.pos, f"Invalid smtp server {args[0]} {args[1]}")
                    del g[k]
                else:
                    g["smtp_server_port"] = port
            elif k in ("smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults",
                       "no_checker_emails"):
                g[k] = read_bool(c, self.d)
            elif k == "smtp_helo_name":
                if args:
                    g[k] = args[0]
            elif k in ("router_id", "notification_email_from", "smtp_server", "state_dump_file",
                       "vrrp_notify_fifo", "notify_fifo", "lvs_notify_fifo"):
                if args:
                    g[k] = args[0]
                    if k == "smtp_server" and len(args) > 1 and \
                            (v := read_int(args[1], 1, 65535, c.pos, self.d)) is not None:
                        g["smtp_server_port"] = v
                else:
                    self.d.error(c.pos, f"{k} requires a value")
            elif k in ("vrrp_notify_fifo_script", "notify_fifo_script", "lvs_notify_fifo_script"):
                g[k] = self.notify_script(c)
            elif k == "script_user":
                if args:
                    g["script_user"] = args[0]
                    g["script_group"] = args[1] if len(args) > 1 else None
                    if not _user_exists(args[0]) or (len(args) > 1 and not _group_exists(args[1])):
                        self.d.error(c.pos, "Error setting global script uid/gid")
                else:
                    self.d.error(c.pos, "script_user requires a user name")
            elif k == "smtp_connect_timeout":
                if args and (v := read_int(args[0], 1, 2**31 - 1, c.pos, self.d)) is not None:
                    g[k] = float(v)
            elif k == "vrrp_version":
                if args and (v := read_int(args[0], 2, 3, c.pos, self.d)) is not None:
                    g[k] = v
                elif not args:
                    self.d.error(c.pos, "vrrp_version requires a value")
            elif k in ("vrrp_garp_master_delay", "vrrp_garp_master_refresh",
                       "vrrp_garp_lower_prio_delay"):
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    g[k] = float(v)
            elif k in ("vrrp_garp_master_repeat", "vrrp_garp_master_refresh_repeat",
                       "vrrp_garp_lower_prio_repeat"):
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    g[k] = v
            elif k in ("vrrp_garp_interval", "vrrp_gna_interval"):
                cls = kw.numeric_class(args[0]) if args else "eth0"
                if cls is None and 0 < float(args[0]) <= 1:
                    g[k] = float(args[0])
                elif cls is not None:
                    self.d.error(c.pos, f"{k} value '{args[0] if args else ''}' is invalid")
                else:
                    self.d.notice(c.pos, f"{k} {args[0] if args else ''} - keepalived-py uses"
                                         " at most 1s; ignored")
            elif k == "vrrp_down_timer_adverts":
                if args and (v := read_int(args[0], 1, 100, c.pos, self.d)) is not None:
                    g[k] = v
            elif k == "vrrp_min_garp":
                if read_bool(c, self.d):
                    self.min_garp = True
            elif k in ("vrrp_strict", "enable_script_security", "vrrp_skip_check_adv_addr",
                       "vrrp_check_unicast_src", "lvs_flush"):
                g[k] = True                  # keepalived 2.2.7 sets these, whatever follows
            elif k in ("data_use_instance",
                       "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert"):
                g[k] = read_bool(c, self.d)
            elif k in ("vrrp_mcast_group4", "vrrp_mcast_group6"):
                if args and (a := read_address(args[0], c.pos, self.d)) is not None:
                    want = 4 if k.endswith("4") else 6
                    if a.version != want or not a.is_multicast:
                        self.d.error(c.pos, f"{k} '{args[0]}' is not an IPv{want} multicast address"
                                            " - ignoring")
                    else:
                        g[k] = a
            elif k in ("lvs_flush_on_stop", "lvs_flush_onstop"):
                g["lvs_flush_on_stop"] = (args[0].upper() if args else "VS")
            elif k == "vrrp_vmac_garp_intvl":
                self.d.warning(c.pos, 'Keyword "vrrp_vmac_garp_intvl" is deprecated - please use'
                                      ' "vrrp_garp_extra_if"')
            elif k in ("vrrp_iptables", "vrrp_ipsets"):
                self.d.warning(c.pos, "iptables not supported, using nftables instead. Please"
                                      " replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables'"
                                      " config option")
            elif k == "process_names":
                # keepalived sets both names here; a name given later replaces its default
                g["vrrp_process_name"], g["checker_process_name"] = "keepalived_vrrp", "keepalived_lvs"
            elif k in ("process_name", "vrrp_process_name", "checker_process_name",
                       "lvs_process_name") and args:
                name = args[0]
                if len(name) > 15:                  # TASK_COMM_LEN - 1
                    self.d.error(c.pos, f"Process name {name} more than 15 characters, truncating")
                    name = name[:15]
                g["checker_process_name" if k == "lvs_process_name" else k] = name
            elif k == "default_interface":
                if args:
                    self._default_interface = args[0]
                self.later(c, "global_defs")
            elif k == "dataplane":
                if args and args[0] in ("auto", "ipvs", "nftables"):
                    g["dataplane"] = args[0]
                else:
                    self.d.error(c.pos, "dataplane must be auto, ipvs or nftables")
            else:
                rejects = kw.GLOBAL_NUMERIC_REJECTS.get(k)
                if rejects and args and kw.numeric_class(args[0]) in rejects:
                    self.d.error(c.pos, f"{k} value '{args[0]}' is invalid")
                if k in kw.GLOBAL_BOOL_VALUES and args and \
                        args[0].lower() not in ("true", "false", "yes", "no", "on", "off"):
                    self.d.error(c.pos, f"Invalid value '{args[0]}' for global {k} specified")
                self.later(c, "global_defs")

    def _static_addresses(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            a = self.virtual_address(c, None, static=True)
            if a is not None:
                self.static_addresses.append(a)

    def _static_routes(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            r = self.route(c)
            if r is not None:
                self.untracked_route(r)
                self.static_routes.append(r)

    def _static_rules(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            r = self.rule(c)
            if r is not None:
                self.static_rules.append(r)

    def _vrrp_script(self, node: Node) -> None:
        name = node.args[0] if node.args else ""
        if not name:
            self.d.error(node.pos, "vrrp_script requires a name")
        children = self.expect_block(node)
        if children is None or not name:
            return
        f: dict[str, Any] = {"name": name, "pos": node.pos}
        for c in children:
            k, args = c.keyword, c.args
            if k not in kw.VRRP_SCRIPT:
                self.unknown(c)
            elif k == "script":
                f["script"] = self.script(c)
            elif k == "interval":
                if args and (v := read_decimal(args[0], 0.000001, 2**31 / 1e6 * 1e6, c.pos,
                                               self.d)) is not None:
                    f["interval"] = v
            elif k == "timeout":
                if args and (v := read_decimal(args[0], 0.000001, 2**31, c.pos, self.d)) is not None:
                    f["timeout"] = v
            elif k == "weight":
                if args and (v := read_int(args[0], -253, 253, c.pos, self.d)) is not None:
                    f["weight"] = v
                    f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
            elif k in ("rise", "fall"):
                if args and (v := read_int(args[0], 1, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = v
            elif k == "user":
                if args:
                    f["user"] = args[0]
                    f["group"] = args[1] if len(args) > 1 else None
                    if not _user_exists(args[0]) or (len(args) > 1 and not _group_exists(args[1])):
                        # vrrp_parser.c vrrp_script_user_handler: the script is removed
                        self.d.error(c.pos, f"Unable to set uid/gid for script"
                                            f" {' '.join(f['script'].argv) if f.get('script') else ''}")
                        f["removed"] = True
            elif k == "init_fail":
                f["init_fail"] = True
        if f.pop("removed", False):
            return
        if f.get("script") is None:
            self.d.error(node.pos, f"No script set for vrrp_script {name} - ignoring")
            return
        s = f["script"]
        if f.get("user"):
            f["script"] = replace(s, user=f["user"], group=f.get("group"))
        self.scripts.append(VrrpScript(**f))

    def _vrrp_track_process(self, node: Node) -> None:
        name = node.args[0] if node.args else ""
        children = self.expect_block(node)
        if children is None or not name:
            if not name:
                self.d.error(node.pos, "vrrp_track_process requires a name")
            return
        f: dict[str, Any] = {"name": name, "pos": node.pos}
        for c in children:
            k, args = c.keyword, c.args
            if k not in kw.VRRP_TRACK_PROCESS:
                self.unknown(c)
            elif k == "process":
                if args:
                    f["process"] = args[0]
                    f["parameters"] = tuple(args[1:])
                else:
                    self.d.error(c.pos, "process requires a name")
            elif k == "param_match":
                if args and args[0] in ("initial", "partial"):
                    f["param_match"] = args[0]
                else:
                    self.d.error(c.pos, f"Invalid param_match '{' '.join(args)}'")
            elif k == "weight":
                if args and (v := read_int(args[0], -254, 254, c.pos, self.d)) is not None:
                    f["weight"] = v
                    f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
            elif k in ("quorum", "quorum_max"):
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = v
            elif k in ("delay", "fork_delay", "terminate_delay"):
                if args and (x := read_decimal(args[0], 0, 2**31, c.pos, self.d)) is not None:
                    f[k] = x
            elif k == "full_command":
                f["full_command"] = True
        if "process" not in f:
            self.d.error(node.pos, f"vrrp_track_process {name} has no process specified - ignoring")
            return
        qmax = f.get("quorum_max")
        if qmax is not None and qmax < f.get("quorum", 1):
            self.d.error(node.pos, f"vrrp_track_process {name} quorum_max {qmax} < quorum - ignoring")
            return
        self.processes.append(VrrpTrackProcess(**f))

    def _track_file(self, node: Node) -> None:
        name = node.args[0] if node.args else ""
        children = self.expect_block(node)
        if children is None or not name:
            if not name:
                self.d.error(node.pos, f"{node.keyword} requires a name")
            return
        f: dict[str, Any] = {"name": name, "pos": node.pos}
        for c in children:
            k, args = c.keyword, c.args
            if k not in kw.TRACK_FILE:
                self.unknown(c)
            elif k == "file":
                if args:
                    f["file"] = args[0]
            elif k == "weight":
                if args and (v := read_int(args[0], -(2**31) + 1, 2**31 - 1, c.pos, self.d)) is not None:
                    f["weight"] = v
                    f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
            elif k == "init_file":
                value, over = 0, False
                for a in args:
                    if a == "overwrite":
                        over = True
                    elif (v := read_int(a, -(2**31), 2**31 - 1, c.pos, self.d)) is not None:
                        value = v
                f["init_file"], f["init_file_overwrite"] = value, over
        if "file" not in f:
            self.d.error(node.pos, f"No file set for track_file {name}")
            return
        self.files.append(VrrpTrackFile(**f))

    def _sync_group(self, node: Node) -> None:
        name = node.args[0] if node.args else ""
        if len(node.args) != 1:
            self.d.error(node.pos, "vrrp_sync_group must have a name - skipping")
            return
        if any(g.name == name for g in self.groups) or name in self._skipped_groups:
            self.d.error(node.pos, f"vrrp sync group {name} already defined")
            return
        self._skipped_groups.add(name)
        children = self.expect_block(node)
        if children is None or not name:
            return
        f: dict[str, Any] = {"name": name, "pos": node.pos, "group": ()}
        notify: dict[str, Any] = {}
        for c in children:
            k = c.keyword
            if k not in kw.VRRP_SYNC_GROUP:
                self.unknown(c)
            elif k == "group":
                members = tuple(w for n in (self.expect_block(c) or ()) for w in n.words)
                f["group"] = f["group"] + members
            elif k.startswith("track_"):
                f[k] = self.track_refs(c)
                if k == "track_interface" and self.check_interfaces:
                    for r in f[k]:
                        if r.name not in self.interfaces():
                            self.d.error(r.pos, f"({name}) tracked interface {r.name} doesn't"
                                                " exist")
                            self._bad_interface = True
            elif k.startswith("notify") and k != "notify_priority_changes":
                notify[k] = self.notify_script(c)
            elif k == "sync_group_tracking_weight":
                f[k] = True
            elif k == "smtp_alert":
                notify["smtp_alert"] = read_bool(c, self.d)
            elif k == "global_tracking":
                self.d.error(c.pos, f"({name}) global_tracking is deprecated. Use"
                                    " track_interface/script/file on the sync group")
                f["sync_group_tracking_weight"] = True      # what keepalived makes of it
            else:
                self.later(c, "vrrp_sync_group")
        f["notify"] = Notify(**notify)
        self.groups.append(VrrpSyncGroup(**f))

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
                       "no_track", "use_vmac"):
                f[{"-nodad": "nodad"}.get(w, w)] = True
                i += 1
            else:
                self.d.error(node.pos, f"Unknown configuration entry '{w}' for ip address"
                                       " - ignoring")
                i += 1
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
            elif w == "dev" and nxt is not None:
                f["dev"] = nxt
                self.interface_exists(nxt, node.pos, f"route {words[0]}")
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

    # -- vrrp_instance -------------------------------------------------------------------
    def _vrrp_instance(self, node: Node) -> None:
        name = node.args[0] if node.args else ""
        if len(node.args) != 1:
            self.d.error(node.pos, "vrrp_instance must have a name")
            return
        if name in self._skipped_instances:     # every name seen, self.instances' too
            # keepalived skips the whole block of a second instance of the same name
            self.d.error(node.pos, f"vrrp instance {name} already defined")
            return
        self._skipped_instances.add(name)
        children = self.expect_block(node)
        if children is None or not name:
            return
        f: dict[str, Any] = {"name": name, "pos": node.pos}
        seen: dict[str, Any] = {}      # facts for _finish: what was set explicitly
        notify: dict[str, Any] = {}
        vid = f"({name})"
        for c in children:
            k, args = c.keyword, c.args
            if k not in kw.VRRP_INSTANCE:
                self.unknown(c)
                continue
            if k == "state":
                s = args[0] if args else ""
                if s == "MASTER":
                    f["state"] = VrrpState.MASTER
                    seen["state"] = c.pos
                elif s == "BACKUP":
                    if f.get("state") is VrrpState.MASTER:
                        self.d.error(c.pos, f"{vid} state previously set as MASTER - ignoring BACKUP")
                    else:
                        f["state"] = VrrpState.BACKUP
                        seen["state"] = c.pos
                else:
                    self.d.error(c.pos, f"{vid} unknown state '{s}', defaulting to BACKUP")
                    seen["state"] = c.pos
            elif k == "interface":
                if not args:
                    self.d.error(c.pos, f"{vid} interface requires a name")
                    continue
                ifname = args[0]
                if len(ifname) > 15:
                    self.d.error(c.pos, f"Interface name '{ifname}' too long - ignoring")
                    continue
                if ifname == "lo":
                    self.d.error(c.pos, f"{vid} cannot use a loopback interface (lo) for vrrp"
                                        " - ignoring")
                    continue
                f["interface"] = ifname
                if self.check_interfaces and ifname not in self.interfaces():
                    self.d.error(c.pos, f"WARNING - interface {ifname} for vrrp_instance {name}"
                                        " doesn't exist")
                    self._bad_interface = True
            elif k == "virtual_router_id":
                if args and (v := read_int(args[0], 1, 255, c.pos, self.d)) is not None:
                    f["virtual_router_id"] = v
                else:
                    self.d.error(c.pos, f"{vid}: VRID '{args[0] if args else ''}' not valid - must"
                                        " be between 1 & 255")
            elif k == "priority":
                v = read_int(args[0], 1, 255, c.pos, self.d) if args else None
                if v is None:
                    self.d.error(c.pos, f"{vid} Priority not valid! must be between 1 & 255."
                                        " Using default 100")
                else:
                    f["priority"] = v
                    seen["priority"] = True
            elif k == "advert_int":
                x = read_decimal(args[0], 0.01, 255, c.pos, self.d) if args else None
                if x is None or x <= 0:
                    self.d.error(c.pos, f"{vid} Advert interval ({args[0] if args else ''}) not"
                                        " valid! Must be > 0 - ignoring")
                else:
                    f["advert_int"] = x
                    seen["advert_int"] = c.pos
            elif k == "version":
                if args and (v := read_int(args[0], 2, 3, c.pos, self.d)) is not None:
                    f["version"] = v
                    seen["version"] = True
                else:
                    self.d.error(c.pos, f"{vid}: Version must be 2 or 3")
            elif k in ("nopreempt", "no_preempt"):
                f["nopreempt"] = True
                seen["nopreempt"] = c.pos
            elif k == "preempt":
                f["nopreempt"] = False
            elif k == "preempt_delay":
                if args and (x := read_decimal(args[0], 0, 1000, c.pos, self.d)) is not None:
                    f["preempt_delay"] = x
                    seen["preempt_delay"] = c.pos
            elif k == "accept":
                f["accept"] = True
                seen["accept"] = True
            elif k == "no_accept":
                f["accept"] = False
                seen["accept"] = True
            elif k == "strict_mode":
                f["strict_mode"] = read_bool(c, self.d)
            elif k == "dont_track_primary":
                f["dont_track_primary"] = True
            elif k in ("track_interface", "track_script", "track_process", "track_file",
                       "track_bfd"):
                refs = self.track_refs(c)
                if k == "track_interface" and self.check_interfaces:
                    for r in refs:
                        if r.name not in self.interfaces():
                            self.d.error(r.pos, f"{vid} tracked interface {r.name} doesn't exist")
                            self._bad_interface = True
                f[k] = f.get(k, ()) + refs
            elif k in ("mcast_src_ip", "unicast_src_ip"):
                if args:
                    f[k] = read_address(args[0], c.pos, self.d)
                if k == "unicast_src_ip":
                    seen["unicast_kw"] = True
            elif k == "mcast_dst_ip":
                if args and (a := read_address(args[0], c.pos, self.d)) is not None:
                    if not a.is_multicast:
                        self.d.error(c.pos, f"{vid} mcast_dst_ip {a} is not a multicast address")
                    else:
                        f[k] = a
            elif k == "unicast_peer":
                peers = list(f.get("unicast_peer", ()))
                for row in c.children or ():
                    a = read_address(row.words[0], row.pos, self.d)
                    if a is None:
                        continue
                    pf: dict[str, Any] = {"address": a, "pos": row.pos}
                    rest = row.words[1:]
                    for j in range(0, len(rest) - 1, 2):
                        if rest[j] in ("min_ttl", "max_ttl"):
                            pf[rest[j]] = read_int(rest[j + 1], 0, 255, row.pos, self.d)
                    peers.append(UnicastPeer(**pf))
                f["unicast_peer"] = tuple(peers)
                seen["unicast_kw"] = True
            elif k == "unicast_ttl":
                if args and (v := read_int(args[0], 0, 255, c.pos, self.d)) is not None:
                    f[k] = v
                    seen["unicast"] = True
            elif k in ("unicast_fault_no_peer", "check_unicast_src", "track_src_ip",
                       "promote_secondaries", "skip_check_adv_addr", "vmac_xmit_base"):
                f[k] = True
                if k in ("unicast_fault_no_peer", "check_unicast_src"):
                    seen["unicast_kw"] = True
            elif k == "old_unicast_checksum":
                f[k] = not (args and args[0] == "never")
                seen["unicast_kw"] = True
            elif k == "authentication":
                for row in c.children or ():
                    if row.keyword == "auth_type":
                        t = row.args[0] if row.args else ""
                        if t not in ("PASS", "AH"):
                            self.d.error(row.pos, f"{vid} unknown authentication type '{t}'")
                        else:
                            f["auth_type"] = t
                    elif row.keyword == "auth_pass":
                        pw = row.raw.strip().strip('"') if row.args else ""
                        if len(pw) > 8:
                            self.d.error(row.pos, f"{vid} Truncating auth_pass to 8 characters")
                        f["auth_pass"] = pw[:8]
                    else:
                        self.unknown(row)
                seen["auth"] = c.pos
            elif k in ("auth_type", "auth_pass"):
                self.later(c, "vrrp_instance")
            elif k in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
                addrs = list(f.get(k, ()))
                for row in self.expect_block(c) or ():
                    va = self.virtual_address(row, name)
                    if va is not None:
                        addrs.append(va)
                f[k] = tuple(addrs)
            elif k == "virtual_routes":
                routes = []
                for row in self.expect_block(c) or ():
                    vr = self.route(row)
                    if vr is not None:
                        self.untracked_route(vr)
                        routes.append(vr)
                f[k] = f.get(k, ()) + tuple(routes)
            elif k == "virtual_rules":
                f[k] = f.get(k, ()) + tuple(rl for row in self.expect_block(c) or ()
                                            if (rl := self.rule(row)) is not None)
            elif k in ("garp_master_delay", "garp_lower_prio_delay"):
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = float(v)
            elif k == "garp_master_refresh":
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = float(v)
            elif k in ("garp_master_repeat", "garp_lower_prio_repeat",
                       "garp_master_refresh_repeat"):
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = v
            elif k == "down_timer_adverts":
                if args and (v := read_int(args[0], 1, 100, c.pos, self.d)) is not None:
                    f[k] = v
                    seen[k] = c.pos
            elif k in ("lower_prio_no_advert", "higher_prio_send_advert"):
                f[k] = read_bool(c, self.d)
                seen[k] = c.pos
            elif k == "debug":
                if args and (v := read_int(args[0], 0, 4, c.pos, self.d)) is not None:
                    f[k] = v
            elif k.startswith("notify") and k != "notify_priority_changes":
                notify[k] = self.notify_script(c)
            elif k == "smtp_alert":
                notify["smtp_alert"] = read_bool(c, self.d)
            elif k == "use_vmac":
                f["use_vmac"] = args[0] if args else f"vrrp.{f.get('virtual_router_id', 0)}"
                self.later(c, "vrrp_instance")
            elif k == "kernel_rx_buf_size":
                if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, self.d)) is not None:
                    f[k] = v
            elif k == "native_ipv6":
                seen["native_ipv6"] = True
            elif k == "linkbeat_use_polling":
                self.d.error(c.pos, f"{vid} 'linkbeat_use_polling' in vrrp instance deprecated -"
                                    " use linkbeat_interfaces block")
            elif k == "lvs_sync_daemon_interface":
                self.d.error(c.pos, f"{vid} Specifying lvs_sync_daemon_interface against a vrrp"
                                    " is deprecated.")
            elif k == "vmac_garp_intvl":
                self.d.warning(c.pos, 'Keyword "vmac_garp_intvl" is deprecated - please use'
                                      ' "garp_extra_if"')
            else:
                self.later(c, "vrrp_instance")
        f["notify"] = Notify(**notify)
        if "virtual_router_id" not in f:
            self.d.error(node.pos, f"{vid} the virtual router id must be set")
            return
        f.setdefault("interface", None)
        self.instances.append((VrrpInstance(**f), seen))

    def _garp_group(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            if c.keyword not in kw.GARP_GROUP:
                self.unknown(c)
        self.later(node, "top-level")

    def _linkbeat(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            ifname = c.words[0]
            if self.check_interfaces and ifname not in self.interfaces():
                # keepalived 2.2.7 vrrp_parser.c alloc_linkbeat_interface: CONFIG_FATAL
                self.d.fatal(c.pos, f"unknown interface {ifname} specified for linkbeat interface")
                continue
            if len(c.words) > 1 and (c.words[1] not in ("MII", "ETHTOOL", "IOCTL")
                                     or len(c.words) > 2):
                self.d.error(c.pos, f"extra characters {c.words[1]} in linkbeat interface")
        self.later(node, "top-level")

    def _track_group(self, node: Node) -> None:
        for c in self.expect_block(node) or ():
            if c.keyword not in ("group",):
                self.unknown(c)
        self.later(node, "top-level")

    def _lvs(self, node: Node) -> None:
        self.lvs_blocks.append(node)

    # -- cross references ----------------------------------------------------------------
    def _finish(self) -> Config:
        d = self.d
        gkeys = {f.name for f in fields(GlobalDefs)}
        if self.min_garp:
            # keepalived's vrrp_min_garp: one gratuitous ARP/NA, no repeat, no refresh, no
            # delay - without overriding what global_defs sets explicitly (in any order)
            for key, value in (("vrrp_garp_master_repeat", 1), ("vrrp_garp_master_delay", 0.0),
                               ("vrrp_garp_master_refresh", 0.0),
                               ("vrrp_garp_master_refresh_repeat", 0)):
                self.global_fields.setdefault(key, value)
        g = GlobalDefs(**{k: v for k, v in self.global_fields.items() if k in gkeys})
        if g.enable_script_security and g.script_user is None and \
                self.first_script is not None and not _user_exists("keepalived_script"):
            # keepalived's default script user does not exist: scripts without a user go
            d.error(self.first_script, "Unable to set default user keepalived_script for script")
            for s in [s for s in self.scripts if s.user is None]:
                d.error(s.pos, f"Unable to set default user for vrrp script {s.name} - removing")
            self.scripts = [s for s in self.scripts if s.user is not None]
        script_names = {s.name for s in self.scripts}
        process_names = {p.name for p in self.processes}
        file_names = {f.name for f in self.files}
        member_of: dict[str, str] = {}
        groups: list[VrrpSyncGroup] = []
        inst_names = {i.name for i, _ in self.instances}
        for grp in self.groups:
            members = []
            for m in grp.group:
                if m not in inst_names:
                    d.error(grp.pos, f"Unable to find vrrp instance {m}")
                    continue
                if m in member_of:
                    d.error(grp.pos, f"VRRP instance {m} cannot be in more than one sync group")
                    continue
                member_of[m] = grp.name
                members.append(m)
            if not members:
                d.error(grp.pos, f"Sync group {grp.name} has no virtual router(s).")
                continue
            if len(members) == 1:
                d.warning(grp.pos, f"Sync group {grp.name} has only 1 virtual router(s) -"
                                   " this probably isn't what you want")
            groups.append(replace(grp, group=tuple(members)))

        if self.check_interfaces and self._default_interface not in self.interfaces():
            # vrrp_ipaddress.c parse_ipaddress: a static address needs its dev or the default one
            for a in [a for a in self.static_addresses if a.dev is None]:
                d.fatal(a.pos, f"Static address {a.address} requires either an interface or"
                               " default interface must exist")
            self.static_addresses = [a for a in self.static_addresses if a.dev is not None]
        instances: list[VrrpInstance] = []
        used_scripts: set[str] = set()
        seen_vrid: dict[tuple[str | None, int, int, str], str] = {}
        for inst, seen in self.instances:
            vid = f"({inst.name})"
            f: dict[str, Any] = {}
            addrs = inst.virtual_ipaddress + inst.virtual_ipaddress_excluded
            fam6 = bool(inst.virtual_ipaddress) and inst.virtual_ipaddress[0].address.version == 6
            if not inst.virtual_ipaddress and inst.virtual_ipaddress_excluded:
                fam6 = inst.virtual_ipaddress_excluded[0].address.version == 6
            if seen.get("native_ipv6"):
                fam6 = True
            f["family"] = 6 if fam6 else 4
            mixed = [a for a in inst.virtual_ipaddress if (a.address.version == 6) != fam6]
            for a in mixed:
                d.error(a.pos, f"{vid}: address family must match VRRP instance family - skipping"
                               f" {a.address}")
            if mixed:
                f["virtual_ipaddress"] = tuple(a for a in inst.virtual_ipaddress if a not in mixed)
            version = inst.version if seen.get("version") else g.vrrp_version
            strict = inst.strict_mode or g.vrrp_strict
            if fam6:
                # keepalived 2.2.7 runs IPv6 with an explicit `version 2` (only strict mode
                # forbids it); without one, IPv6 means version 3 whatever vrrp_version says
                if seen.get("version") and inst.version == 2 and strict:
                    d.error(inst.pos, f"{vid} cannot use IPv6 with VRRP version 2; setting"
                                      " version 3")
                    version = 3
                elif not (seen.get("version") and inst.version == 2):
                    version = 3
            f["version"] = version
            priority = inst.priority
            if inst.state is VrrpState.MASTER and not seen.get("priority"):
                priority = VRRP_PRIO_OWNER
            f["priority"] = priority
            # keepalived's initial state: as configured, else derived from the priority (the
            # address owner starts MASTER); strict mode makes them agree
            if not seen.get("state"):
                f["state"] = VrrpState.MASTER if priority == VRRP_PRIO_OWNER else VrrpState.BACKUP
            elif strict:
                if (inst.state is VrrpState.MASTER) != (priority == VRRP_PRIO_OWNER):
                    d.error(seen["state"], f"{vid} State MASTER must match being address owner")
                    f["state"] = VrrpState.MASTER if priority == VRRP_PRIO_OWNER \
                        else VrrpState.BACKUP
            if inst.interface is None and not inst.unicast_peer:
                d.error(inst.pos, f"{vid} Unknown interface!")
            if not addrs:
                d.warning(inst.pos, f"{vid} No VIP specified; at least one is sensible")
            if seen.get("auth"):
                if version == 3:
                    d.error(seen["auth"], f"{vid} VRRP version 3 does not support authentication."
                                          " Ignoring.")
                    f["auth_type"] = None
                    f["auth_pass"] = None
                elif strict:
                    d.error(seen["auth"], f"{vid} Strict mode does not support authentication."
                                          " Ignoring.")
                    f["auth_type"] = None
                elif inst.auth_type == "AH" and inst.state is VrrpState.MASTER:
                    d.error(seen["auth"], f"{vid} Initial state master is incompatible with AH"
                                          " authentication - clearing")
                    f["state"] = VrrpState.BACKUP
                elif inst.auth_type and not inst.auth_pass:
                    d.error(seen["auth"], f"{vid} Authentication specified but no password given."
                                          " Ignoring")
                    f["auth_type"] = None
            if inst.nopreempt and priority == VRRP_PRIO_OWNER:
                d.error(seen.get("nopreempt", inst.pos),
                        f"{vid} nopreempt is incompatible with priority 255. resetting nopreempt")
                f["nopreempt"] = False
            elif inst.nopreempt and f.get("state", inst.state) is VrrpState.MASTER:
                # keepalived clears nopreempt and keeps the initial state MASTER
                d.error(seen.get("nopreempt", inst.pos),
                        f"{vid} Warning - nopreempt will not work with initial state MASTER -"
                        " clearing")
                f["nopreempt"] = False
            if inst.preempt_delay and f.get("state", inst.state) is VrrpState.MASTER:
                d.error(seen.get("preempt_delay", inst.pos),
                        f"{vid} Warning - preempt delay will not work with initial state"
                        " MASTER - clearing")
                f["preempt_delay"] = 0.0
            elif inst.preempt_delay and strict:
                d.error(seen.get("preempt_delay", inst.pos),
                        f"{vid} preempt_delay is incompatible with strict mode - resetting")
                f["preempt_delay"] = 0.0
            elif inst.preempt_delay and f.get("nopreempt", inst.nopreempt):
                d.error(seen.get("preempt_delay", inst.pos),
                        f"{vid} preempt_delay is incompatible with nopreempt mode - resetting")
                f["preempt_delay"] = 0.0
            advert = inst.advert_int
            if version == 2 and advert != int(advert):
                d.error(seen.get("advert_int", inst.pos),
                        f"{vid} VRRPv2 advertisement interval {advert:f}s must be an integer."
                        " rounding")
                advert = float(max(1, round(advert)))
            elif version == 3 and round(advert * 100) != advert * 100:
                d.error(seen.get("advert_int", inst.pos),
                        f"{vid} VRRPv3 advertisement interval {advert:.2f}s must be a multiple of"
                        " 0.01s. rounding")
                advert = round(advert * 100) / 100
            if version == 3 and advert > 40.95:
                d.error(seen.get("advert_int", inst.pos),
                        f"{vid} VRRPv3 advertisement interval {advert:.2f}s too long - setting"
                        " to 40.95s")
                advert = 40.95
            f["advert_int"] = advert
            f["accept"] = inst.accept if seen.get("accept") else not strict
            if seen.get("unicast_kw") and not inst.unicast_peer and not inst.unicast_fault_no_peer:
                d.warning(inst.pos, f"{vid} A unicast keyword has been specified without any"
                                    " unicast peers. Defaulting to multicast. This usage is"
                                    " deprecated - please update your configuration.")
            if strict and inst.unicast_peer:
                d.error(inst.pos, f"{vid} Unicast peers are not supported in strict mode")
            f["strict_mode"] = strict
            for key, gkey in (("garp_master_delay", "vrrp_garp_master_delay"),
                              ("garp_master_repeat", "vrrp_garp_master_repeat"),
                              ("garp_master_refresh", "vrrp_garp_master_refresh"),
                              ("garp_master_refresh_repeat", "vrrp_garp_master_refresh_repeat")):
                if key not in {fl for fl in _explicit(inst)}:
                    f[key] = getattr(g, gkey)
            f["garp_interval"] = g.vrrp_garp_interval
            f["gna_interval"] = g.vrrp_gna_interval
            # an instance's own setting (true or false) wins over global_defs; strict mode
            # forces no advert on a lower priority and no lower-priority GARPs
            if "lower_prio_no_advert" not in seen and g.vrrp_lower_prio_no_advert:
                f["lower_prio_no_advert"] = True
            if "higher_prio_send_advert" not in seen and g.vrrp_higher_prio_send_advert:
                f["higher_prio_send_advert"] = True
            if strict:
                f["lower_prio_no_advert"] = True
                f["garp_lower_prio_delay"] = 0.0
                f["garp_lower_prio_repeat"] = 0
            if "down_timer_adverts" not in seen:
                f["down_timer_adverts"] = g.vrrp_down_timer_adverts
            if strict and f.get("down_timer_adverts", inst.down_timer_adverts) != 3:
                d.error(seen.get("down_timer_adverts", inst.pos),
                        f"{vid} down_timer_adverts is incompatible with strict mode - resetting")
                f["down_timer_adverts"] = 3
            if g.vrrp_skip_check_adv_addr:
                f["skip_check_adv_addr"] = True
            if g.vrrp_check_unicast_src:
                f["check_unicast_src"] = True
            f["sync_group"] = member_of.get(inst.name)
            grp_obj = next((gr for gr in groups if gr.name == f["sync_group"]), None)
            if grp_obj is not None and not grp_obj.sync_group_tracking_weight:
                own = {"track_script": {s.name: s.weight for s in self.scripts},
                       "track_process": {p.name: p.weight for p in self.processes},
                       "track_file": {t.name: t.weight for t in self.files}}
                for kind, what in (("track_script", "script"), ("track_process", "process"),
                                   ("track_file", "file"), ("track_interface", "interface")):
                    kept = []
                    for ref in getattr(inst, kind):
                        w = ref.weight if ref.weight is not None else \
                            own.get(kind, {}).get(ref.name, 0)
                        if w and kind == "track_interface":
                            # keepalived keeps the interface, tracked with weight 0
                            d.error(ref.pos, f"{vid} ignoring {ref.name} tracked interface"
                                             " weight due to SYNC group")
                            kept.append(replace(ref, weight=0, reverse=False))
                        elif w:
                            d.error(ref.pos, f"{vid} ignoring tracked {what} {ref.name} with"
                                             " weights due to SYNC group")
                        else:
                            kept.append(ref)
                    inst = replace(inst, **{kind: tuple(kept)})  # type: ignore[arg-type]
            if inst.interface is not None and any(r.name == inst.interface
                                                  for r in inst.track_interface):
                for ref in inst.track_interface:
                    if ref.name == inst.interface:
                        d.error(ref.pos, f"{vid} Ignoring track_interface {ref.name} since own"
                                         " interface")
                inst = replace(inst, track_interface=tuple(
                    r for r in inst.track_interface if r.name != inst.interface))
            for ref in inst.track_script:
                if ref.name not in script_names:
                    d.error(ref.pos, f"{vid} track script {ref.name} not found, ignoring...")
                used_scripts.add(ref.name)
            f["track_script"] = tuple(r for r in inst.track_script if r.name in script_names)
            for ref in inst.track_process:
                if ref.name not in process_names:
                    d.error(ref.pos, f"{vid} track process {ref.name} not found, ignoring...")
            f["track_process"] = tuple(r for r in inst.track_process if r.name in process_names)
            for ref in inst.track_file:
                if ref.name not in file_names:
                    d.error(ref.pos, f"{vid} track file {ref.name} not found, ignoring...")
            f["track_file"] = tuple(r for r in inst.track_file if r.name in file_names)
            if inst.interface is not None:
                multicast = not inst.unicast_peer
                vrid_key = (inst.interface, inst.virtual_router_id, f["family"],
                            "multicast" if multicast else
                            ",".join(sorted(str(p.address) for p in inst.unicast_peer)))
                other = seen_vrid.get(vrid_key)
                if other is not None:
                    d.error(inst.pos, f"{other} and {inst.name} both use VRID"
                                      f" {inst.virtual_router_id} with IPv{f['family']} on"
                                      f" interface {inst.interface}")
                else:
                    seen_vrid[vrid_key] = inst.name
            instances.append(replace(inst, **f))
        for grp in groups:
            for ref in grp.track_script:
                used_scripts.add(ref.name)
        for s in self.scripts:
            if s.name not in used_scripts:
                # keepalived says so when the VRRP process starts, not under -t
                d.notice(s.pos, f"Warning - script {s.name} is not used")
        scripts_in_use = []
        run: list[Script | None] = []
        if self._skipped_instances:
            # vrrp.c check_vrrp_script_security(): with any vrrp instance, every vrrp_script
            # (used or not) is checked; one that exists makes script security necessary
            for s in self.scripts:
                if not is_script(s.script):
                    if not s.script.argv[0].startswith("<"):
                        d.error(s.pos, f"Disabling track script {s.name} since not"
                                       " found/accessible")
                    continue
                run.append(s.script)
                if s.name in used_scripts:
                    scripts_in_use.append(s)
            run += [getattr(i.notify, fl.name) for i in instances for fl in fields(Notify)
                    if fl.name != "smtp_alert"]
            run += [getattr(grp.notify, fl.name) for grp in groups for fl in fields(Notify)
                    if fl.name != "smtp_alert"]
            run += [g.notify_fifo_script, g.vrrp_notify_fifo_script]
        if any(is_script(s) for s in run) and not g.enable_script_security \
                and not self._bad_interface:
            d.security(None, "SECURITY VIOLATION - scripts are being executed but script_security"
                             " not enabled.")
        if self._bad_interface:
            d.fatal(None, "Non-existent interface specified in configuration")

        from keepalived_py.config import build_lvs
        vsgs, vss, bfds = build_lvs.build(self.lvs_blocks, g, self)
        for key, pos in self.unimplemented.items():
            d.notice(pos, f"'{key.split()[-1]}' ({key.split()[0]}) is accepted but not"
                          " implemented by keepalived-py yet")
        return Config(global_defs=g, static_ipaddress=tuple(self.static_addresses),
                      static_routes=tuple(self.static_routes),
                      static_rules=tuple(self.static_rules), vrrp_scripts=tuple(self.scripts),
                      vrrp_track_processes=tuple(self.processes),
                      vrrp_track_files=tuple(self.files), vrrp_sync_groups=tuple(groups),
                      vrrp_instances=tuple(instances), virtual_server_groups=vsgs,
                      virtual_servers=vss, bfd_instances=bfds, ssl=self.ssl)


def _skipped_server(n: Node, context: str) -> bool:
    return kw.skipped_header(context, n.words)


def _group_exists(name: str) -> bool:
    import grp
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _user_exists(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def is_script(script: Script | None) -> bool:
    """keepalived's SC_ISSCRIPT (notify.c check_script_secure()): a bare name found on PATH, or
    a path that exists (executable or not); '</file' checks are not scripts."""
    if script is None or not script.argv:
        return False
    path = script.argv[0]
    if path.startswith("<"):
        return False
    if "/" not in path:
        return shutil.which(path) is not None
    return os.path.exists(path)


def executable(script: Script | None) -> bool:
    """Would keepalived run this script (it exists and is executable)? Missing scripts are
    disabled quietly by keepalived, so they do not count for script security."""
    if script is None or not script.argv:
        return False
    path = script.argv[0]
    if path.startswith("<"):
        return False
    if "/" not in path:
        return shutil.which(path) is not None
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _explicit(inst: VrrpInstance) -> set[str]:
    """Fields of `inst` that differ from the dataclass default (set in the config)."""
    return {name for name, default in _instance_defaults() if getattr(inst, name) != default}


@functools.cache
def _instance_defaults() -> tuple[tuple[str, Any], ...]:
    defaults = VrrpInstance(name="x", interface=None, virtual_router_id=1)
    return tuple((f.name, getattr(defaults, f.name)) for f in fields(VrrpInstance)
                 if f.name not in ("name", "interface", "virtual_router_id", "pos"))


TOP = {
    "global_defs": Builder._global_defs,
    "static_ipaddress": Builder._static_addresses,
    "static_routes": Builder._static_routes,
    "static_rules": Builder._static_rules,
    "vrrp_script": Builder._vrrp_script,
    "vrrp_track_process": Builder._vrrp_track_process,
    "track_file": Builder._track_file,
    "vrrp_track_file": Builder._track_file,
    "vrrp_sync_group": Builder._sync_group,
    "vrrp_instance": Builder._vrrp_instance,
    "garp_group": Builder._garp_group,
    "linkbeat_interfaces": Builder._linkbeat,
    "track_group": Builder._track_group,
    "virtual_server": Builder._lvs,
    "virtual_server_group": Builder._lvs,
    "bfd_instance": Builder._lvs,
    "SSL": Builder._lvs,
}


def build_config(tree: tuple[Node, ...], diags: Diagnostics, *,
                 check_interfaces: bool = False,
                 views: tuple[tuple[tuple[Node, ...], frozenset[str]], ...] = ()) -> Config:
    """Build the model; every problem goes to `diags` (never raises for bad input).
    views: the same configuration as keepalived's other processes read it (blocks.read_trees);
    a keyword missing its value in any of them stops the reading."""
    return Builder(diags, check_interfaces).build(tree, views)

