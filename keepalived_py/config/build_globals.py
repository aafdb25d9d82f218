"""global_defs -> GlobalDefs: keepalived 2.2.7's global_parser.c keyword by keyword
(the process keywords go on to build_process.py), and the model made of them once every
block is read. Called by build.py's Builder, which holds what is read (b.global_fields)."""
from __future__ import annotations

from keepalived_py.config import build_process, lvs_globals
from keepalived_py.config import keywords as kw
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.model import (
    GlobalDefs,
    Script,
)
from keepalived_py.config.tree import Node
from keepalived_py.config.values import (
    read_address,
    read_bool_or_none,
    read_int,
    script_argv,
)
from keepalived_py.record import names


def global_defs(b: BuildState, node: Node) -> None:
    children = b.expect_block(node)
    if children is None:
        return
    g = b.global_fields
    g.setdefault("pos", node.pos)
    for c in children:
        k, args = c.keyword, c.args
        if k in _DEFAULT_USER_LOOKUPS and len(args) == 1 and \
                not g.get("enable_script_security"):
            b.default_user_early = True
        if k in kw.EXTENSIONS["global_defs"]:
            b.d.warning(c.pos, f"'{k}' is a keepalived-py extension (keepalived 2.2.7:"
                               f" Unknown keyword '{k}')")
        elif k not in kw.GLOBAL_DEFS:
            b.unknown(c)
            continue
        if k in build_process.KEYWORDS:      # scheduling, umask, start/stop scripts...
            build_process.parse(c, b.process_fields, b.d)
            if k not in build_process.SHARED:
                continue
        if k == "notification_email":
            if c.children is not None:
                g["notification_email"] = tuple(w for n in c.children for w in n.words)
                if not g["notification_email"]:        # global_parser.c email_handler
                    b.d.error(c.pos, "Warning - empty notification_email block")
            else:
                g["notification_email"] = tuple(args)
        elif k == "smtp_server" and args:
            port = read_int(args[1], 1, 65535, c.pos, b.d) if len(args) > 1 else 25
            if port is None or not (_ip_literal(args[0]) or b.host.resolves(args[0])):
                # global_parser.c smtpserver_handler: an address, else a name getaddrinfo()
                # resolves (domain_stosockaddr)
                b.d.error(c.pos, f"Invalid smtp server {args[0]} {args[1] if len(args) > 1 else 25}")
            else:
                g[k] = args[0]
                g["smtp_server_port"] = port
        elif k == "no_email_faults":
            g[k] = True             # global_parser.c: takes no value, ignores any
        elif k in ("smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_checker_emails"):
            yes = read_bool_or_none(c, b.d, f"Invalid value '{args[0] if args else ''}' for global"
                                  f" {k} specified")
            if yes is not None:     # keepalived keeps what it had
                g[k] = yes
        elif k == "smtp_helo_name":
            if args:
                g[k] = args[0]
        elif k in ("router_id", "notification_email_from", "smtp_server", "state_dump_file",
                   "vrrp_notify_fifo", "notify_fifo", "lvs_notify_fifo"):
            if args:
                g[k] = args[0]
                if k == "smtp_server" and len(args) > 1 and \
                        (v := read_int(args[1], 1, 65535, c.pos, b.d)) is not None:
                    g["smtp_server_port"] = v
            else:
                b.d.error(c.pos, f"{k} requires a value")
        elif k in ("vrrp_notify_fifo_script", "notify_fifo_script", "lvs_notify_fifo_script"):
            g[k] = b.notify_script(c)
        elif k == "script_user":
            if args:
                g["script_user"] = args[0]
                g["script_group"] = args[1] if len(args) > 1 else None
                if not b.user_group_exist(args):
                    b.d.error(c.pos, "Error setting global script uid/gid")
            else:
                b.d.error(c.pos, "script_user requires a user name")
        elif k == "smtp_connect_timeout":
            if args and (v := read_int(args[0], 1, 2**31 - 1, c.pos, b.d)) is not None:
                g[k] = float(v)
        elif k == "vrrp_version":
            if args and (v := read_int(args[0], 2, 3, c.pos, b.d)) is not None:
                g[k] = v
            elif not args:
                b.d.error(c.pos, "vrrp_version requires a value")
        elif k in ("vrrp_garp_master_delay", "vrrp_garp_master_refresh",
                   "vrrp_garp_lower_prio_delay"):
            if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, b.d)) is not None:
                g[k] = float(v)
        elif k in ("vrrp_garp_master_repeat", "vrrp_garp_master_refresh_repeat",
                   "vrrp_garp_lower_prio_repeat"):
            if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, b.d)) is not None:
                if v == 0 and k != "vrrp_garp_lower_prio_repeat":     # global_parser.c
                    b.d.error(c.pos, f"{k} must be greater than 0, setting to 1")
                    v = 1
                g[k] = v
        elif k in vk.GLOBAL:                         # VRRP globals (issue 12)
            vk.global_keyword(c, g, b.d)
            b._default_interface = g.get("default_interface", b._default_interface)
        elif k == "vrrp_down_timer_adverts":
            if args and (v := read_int(args[0], 1, 100, c.pos, b.d)) is not None:
                g[k] = v
        elif k == "vrrp_min_garp":
            if read_bool_or_none(c, b.d, "Invalid value for vrrp_min_garp specified"):
                b.min_garp = True
        elif k in ("vrrp_strict", "enable_script_security", "vrrp_skip_check_adv_addr",
                   "vrrp_check_unicast_src", "lvs_flush"):
            g[k] = True                  # keepalived 2.2.7 sets these, whatever follows
        elif k in ("data_use_instance",
                   "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert"):
            yes = read_bool_or_none(c, b.d, f"Invalid value for {k} specified"
                                    if k != "data_use_instance" else  # the binary's spelling:
                                    f"Invalid value '{args[0] if args else ''}' for global"
                                    " date_use_instance specified")
            if yes is not None:     # keepalived keeps what it had
                g[k] = yes
        elif k in ("vrrp_mcast_group4", "vrrp_mcast_group6"):
            if args and (a := read_address(args[0], c.pos, b.d)) is not None:
                want = 4 if k.endswith("4") else 6
                if a.version != want or not a.is_multicast:
                    b.d.error(c.pos, f"{k} '{args[0]}' is not an IPv{want} multicast address"
                                     " - ignoring")
                else:
                    g[k] = a
        elif k in ("lvs_flush_on_stop", "lvs_flush_onstop"):
            g["lvs_flush_on_stop"] = lvs_globals.lvs_flush_on_stop(
                args, c.pos, b.d, g.get("lvs_flush_on_stop"))
        elif k == "rs_init_notifies":
            on = read_bool_or_none(c, b.d, f"Invalid value '{args[0] if args else ''}'"
                                           f" for global {k} specified")
            if on is not None:
                g[k] = on
        elif k == "lvs_sync_daemon":
            g[k] = lvs_globals.lvs_sync_daemon(args, c.pos, b.d, g.get(k))
        elif k == "lvs_timeouts":
            g[k] = lvs_globals.lvs_timeouts(args, c.pos, b.d, g.get(k, (0, 0, 0)))
        elif k in ("vrrp_vmac_garp_intvl", "vrrp_garp_extra_if"):
            if k == "vrrp_vmac_garp_intvl":
                b.d.warning(c.pos, 'Keyword "vrrp_vmac_garp_intvl" is deprecated - please'
                                   ' use "vrrp_garp_extra_if"')
            if (ge := vk.garp_extra_if(c, b.d, None)) is not None:   # issue 12
                g["vrrp_garp_extra_if"], g["vrrp_garp_extra_if_all"] = ge
        elif k in ("vrrp_iptables", "vrrp_ipsets"):
            b.d.warning(c.pos, "iptables not supported, using nftables instead. Please"
                               " replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables'"
                               " config option")
        elif k == "process_names":
            # keepalived sets both names here; a name given later replaces its default
            g["vrrp_process_name"], g["checker_process_name"] = "keepalived_vrrp", "keepalived_lvs"
        elif k in ("process_name", "vrrp_process_name", "checker_process_name",
                   "lvs_process_name") and args:
            name = args[0]
            if len(name) > 15:                  # TASK_COMM_LEN - 1
                b.d.error(c.pos, f"Process name {name} more than 15 characters, truncating")
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
            elif c.pos in b.d.escaped:
                pass                    # the parent read the escaped '#'/'!' as a value
            else:
                b.d.error(c.pos, "dbus_service_name missing - ignoring")
        elif k == "snmp_socket":
            if len(args) > 1:
                b.d.error(c.pos, "Too many parameters specified for snmp_socket - ignoring")
            elif not args:
                b.d.error(c.pos, "SNMP error : snmp socket name missing")
            elif len(args[0]) > 4095:
                b.d.error(c.pos, "SNMP error : snmp socket name too long - ignored")
            elif "snmp_socket" in g:
                b.d.error(c.pos, f"SNMP socket already set to {g[k]} - ignoring")
            else:
                g[k] = args[0]
        elif k in ("startup_script", "shutdown_script"):
            # main.c checks these scripts' security, also under -t
            kind = k.split("_", 1)[0]
            if not args:
                pass                    # (build_process: "script missing")
            elif len(args) == 1 and g.get("enable_script_security") and \
                    g.get("script_user") is None and not b.default_user_early and \
                    not b.host.user_exists("keepalived_script"):
                # notify.c get_default_script_user fails with script security on
                b.d.error(c.pos, "Unable to set default user keepalived_script for script")
                b.d.error(c.pos, f"Invalid {kind} script")
            elif len(args) > 1 and not b.user_group_exist(tuple(args[1:3])):
                # global_parser.c startup_shutdown_script: notify_script_init refuses it
                b.d.error(c.pos, f"Invalid {kind} script")
            elif argv := script_argv(args[:1]):       # (the words after it: user, group)
                b._start_stop.append(Script(argv=argv, text=args[0], pos=c.pos))
        elif k == "include_check":
            pass                    # acted on while the text is read (config/source.py)
        elif k == "dataplane":
            if args and args[0] in ("auto", "ipvs", "nftables"):
                g["dataplane"] = args[0]
            else:
                b.d.error(c.pos, "dataplane must be auto, ipvs or nftables")
        else:
            rejects = kw.GLOBAL_NUMERIC_REJECTS.get(k)
            if rejects and args and kw.numeric_class(args[0]) in rejects:
                b.d.error(c.pos, f"{k} value '{args[0]}' is invalid")
            if k in kw.GLOBAL_BOOL_VALUES and args and \
                    args[0] not in ("true", "false", "yes", "no", "on", "off"):  # strcmp
                b.d.error(c.pos, f"Invalid value '{args[0]}' for global {k} specified")
            b.later(c, "global_defs")


def global_defs_model(b: BuildState) -> GlobalDefs:
    gkeys = set(names(GlobalDefs))
    if b.min_garp:
        # keepalived's vrrp_min_garp: one gratuitous ARP/NA, no repeat, no refresh, no
        # delay - without overriding what global_defs sets explicitly (in any order)
        for key, value in (("vrrp_garp_master_repeat", 1), ("vrrp_garp_master_delay", 0.0),
                           ("vrrp_garp_master_refresh", 0.0),
                           ("vrrp_garp_master_refresh_repeat", 0)):
            b.global_fields.setdefault(key, value)
    b.global_fields["process"] = build_process.model(b.process_fields)
    return GlobalDefs(**{k: v for k, v in b.global_fields.items() if k in gkeys})


def script_default_user(b: BuildState, g: GlobalDefs) -> None:
    """keepalived's default script user does not exist: scripts without a user go."""
    if g.script_user is not None and not b.user_group_exist(
            (g.script_user, g.script_group) if g.script_group else (g.script_user,)):
        # notify.c set_default_script_user failed (the parent read global_defs first): each
        # later get_default_script_user fails - vrrp_scripts without a user are removed,
        # notify scripts without one dropped (build_track.script_security)
        b.default_user_fails = True
        for s in [s for s in b.scripts if s.user is None]:
            b.d.error(s.pos, f"Unable to set default user for vrrp script {s.name} -"
                             " removing")
        b.scripts = [s for s in b.scripts if s.user is not None]
        return
    if g.enable_script_security and g.script_user is None and not b.default_user_early and \
            b.first_script is not None and not b.host.user_exists("keepalived_script"):
        b.d.error(b.first_script,
                  "Unable to set default user keepalived_script for script")
        for s in [s for s in b.scripts if s.user is None]:
            b.d.error(s.pos, f"Unable to set default user for vrrp script {s.name} -"
                             " removing")
        b.scripts = [s for s in b.scripts if s.user is not None]


# global_defs keywords whose handler, given no user, looks up the default script user
_DEFAULT_USER_LOOKUPS = frozenset({
    "startup_script", "shutdown_script", "notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo",
    "notify_fifo_script", "vrrp_notify_fifo_script", "lvs_notify_fifo_script"})


def _ip_literal(text: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
