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

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from keepalived_py.config import build_lvs, build_process, lvs_globals
from keepalived_py.config import keywords as kw
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.context import BuildContext, Host
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
from keepalived_py.config.model import evolve as replace  # dataclasses.replace, faster (issue 16)
from keepalived_py.config.strict import (
    complete_accept_vmac,
    complete_strict_adverts,
    vmac_name,
)
from keepalived_py.config.track_weights import group_weights, member_weights
from keepalived_py.config import ipvlan
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


class Builder(BuildContext):
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
        self._has_virtual_server = any(n.keyword == "virtual_server" for n in tree)
        try:
            # keepalived -t stops on a keyword without its value only as one of its processes
            # reads the file (blocks.read_trees); without those readings, the whole tree
            for view, inactive in views or ((tree, frozenset()),):
                self._missing_values(tuple(n for n in view if n.keyword not in inactive))
        except _Abort:
            self.d.aborted = 2
            return Config()
        self._not_implemented(tree)
        read = _read_by_owner(tree, views)
        for node in tree:
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
            if k in build_process.KEYWORDS:      # scheduling, umask, start/stop scripts...
                build_process.parse(c, self.process_fields, self.d)
                if k not in build_process.SHARED:
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
            elif k == "no_email_faults":
                g[k] = True             # global_parser.c: takes no value, ignores any
            elif k in ("smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_checker_emails"):
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
                    if not self.user_group_exist(args):
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
            elif k in vk.GLOBAL:                         # VRRP globals (issue 12)
                vk.global_keyword(c, g, self.d)
                self._default_interface = g.get("default_interface", self._default_interface)
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
                g["lvs_flush_on_stop"] = lvs_globals.lvs_flush_on_stop(
                    args, c.pos, self.d, g.get("lvs_flush_on_stop"))
            elif k == "rs_init_notifies":
                word = args[0].lower() if args else "true"
                if word in ("true", "yes", "on", "false", "no", "off"):
                    g[k] = word in ("true", "yes", "on")
                else:
                    self.d.error(c.pos, f"Invalid value '{args[0]}' for global {k} specified")
            elif k == "lvs_sync_daemon":
                g[k] = lvs_globals.lvs_sync_daemon(args, c.pos, self.d, g.get(k))
            elif k == "lvs_timeouts":
                g[k] = lvs_globals.lvs_timeouts(args, c.pos, self.d, g.get(k, (0, 0, 0)))
            elif k in ("vrrp_vmac_garp_intvl", "vrrp_garp_extra_if"):
                if k == "vrrp_vmac_garp_intvl":
                    self.d.warning(c.pos, 'Keyword "vrrp_vmac_garp_intvl" is deprecated - please'
                                          ' use "vrrp_garp_extra_if"')
                if (ge := vk.garp_extra_if(c, self.d, None)) is not None:   # issue 12
                    g["vrrp_garp_extra_if"], g["vrrp_garp_extra_if_all"] = ge
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
            elif k in ("enable_dbus", "enable_traps", "enable_snmp_vrrp", "enable_snmp_checker",
                       "enable_snmp_rfcv2", "enable_snmp_rfcv3"):
                g[k] = True                  # keepalived 2.2.7 sets these, whatever follows
            elif k == "enable_snmp_keepalived":                 # deprecated since 2.0.0
                g["enable_snmp_vrrp"] = True
            elif k == "enable_snmp_rfc":
                g["enable_snmp_rfcv2"] = g["enable_snmp_rfcv3"] = True
            elif k == "dbus_service_name":
                if args:
                    g[k] = args[0]
                else:
                    self.d.error(c.pos, "dbus_service_name missing - ignoring")
            elif k == "snmp_socket":
                if len(args) > 1:
                    self.d.error(c.pos, "Too many parameters specified for snmp_socket - ignoring")
                elif not args:
                    self.d.error(c.pos, "SNMP error : snmp socket name missing")
                elif len(args[0]) > 4095:
                    self.d.error(c.pos, "SNMP error : snmp socket name too long - ignored")
                elif "snmp_socket" in g:
                    self.d.error(c.pos, f"SNMP socket already set to {g[k]} - ignoring")
                else:
                    g[k] = args[0]
            elif k in ("startup_script", "shutdown_script"):
                # main.c checks these scripts' security, also under -t
                if args and (argv := script_argv(tuple(args))):
                    self._start_stop.append(Script(argv=argv, text=" ".join(args), pos=c.pos))
            elif k == "include_check":
                pass                    # acted on while the text is read (config/source.py)
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
                if args:        # lib/notify.c set_script_params_array: no words, no change
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
                    if not self.user_group_exist(args):
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
                # vrrp_parser.c vrrp_tprocess_weight_handler
                if not args:
                    self.d.error(c.pos, f"No weight specified for track process {name} - ignoring")
                elif f.get("weight"):
                    self.d.error(c.pos, f"Weight already set for track process {name} - ignoring"
                                        f" {args[0]}")
                elif (v := read_int(args[0], -254, 254, c.pos, self.d)) is not None:
                    f["weight"] = v
                    f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
                    if len(args) > 1 and args[1] != "reverse":
                        self.d.error(c.pos, f"vrrp_track_process {name} unknown weight option"
                                            f" {args[1]}")
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
                # track_file.c track_file_file_handler
                if not args:
                    self.d.error(c.pos, "track file file name missing")
                elif "file" in f:
                    self.d.error(c.pos, f"File already set for track file {name} - ignoring"
                                        f" {args[0]}")
                else:
                    f["file"] = args[0]
            elif k == "weight":
                # track_file.c track_file_weight_handler (1 is the default: "not set yet")
                if not args:
                    self.d.error(c.pos, f"No weight specified for track file {name} - ignoring")
                elif f.get("weight", 1) != 1:
                    self.d.error(c.pos, f"Weight already set for track file {name} - ignoring"
                                        f" {args[0]}")
                else:
                    v = read_int(args[0], -254, 254, c.pos, self.d)
                    f["weight"] = 1 if v is None else v
                    f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
                    if len(args) > 1 and args[1] != "reverse":
                        self.d.error(c.pos, f"track_file {name} unknown weight option {args[1]}")
            elif k == "init_file":
                # track_file.c track_file_init_handler
                value, over = 0, False
                for a in args:
                    if a == "overwrite":
                        over = True
                    elif a[:1].isdigit() or a[:1] == "-":
                        try:
                            v = int(a)
                        except ValueError:
                            v = None
                        if v is None or not -(2**31) <= v < 2**31:
                            self.d.error(c.pos, f"Track file {name} init value {a} is invalid")
                            v = 0
                        elif not -254 <= v <= 254:
                            self.d.error(c.pos, f"Track file {name} init value {v} is outside"
                                                " sensible range [-254, 254]")
                        value = v
                    else:
                        self.d.error(c.pos, f"Unknown track file init option {a}")
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
                            self.bad_interface = True
            elif k == "notify_priority_changes":
                f[k] = vk.notify_priority_changes(c, name, "sync group ", self.d)
            elif k.startswith("notify"):
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
        draft = _Draft(name, node.pos)
        for c in children:
            if c.keyword not in kw.VRRP_INSTANCE:
                self.unknown(c)
                continue
            INSTANCE.get(c.keyword, _i_later)(self, c, draft)
        draft.f["notify"] = Notify(**draft.notify)
        if "virtual_router_id" not in draft.f:
            # vrrp.c chk_min_cfg, after reading: reported with vrrp_complete_init's messages
            self._no_vrid.append((node.pos, f"{draft.vid} the virtual router id must be set"))
            self._dropped_notify.append(draft.f["notify"])   # still checked for script security
            return
        draft.f.setdefault("interface", None)
        self.instances.append((VrrpInstance(**draft.f), draft.given))

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
        g = self._global_defs_model()
        self._script_default_user(g)
        self._check_static_addresses()
        # keepalived's VRRP process stops right after reading when an interface it was given
        # does not exist (vrrp_daemon.c, "Non-existent interface"): nothing of its
        # vrrp_complete_init is reported then (sync groups, instances, script security)
        complete_init = len(self.d.items)
        for pos, message in self._no_vrid:
            self.d.error(pos, message)
        groups, member_of = self._resolve_sync_groups()
        self.used_scripts: set[str] = set()
        self.seen_vrid: dict[tuple[str | None, int, int, str], str] = {}
        instances = [i for i in (_InstanceResolution(self, g, inst, seen).run(member_of, groups)
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
        self._unused_scripts(groups)
        self._script_security(g, instances, groups)
        if self.bad_interface:
            del self.d.items[complete_init:]
            self.d.fatal(None, "Non-existent interface specified in configuration")
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

    def _global_defs_model(self) -> GlobalDefs:
        gkeys = {f.name for f in fields(GlobalDefs)}
        if self.min_garp:
            # keepalived's vrrp_min_garp: one gratuitous ARP/NA, no repeat, no refresh, no
            # delay - without overriding what global_defs sets explicitly (in any order)
            for key, value in (("vrrp_garp_master_repeat", 1), ("vrrp_garp_master_delay", 0.0),
                               ("vrrp_garp_master_refresh", 0.0),
                               ("vrrp_garp_master_refresh_repeat", 0)):
                self.global_fields.setdefault(key, value)
        self.global_fields["process"] = build_process.model(self.process_fields)
        return GlobalDefs(**{k: v for k, v in self.global_fields.items() if k in gkeys})

    def _script_default_user(self, g: GlobalDefs) -> None:
        """keepalived's default script user does not exist: scripts without a user go."""
        if g.enable_script_security and g.script_user is None and \
                self.first_script is not None and not self.host.user_exists("keepalived_script"):
            self.d.error(self.first_script,
                         "Unable to set default user keepalived_script for script")
            for s in [s for s in self.scripts if s.user is None]:
                self.d.error(s.pos, f"Unable to set default user for vrrp script {s.name} -"
                                    " removing")
            self.scripts = [s for s in self.scripts if s.user is not None]

    def _resolve_sync_groups(self) -> tuple[list[VrrpSyncGroup], dict[str, str]]:
        """The groups with known members, and each member's group."""
        d = self.d
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
        return groups, member_of

    def _check_static_addresses(self) -> None:
        if self.interface_missing(self._default_interface):
            # vrrp_ipaddress.c parse_ipaddress: a static address needs its dev or the default one
            for a in [a for a in self.static_addresses if a.dev is None]:
                self.d.fatal(a.pos, f"Static address {a.address} requires either an interface or"
                                    " default interface must exist")
            self.static_addresses = [a for a in self.static_addresses if a.dev is not None]

    def _unused_scripts(self, groups: list[VrrpSyncGroup]) -> None:
        for grp in groups:
            for ref in grp.track_script:
                self.used_scripts.add(ref.name)
        for s in self.scripts:
            if s.name not in self.used_scripts:
                # keepalived says so when the VRRP process starts, not under -t
                self.d.notice(s.pos, f"Warning - script {s.name} is not used")

    def _script_security(self, g: GlobalDefs, instances: list[VrrpInstance],
                         groups: list[VrrpSyncGroup]) -> None:
        run: list[Script | None] = []
        if self._skipped_instances:
            # vrrp.c check_vrrp_script_security(): with any vrrp instance, every vrrp_script
            # (used or not) is checked; one that exists makes script security necessary
            for s in self.scripts:
                if not self.host.is_script(s.script):
                    if not s.script.argv[0].startswith("<"):
                        self.d.error(s.pos, f"Disabling track script {s.name} since not"
                                            " found/accessible")
                    continue
                run.append(s.script)
            # every instance parsed, also one vrrp_complete_instance drops later (no VRID...):
            # check_vrrp_script_security runs first
            run += [getattr(n, fl.name) for n in [*(i.notify for i, _ in self.instances),
                                                  *self._dropped_notify]
                    for fl in fields(Notify) if fl.name != "smtp_alert"]
            run += [getattr(grp.notify, fl.name) for grp in groups for fl in fields(Notify)
                    if fl.name != "smtp_alert"]
            run += [g.notify_fifo_script, g.vrrp_notify_fifo_script]
        if any(self.host.is_script(s) for s in run) and not g.enable_script_security \
                and not self.bad_interface:
            self.d.security(None, "SECURITY VIOLATION - scripts are being executed but"
                                  " script_security not enabled.")
        if any(self.host.is_script(s) for s in self._start_stop) \
                and not g.enable_script_security:
            self.d.security(None, "SECURITY VIOLATION - start/shutdown scripts are being executed"
                                  " but script_security not enabled.")


class _InstanceResolution:
    """One vrrp_instance's resolution against global_defs, sync groups and the trackers
    (keepalived's vrrp_complete_instance), as named steps over `f`, the fields that change.
    Steps read the configured value from `inst` and an earlier step's result from `f`."""

    def __init__(self, b: Builder, g: GlobalDefs, inst: VrrpInstance,
                 seen: dict[str, SourcePos]) -> None:
        self.b, self.d, self.g, self.inst, self.seen = b, b.d, g, inst, seen
        self.vid = f"({inst.name})"
        self.f: dict[str, Any] = {}
        self.strict = inst.strict_mode or g.vrrp_strict
        self.version = 2

    def pos(self, keyword: str) -> SourcePos:
        """Where `keyword` was given, else the instance's header."""
        return self.seen.get(keyword, self.inst.pos)

    def run(self, member_of: dict[str, str], groups: list[VrrpSyncGroup]
            ) -> VrrpInstance | None:
        self.family_and_version()
        self.priority_and_state()
        if not self.required_parts():
            return None
        self.authentication()
        self.preemption()
        self.advert_int()
        self.accept_and_unicast()
        self.global_defaults()
        self.f["sync_group"] = member_of.get(self.inst.name)
        grp = next((gr for gr in groups if gr.name == self.f["sync_group"]), None)
        vk.resolve_garp_extra_if(self.inst, self.f, self.g, "garp_extra_if" in self.seen)
        if "notify_priority_changes" not in self.seen:   # instance, else group, else global
            self.f["notify_priority_changes"] = self.g.vrrp_notify_priority_changes if (
                grp is None or grp.notify_priority_changes is None) else grp.notify_priority_changes
        self.sync_group_weights(grp)
        self.own_interface_untracked()
        self.tracked_objects()
        self.duplicate_vrid()
        return replace(self.inst, **self.f)

    def family_and_version(self) -> None:
        inst, f, seen = self.inst, self.f, self.seen
        fam6 = bool(inst.virtual_ipaddress) and inst.virtual_ipaddress[0].address.version == 6
        if not inst.virtual_ipaddress and inst.virtual_ipaddress_excluded:
            fam6 = inst.virtual_ipaddress_excluded[0].address.version == 6
        if "native_ipv6" in seen:
            fam6 = True
        f["family"] = 6 if fam6 else 4
        mixed = [a for a in inst.virtual_ipaddress if (a.address.version == 6) != fam6]
        for a in mixed:
            self.d.error(a.pos, f"{self.vid}: address family must match VRRP instance family -"
                                f" skipping {a.address}")
        if mixed:
            f["virtual_ipaddress"] = tuple(a for a in inst.virtual_ipaddress if a not in mixed)
        explicit_v2 = "version" in seen and inst.version == 2
        version = inst.version if "version" in seen else self.g.vrrp_version
        if fam6:
            # keepalived 2.2.7 runs IPv6 with an explicit `version 2` (only strict mode
            # forbids it); without one, IPv6 means version 3 whatever vrrp_version says
            if explicit_v2 and self.strict:
                self.d.error(inst.pos, f"{self.vid} cannot use IPv6 with VRRP version 2; setting"
                                       " version 3")
                version = 3
            elif not explicit_v2:
                version = 3
        f["version"] = self.version = version

    def priority_and_state(self) -> None:
        inst, f = self.inst, self.f
        priority = inst.priority
        if inst.state is VrrpState.MASTER and "priority" not in self.seen:
            priority = VRRP_PRIO_OWNER
        f["priority"] = priority
        # keepalived's initial state: as configured, else derived from the priority (the
        # address owner starts MASTER); strict mode makes them agree
        owner_state = VrrpState.MASTER if priority == VRRP_PRIO_OWNER else VrrpState.BACKUP
        if "state" not in self.seen:
            f["state"] = owner_state
        elif self.strict and (inst.state is VrrpState.MASTER) != (priority == VRRP_PRIO_OWNER):
            self.d.error(self.seen["state"], f"{self.vid} State MASTER must match being address"
                                             " owner")
            f["state"] = owner_state

    def required_parts(self) -> bool:
        """False when keepalived's vrrp_complete_instance fails: the instance is not run."""
        inst = self.inst
        if inst.interface is None:
            # vrrp.c chk_min_cfg: 2.2.7 tests VRRP_FLAG_UNICAST before it is set, so a unicast
            # instance needs an interface too
            self.d.error(inst.pos, f"{self.vid} Unknown interface!")
        if not inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
            if self.version == 3 or self.f["family"] == 6 or self.strict:
                self.d.error(inst.pos, f"{self.vid} No VIP specified; at least one is required")
                return False
            self.d.warning(inst.pos, f"{self.vid} No VIP specified; at least one is sensible")
        return True

    def authentication(self) -> None:
        if "authentication" not in self.seen:
            return
        inst, f, pos, vid = self.inst, self.f, self.seen["authentication"], self.vid
        if self.version == 3:
            self.d.error(pos, f"{vid} VRRP version 3 does not support authentication. Ignoring.")
            f["auth_type"] = None
            f["auth_pass"] = None
        elif self.strict:
            self.d.error(pos, f"{vid} Strict mode does not support authentication. Ignoring.")
            f["auth_type"] = None
        elif inst.auth_type == "AH" and inst.state is VrrpState.MASTER:
            self.d.error(pos, f"{vid} Initial state master is incompatible with AH"
                              " authentication - clearing")
            f["state"] = VrrpState.BACKUP
        elif inst.auth_type and not inst.auth_pass:
            self.d.error(pos, f"{vid} Authentication specified but no password given. Ignoring")
            f["auth_type"] = None

    def preemption(self) -> None:
        inst, f, vid = self.inst, self.f, self.vid
        master = f.get("state", inst.state) is VrrpState.MASTER
        if inst.nopreempt and f["priority"] == VRRP_PRIO_OWNER:
            self.d.error(self.pos("nopreempt"),
                         f"{vid} nopreempt is incompatible with priority 255. resetting nopreempt")
            f["nopreempt"] = False
        elif inst.nopreempt and master:
            # keepalived clears nopreempt and keeps the initial state MASTER
            self.d.error(self.pos("nopreempt"), f"{vid} Warning - nopreempt will not work with"
                                                " initial state MASTER - clearing")
            f["nopreempt"] = False
        if not inst.preempt_delay:
            return
        if master:
            self.d.error(self.pos("preempt_delay"), f"{vid} Warning - preempt delay will not work"
                                                    " with initial state MASTER - clearing")
        elif self.strict:
            self.d.error(self.pos("preempt_delay"),
                         f"{vid} preempt_delay is incompatible with strict mode - resetting")
        elif f.get("nopreempt", inst.nopreempt):
            self.d.error(self.pos("preempt_delay"),
                         f"{vid} preempt_delay is incompatible with nopreempt mode - resetting")
        else:
            return
        f["preempt_delay"] = 0.0

    def advert_int(self) -> None:
        advert, vid, pos = self.inst.advert_int, self.vid, self.pos("advert_int")
        if self.version == 2 and advert != int(advert):
            self.d.error(pos, f"{vid} VRRPv2 advertisement interval {advert:f}s must be an"
                              " integer. rounding")
            advert = float(max(1, round(advert)))
        elif self.version == 3 and round(advert * 100) != advert * 100:
            self.d.error(pos, f"{vid} VRRPv3 advertisement interval {advert:.2f}s must be a"
                              " multiple of 0.01s. rounding")
            advert = round(advert * 100) / 100
        if self.version == 3 and advert > 40.95:
            self.d.error(pos, f"{vid} VRRPv3 advertisement interval {advert:.2f}s too long -"
                              " setting to 40.95s")
            advert = 40.95
        self.f["advert_int"] = advert

    def accept_and_unicast(self) -> None:
        inst, strict = self.inst, self.strict
        if any(k in self.seen for k in UNICAST_KEYWORDS) and not inst.unicast_peer \
                and not inst.unicast_fault_no_peer:
            self.d.warning(inst.pos, f"{self.vid} A unicast keyword has been specified without"
                                     " any unicast peers. Defaulting to multicast. This usage"
                                     " is deprecated - please update your configuration.")
        if strict and inst.unicast_peer:
            self.d.error(inst.pos, f"{self.vid} Unicast peers are not supported in strict mode")
        self.f["strict_mode"] = strict
        complete_accept_vmac(inst, self.f, self.seen, strict, self.d)  # accept, VMAC (issue 12)
        ipvlan.complete(inst, self.f, self.d)                           # use_ipvlan (issue 12)
        if ipvlan.address_vmacs(inst, self.f, self.d):      # per-address use_vmac (issue 12)
            self.b.later(Node(("use_vmac",), inst.pos), "virtual_ipaddress")

    def global_defaults(self) -> None:
        """global_defs' vrrp_* values for what the instance does not give itself."""
        inst, f, g, seen = self.inst, self.f, self.g, self.seen
        for key, gkey in (("garp_master_delay", "vrrp_garp_master_delay"),
                          ("garp_master_repeat", "vrrp_garp_master_repeat"),
                          ("garp_master_refresh", "vrrp_garp_master_refresh"),
                          ("garp_master_refresh_repeat", "vrrp_garp_master_refresh_repeat")):
            if key not in seen:     # given in the instance (even as the default) wins
                f[key] = getattr(g, gkey)
        f["garp_interval"] = g.vrrp_garp_interval
        f["gna_interval"] = g.vrrp_gna_interval
        # an instance's own setting (true or false) wins over global_defs; strict mode
        # forces no advert on a lower priority and no lower-priority GARPs
        if "lower_prio_no_advert" not in seen and g.vrrp_lower_prio_no_advert:
            f["lower_prio_no_advert"] = True
        if "higher_prio_send_advert" not in seen and g.vrrp_higher_prio_send_advert:
            f["higher_prio_send_advert"] = True
        complete_strict_adverts(inst, f, seen, self.strict, self.d)   # strict mode (issue 12)
        if "down_timer_adverts" not in seen:
            f["down_timer_adverts"] = g.vrrp_down_timer_adverts
        if self.strict and f.get("down_timer_adverts", inst.down_timer_adverts) != 3:
            self.d.error(self.pos("down_timer_adverts"),
                         f"{self.vid} down_timer_adverts is incompatible with strict mode -"
                         " resetting")
            f["down_timer_adverts"] = 3
        if g.vrrp_skip_check_adv_addr:
            f["skip_check_adv_addr"] = True
        # (vrrp_check_unicast_src is not folded in: keepalived ORs it in when it checks an
        # advert and its dump shows the instance's own flag - vrrp/acceptance.py)

    def sync_group_weights(self, grp: VrrpSyncGroup | None) -> None:
        """Sync group members and address owners: keepalived's weight filtering
        (config/track_weights.py)."""
        b = self.b
        changed = member_weights(
            self.inst, self.f["priority"], grp, {s.name: s.weight for s in b.scripts},
            {t.name: t.weight for t in b.files}, self.d.error)
        if changed:             # usually nothing: no copy of the instance (issue 16)
            self.inst = replace(self.inst, **changed)  # type: ignore[arg-type]

    def own_interface_untracked(self) -> None:
        inst = self.inst
        if inst.interface is None or all(r.name != inst.interface for r in inst.track_interface):
            return
        for ref in inst.track_interface:
            if ref.name == inst.interface:
                self.d.error(ref.pos, f"{self.vid} Ignoring track_interface {ref.name} since own"
                                      " interface")
        self.inst = replace(inst, track_interface=tuple(
            r for r in inst.track_interface if r.name != inst.interface))

    def tracked_objects(self) -> None:
        """Drop references to scripts, processes and files that are not defined."""
        b, inst = self.b, self.inst
        for kind, what, names in (("track_script", "script", {s.name for s in b.scripts}),
                                  ("track_process", "process", {p.name for p in b.processes}),
                                  ("track_file", "file", {t.name for t in b.files})):
            for ref in getattr(inst, kind):
                if ref.name not in names:
                    self.d.error(ref.pos, f"{self.vid} track {what} {ref.name} not found,"
                                          " ignoring...")
                if kind == "track_script":
                    b.used_scripts.add(ref.name)
            self.f[kind] = tuple(r for r in getattr(inst, kind) if r.name in names)

    def duplicate_vrid(self) -> None:
        inst, family = self.inst, self.f["family"]
        if inst.interface is None:
            return
        multicast = not inst.unicast_peer
        key = (inst.interface, inst.virtual_router_id, family,
               "multicast" if multicast else
               ",".join(sorted(str(p.address) for p in inst.unicast_peer)))
        other = self.b.seen_vrid.get(key)
        if other is not None:
            self.d.error(inst.pos, f"{other} and {inst.name} both use VRID"
                                   f" {inst.virtual_router_id} with IPv{family} on"
                                   f" interface {inst.interface}")
        else:
            self.b.seen_vrid[key] = inst.name


# -- vrrp_instance keywords ----------------------------------------------------------------
# One handler a keyword (keepalived's install_keyword table in vrrp_parser.c). A handler
# fills `draft.f` (model fields) and calls `draft.give(field, pos)` when the value took effect:
# that record is the one answer to "was this keyword given?" for the resolution in _finish.

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


def _i_later(b: Builder, c: Node, i: _Draft) -> None:
    b.later(c, "vrrp_instance")


def _i_state(b: Builder, c: Node, i: _Draft) -> None:
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


def _i_interface(b: Builder, c: Node, i: _Draft) -> None:
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


def _i_vrf(b: Builder, c: Node, i: _Draft) -> None:
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


def _i_vrid(b: Builder, c: Node, i: _Draft) -> None:
    if c.args and (v := read_int(c.args[0], 1, 255, c.pos, b.d)) is not None:
        i.f["virtual_router_id"] = v
    else:
        b.d.error(c.pos, f"{i.vid}: VRID '{c.args[0] if c.args else ''}' not valid - must be"
                         " between 1 & 255")


def _i_priority(b: Builder, c: Node, i: _Draft) -> None:
    v = read_int(c.args[0], 1, 255, c.pos, b.d) if c.args else None
    if v is None:
        b.d.error(c.pos, f"{i.vid} Priority not valid! must be between 1 & 255. Using default 100")
        return
    i.f["priority"] = v
    i.give("priority", c.pos)


def _i_advert_int(b: Builder, c: Node, i: _Draft) -> None:
    x = read_decimal(c.args[0], 0.01, 255, c.pos, b.d) if c.args else None
    if x is None or x <= 0:
        b.d.error(c.pos, f"{i.vid} Advert interval ({c.args[0] if c.args else ''}) not valid!"
                         " Must be > 0 - ignoring")
        return
    i.f["advert_int"] = x
    i.give("advert_int", c.pos)


def _i_version(b: Builder, c: Node, i: _Draft) -> None:
    if c.args and (v := read_int(c.args[0], 2, 3, c.pos, b.d)) is not None:
        i.f["version"] = v
        i.give("version", c.pos)
    else:
        b.d.error(c.pos, f"{i.vid}: Version must be 2 or 3")


def _i_nopreempt(b: Builder, c: Node, i: _Draft) -> None:
    i.f["nopreempt"] = True
    i.give("nopreempt", c.pos)


def _i_preempt(b: Builder, c: Node, i: _Draft) -> None:
    i.f["nopreempt"] = False


def _i_preempt_delay(b: Builder, c: Node, i: _Draft) -> None:
    if c.args and (x := read_decimal(c.args[0], 0, 1000, c.pos, b.d)) is not None:
        i.f["preempt_delay"] = x
        i.give("preempt_delay", c.pos)


def _i_accept(b: Builder, c: Node, i: _Draft) -> None:
    i.f["accept"] = c.keyword == "accept"
    i.give("accept", c.pos)


def _i_flag(b: Builder, c: Node, i: _Draft) -> None:
    """A keyword that sets its own field to true."""
    i.f[c.keyword] = True
    i.give(c.keyword, c.pos)


def _i_bool(b: Builder, c: Node, i: _Draft) -> None:
    """A keyword with an optional true/false word."""
    i.f[c.keyword] = read_bool(c, b.d)
    i.give(c.keyword, c.pos)


def _i_track(b: Builder, c: Node, i: _Draft) -> None:
    refs = b.track_refs(c)
    if c.keyword == "track_interface":
        for r in refs:
            if b.interface_missing(r.name):
                b.d.error(r.pos, f"{i.vid} tracked interface {r.name} doesn't exist")
                b.bad_interface = True
    i.f[c.keyword] = i.f.get(c.keyword, ()) + refs


def _i_src_ip(b: Builder, c: Node, i: _Draft) -> None:
    if c.args:
        i.f[c.keyword] = read_address(c.args[0], c.pos, b.d)
    i.give(c.keyword, c.pos)


def _i_mcast_dst_ip(b: Builder, c: Node, i: _Draft) -> None:
    if c.args and (a := read_address(c.args[0], c.pos, b.d)) is not None:
        if not a.is_multicast:
            b.d.error(c.pos, f"{i.vid} mcast_dst_ip {a} is not a multicast address")
        else:
            i.f["mcast_dst_ip"] = a


def _i_unicast_peer(b: Builder, c: Node, i: _Draft) -> None:
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
    def handler(b: Builder, c: Node, i: _Draft) -> None:
        if c.args and (v := read_int(c.args[0], low, high, c.pos, b.d)) is not None:
            i.f[c.keyword] = float(v) if as_float else v
            i.give(c.keyword, c.pos)
    return handler


def _i_old_unicast_checksum(b: Builder, c: Node, i: _Draft) -> None:
    i.f["old_unicast_checksum"] = not (c.args and c.args[0] == "never")
    i.give("old_unicast_checksum", c.pos)


def _i_authentication(b: Builder, c: Node, i: _Draft) -> None:
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


def _i_addresses(b: Builder, c: Node, i: _Draft) -> None:
    addrs = list(i.f.get(c.keyword, ()))
    for row in b.expect_block(c) or ():
        va = b.virtual_address(row, i.name)
        if va is not None:
            addrs.append(va)
    i.f[c.keyword] = tuple(addrs)


def _i_routes(b: Builder, c: Node, i: _Draft) -> None:
    routes = []
    for row in b.expect_block(c) or ():
        vr = b.route(row)
        if vr is not None:
            b.untracked_route(vr)
            routes.append(vr)
    i.f["virtual_routes"] = i.f.get("virtual_routes", ()) + tuple(routes)


def _i_rules(b: Builder, c: Node, i: _Draft) -> None:
    i.f["virtual_rules"] = i.f.get("virtual_rules", ()) + tuple(
        rl for row in b.expect_block(c) or () if (rl := b.rule(row)) is not None)


def _i_notify(b: Builder, c: Node, i: _Draft) -> None:
    i.notify[c.keyword] = b.notify_script(c)


def _i_notify_deleted(b: Builder, c: Node, i: _Draft) -> None:
    # keepalived: the keyword alone says DELETED instead of FAULT; a script is optional
    if i.f.get("notify_deleted"):
        b.d.error(c.pos, f"{i.vid} notify_deleted already specified - ignoring"
                         f" {c.args[0] if c.args else ''}")
        return
    if c.args:
        i.notify["notify_deleted"] = b.notify_script(c)
    i.f["notify_deleted"] = True


def _i_garp_extra_if(b: Builder, c: Node, i: _Draft) -> None:
    if c.keyword == "vmac_garp_intvl":
        b.d.warning(c.pos, 'Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"')
    if (ge := vk.garp_extra_if(c, b.d, i.name)) is not None:
        i.f["garp_extra_if"], i.f["garp_extra_if_all"] = ge
        i.give("garp_extra_if", c.pos)


def _i_notify_priority_changes(b: Builder, c: Node, i: _Draft) -> None:
    value = vk.notify_priority_changes(c, i.name, "", b.d)
    if value is not None:
        i.f["notify_priority_changes"] = value
        i.give("notify_priority_changes", c.pos)


def _i_smtp_alert(b: Builder, c: Node, i: _Draft) -> None:
    i.notify["smtp_alert"] = read_bool(c, b.d)


def _i_use_vmac(b: Builder, c: Node, i: _Draft) -> None:
    # the VMAC's name; '' = generated at start as keepalived does (vrrp/vmac.py)
    i.f["use_vmac"] = vmac_name(c.args, i.vid, b.interfaces() if b.check_interfaces else None,
                                c.pos, b.d)
    if any(":" in a for a in c.args):
        b.later(c, "vrrp_instance")     # a MAC of its own (VRRP_VMAC_MAC_SPECIFIED) is not used


def _i_use_ipvlan(b: Builder, c: Node, i: _Draft) -> None:
    others = {str(x.use_vmac or x.use_ipvlan): x.name for x, _ in b.instances
              if x.use_vmac or x.use_ipvlan}
    ipvlan.read(c, i.vid, i.f, others,
                ipvlan.is_l2_ipvlan if b.check_interfaces else lambda _n: None, b.d)


def _i_native_ipv6(b: Builder, c: Node, i: _Draft) -> None:
    i.give("native_ipv6", c.pos)


def _i_linkbeat(severity: str, text: str) -> InstanceHandler:
    """The deprecated instance linkbeat_use_polling: keepalived's error, and it still polls."""
    message = _i_message(severity, text)

    def handler(b: Builder, c: Node, i: _Draft) -> None:
        message(b, c, i)
        i.give("linkbeat_use_polling", c.pos)
    return handler


def _i_message(severity: str, text: str) -> InstanceHandler:
    """A deprecated keyword: only keepalived's message ({vid} is the instance)."""
    def handler(b: Builder, c: Node, i: _Draft) -> None:
        getattr(b.d, severity)(c.pos, text.format(vid=i.vid))
    return handler


InstanceHandler = Callable[[Builder, Node, _Draft], None]

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


def _skipped_server(n: Node, context: str) -> bool:
    return kw.skipped_header(context, n.words)


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
    return Builder(diags, check_interfaces, host).build(tree, views)

