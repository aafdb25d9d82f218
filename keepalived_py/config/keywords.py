"""Every keyword keepalived 2.2.7 accepts, per block: the domain map of the configuration.

A keyword listed here is never an "unknown keyword"; build.py gives the ones it acts on their
meaning and reports the rest as accepted-but-not-implemented notices.
"""
from __future__ import annotations

GLOBAL_DEFS = frozenset({
    "bfd_cpu_affinity", "bfd_no_swap", "bfd_priority", "bfd_process_name", "bfd_rlimit_rtime",
    "bfd_rlimit_rttime", "bfd_rt_priority", "checker_cpu_affinity", "checker_log_all_failures",
    "checker_no_swap", "checker_priority", "checker_process_name", "checker_rlimit_rtime",
    "checker_rlimit_rttime", "checker_rt_priority", "config_save_dir",
    "data_use_instance", "dataplane", "dbus_service_name", "default_interface",
    "disable_local_igmp", "dynamic_interfaces", "enable_dbus", "enable_script_security",
    "enable_snmp_checker", "enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2",
    "enable_snmp_rfcv3", "enable_snmp_vrrp", "enable_traps", "fifo_write_vrrp_states_on_reload",
    "include_check", "log_unknown_vrids", "lvs_flush",
    "lvs_flush_on_stop", "lvs_flush_onstop", "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force", "lvs_notify_fifo", "lvs_notify_fifo_script",
    "lvs_process_name", "lvs_sync_daemon", "lvs_timeouts", "max_auto_priority",
    "min_auto_priority_delay", "nftables", "nftables_counters", "nftables_ifindex", "nftables_ipvs",
    "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority",
    "no_checker_emails", "no_email_faults", "notification_email", "notification_email_from",
    "notify_fifo", "notify_fifo_script", "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force", "process_name", "process_names", "random_seed",
    "reload_check_config", "reload_file", "reload_repeat", "reload_time_file", "router_id",
    "rs_init_notifies", "script_user", "shutdown_script", "shutdown_script_timeout",
    "smtp_alert", "smtp_alert_checker", "smtp_alert_vrrp", "smtp_connect_timeout",
    "smtp_helo_name", "smtp_server", "snmp_socket", "startup_script", "startup_script_timeout",
    "state_dump_file", "tmp_config_directory", "umask", "vmac_addr_prefix",
    "vmac_prefix", "vrrp_check_unicast_src", "vrrp_cpu_affinity", "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if", "vrrp_garp_interval", "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat", "vrrp_garp_master_delay", "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat", "vrrp_garp_master_repeat", "vrrp_gna_interval",
    "vrrp_higher_prio_send_advert", "vrrp_iptables", "vrrp_lower_prio_no_advert",
    "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_min_garp", "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force", "vrrp_no_swap", "vrrp_notify_fifo",
    "vrrp_notify_fifo_script", "vrrp_notify_priority_changes", "vrrp_priority",
    "vrrp_process_name", "vrrp_rlimit_rtime", "vrrp_rlimit_rttime", "vrrp_rt_priority",
    "vrrp_rx_bufs_multiplier", "vrrp_rx_bufs_policy", "vrrp_skip_check_adv_addr",
    "vrrp_startup_delay", "vrrp_strict", "vrrp_version", "vrrp_vmac_garp_intvl",
})

VRRP_INSTANCE = frozenset({
    "accept", "advert_int", "authentication", "check_unicast_src",
    "debug", "dont_track_primary", "down_timer_adverts", "garp_extra_if",
    "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_master_delay",
    "garp_master_refresh", "garp_master_refresh_repeat", "garp_master_repeat",
    "higher_prio_send_advert", "interface", "kernel_rx_buf_size", "linkbeat_use_polling",
    "lower_prio_no_advert", "lvs_sync_daemon_interface", "mcast_dst_ip", "mcast_src_ip",
    "native_ipv6", "no_accept", "nopreempt", "notify", "notify_backup",
    "notify_deleted", "notify_fault", "notify_master", "notify_master_rx_lower_pri",
    "notify_priority_changes", "notify_stop", "old_unicast_checksum", "preempt", "preempt_delay",
    "priority", "promote_secondaries", "skip_check_adv_addr", "smtp_alert", "state",
    "strict_mode", "track_bfd", "track_file", "track_interface", "track_process", "track_script",
    "track_src_ip", "unicast_fault_no_peer", "unicast_peer", "unicast_src_ip", "unicast_ttl",
    "use_ipvlan", "use_vmac", "use_vmac_addr", "version", "virtual_ipaddress",
    "virtual_ipaddress_excluded", "virtual_router_id", "virtual_routes", "virtual_rules",
    "vmac_garp_intvl", "vmac_xmit_base", "vrf",
})

AUTHENTICATION = frozenset({"auth_type", "auth_pass"})

VRRP_SYNC_GROUP = frozenset({
    "global_tracking", "group", "notify", "notify_backup", "notify_fault",
    "notify_master", "notify_priority_changes", "notify_stop",
    "smtp_alert", "sync_group_tracking_weight", "track_bfd", "track_file", "track_interface",
    "track_process", "track_script",
})

VRRP_SCRIPT = frozenset({
    "fall", "init_fail", "interval", "rise", "script", "timeout", "user", "weight",
})

VRRP_TRACK_PROCESS = frozenset({
    "delay", "fork_delay", "full_command", "param_match", "process", "quorum", "quorum_max",
    "terminate_delay", "weight",
})

TRACK_FILE = frozenset({
    "file", "init_file", "weight",
})

GARP_GROUP = frozenset({
    "garp_interval", "gna_interval", "interface", "interfaces",
})

SSL = frozenset({
    "ca", "certificate", "key", "password",
})

VIRTUAL_SERVER = frozenset({
    "alpha", "connect_timeout", "delay_before_retry", "delay_loop", "flag-1", "flag-2", "flag-3",
    "ha_suspend", "hashed", "hysteresis", "inhibit_on_failure", "ip_family", "lb_algo",
    "lb_kind", "lvs_method", "lvs_sched", "mh-fallback", "mh-port", "omega", "ops",
    "persistence_engine", "persistence_granularity", "persistence_timeout", "protocol", "quorum",
    "quorum_down", "quorum_up", "real_server", "retry", "sh-fallback", "sh-port", "smtp_alert",
    "snmp_name", "sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method",
    "virtualhost", "warmup", "weight",
})

ROOT_LATER = frozenset({
    "child_wait_time", "instance",
    "namespace_with_ipsets", "net_namespace", "net_namespace_ipvs", "use_pid_dir",
})

REAL_SERVER = frozenset({
    "weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "notify_up",
    "notify_down", "alpha", "retry", "delay_before_retry", "warmup", "connect_timeout",
    "delay_loop", "smtp_alert", "virtualhost", "snmp_name",
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "SMTP_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK",
    "MISC_CHECK", "FILE_CHECK", "BFD_CHECK",
})

CHECKER_COMMON = frozenset({
    "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark",
    "retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures",
})

CHECKERS = {
    "TCP_CHECK": CHECKER_COMMON,
    "PING_CHECK": CHECKER_COMMON,
    "HTTP_GET": CHECKER_COMMON | {"nb_get_retry", "virtualhost", "http_protocol", "enable_sni",
                                  "fast_recovery", "url"},
    "SSL_GET": CHECKER_COMMON | {"nb_get_retry", "virtualhost", "http_protocol", "enable_sni",
                                 "fast_recovery", "url"},
    "SMTP_CHECK": CHECKER_COMMON | {"helo_name", "host"},
    "DNS_CHECK": CHECKER_COMMON | {"type", "name"},
    "UDP_CHECK": CHECKER_COMMON | {"payload", "require_reply", "min_reply_length",
                                   "max_reply_length"},
    "MISC_CHECK": frozenset({"misc_path", "misc_timeout", "misc_dynamic", "user", "warmup",
                             "retry", "delay_before_retry", "delay_loop", "alpha",
                             "log_all_failures"}),
    "FILE_CHECK": frozenset({"track_file", "weight"}),
    "BFD_CHECK": frozenset({"name", "alpha"}),
}

HTTP_URL = frozenset({
    "path", "digest", "status_code", "virtualhost", "regex", "regex_no_match", "regex_options",
    "regex_min_offset", "regex_max_offset", "regex_stack",
})

SMTP_HOST = CHECKER_COMMON

BFD_INSTANCE = frozenset({
    "neighbor_ip", "neighbour_ip", "source_ip", "min_rx", "min_tx", "idle_tx",
    "multiplier", "passive", "ttl", "hoplimit", "max_hops", "vrrp", "checker", "weight",
})

# keepalived-py extensions: keepalived 2.2.7 calls them "Unknown keyword" (so -t warns, exit 5,
# as keepalived's verdict), keepalived-py acts on them.
EXTENSIONS = {
    "global_defs": frozenset({"dataplane", "state_dump_file"}),
}

# Keywords whose handler reads its value unconditionally: given without one, keepalived 2.2.7
# stops reading ("*** Configuration line starting `K` is missing a parameter ...") and exits 2,
# whether or not a '{' follows (the brace is split off before the handler sees the words).
# Measured per block with the binary (a bare keyword in a minimal valid block).
_CHECK_ABORT = frozenset({"bind_if", "bind_port", "bindto", "connect_ip", "connect_port",
                          "connect_timeout", "delay_before_retry", "delay_loop", "fwmark",
                          "retry", "warmup"})
MISSING_PARAMETER_ABORTS: dict[str, frozenset[str]] = {
    "top": frozenset({"child_wait_time", "track_file", "virtual_server", "virtual_server_group",
                      "vrrp_script", "vrrp_track_file", "vrrp_track_process"}),
    "global_defs": frozenset({
        "bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name",
        "checker_rlimit_rtime", "checker_rlimit_rttime", "config_save_dir", "lvs_process_name",
        "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority",
        "process_name", "random_seed", "smtp_connect_timeout", "smtp_server", "umask",
        "vmac_addr_prefix", "vmac_prefix", "vrrp_down_timer_adverts", "vrrp_garp_interval",
        "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_garp_master_delay",
        "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_garp_master_repeat",
        "vrrp_gna_interval", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_process_name",
        "vrrp_rlimit_rtime", "vrrp_rlimit_rttime", "vrrp_startup_delay", "vrrp_version"}),
    "vrrp_instance": frozenset({
        "advert_int", "debug", "down_timer_adverts", "garp_lower_prio_delay",
        "garp_lower_prio_repeat", "garp_master_delay", "garp_master_refresh",
        "garp_master_refresh_repeat", "garp_master_repeat", "interface",
        "lvs_sync_daemon_interface", "mcast_dst_ip", "mcast_src_ip", "notify", "notify_backup",
        "notify_fault", "notify_master", "notify_master_rx_lower_pri", "notify_stop",
        "preempt_delay", "priority", "state", "unicast_src_ip", "unicast_ttl", "version",
        "virtual_router_id", "vrf"}),
    "vrrp_sync_group": frozenset({"notify", "notify_backup", "notify_fault", "notify_master",
                                  "notify_stop"}),
    "vrrp_script": frozenset({"fall", "interval", "rise", "timeout", "user", "weight"}),
    "vrrp_track_process": frozenset({"delay", "fork_delay", "process", "quorum", "quorum_max",
                                     "terminate_delay"}),
    "track_file": frozenset(),
    "garp_group": frozenset({"garp_interval", "gna_interval", "interface"}),
    "virtual_server": frozenset({
        "connect_timeout", "delay_before_retry", "delay_loop", "hysteresis", "ip_family",
        "lb_algo", "lb_kind", "lvs_method", "lvs_sched", "persistence_engine",
        "persistence_granularity", "protocol", "quorum", "quorum_down", "quorum_up",
        "real_server", "retry", "sorry_server", "warmup", "weight"}),
    "real_server": frozenset({"connect_timeout", "delay_before_retry", "delay_loop", "lthreshold",
                              "lvs_method", "notify_down", "notify_up", "retry", "uthreshold",
                              "warmup", "weight"}),
    "bfd_instance": frozenset({"hoplimit", "idle_tx", "max_hops", "min_rx", "min_tx",
                               "multiplier", "source_ip", "ttl"}),
    "TCP_CHECK": _CHECK_ABORT,
    "PING_CHECK": _CHECK_ABORT,
    "HTTP_GET": _CHECK_ABORT | {"nb_get_retry"},
    "SSL_GET": _CHECK_ABORT | {"nb_get_retry"},
    "SMTP_CHECK": _CHECK_ABORT,
    "DNS_CHECK": _CHECK_ABORT | {"name", "type"},
    "UDP_CHECK": _CHECK_ABORT | {"max_reply_length", "min_reply_length"},
    "MISC_CHECK": frozenset({"delay_before_retry", "delay_loop", "misc_timeout", "retry",
                             "warmup"}),
    "FILE_CHECK": frozenset({"track_file"}),
    "url": frozenset({"digest", "path"}),
}

# The block context a statement opens, given the context it is in (for the walks above).
SUBCONTEXT: dict[tuple[str, str], str] = {
    ("top", "global_defs"): "global_defs",
    ("top", "vrrp_instance"): "vrrp_instance",
    ("top", "vrrp_sync_group"): "vrrp_sync_group",
    ("top", "vrrp_script"): "vrrp_script",
    ("top", "vrrp_track_process"): "vrrp_track_process",
    ("top", "track_file"): "track_file",
    ("top", "vrrp_track_file"): "track_file",
    ("top", "garp_group"): "garp_group",
    ("top", "virtual_server"): "virtual_server",
    ("top", "bfd_instance"): "bfd_instance",
    ("virtual_server", "real_server"): "real_server",
    **{("real_server", c): c for c in CHECKERS},
    ("HTTP_GET", "url"): "url",
    ("SSL_GET", "url"): "url",
    ("SMTP_CHECK", "host"): "host",
    ("vrrp_instance", "authentication"): "authentication",
}

# -- what keepalived-py accepts but does not act on ---------------------------------------
# One place: build.py warns for each use (file:line, listed by -t without changing its exit
# code, logged when the daemon starts); docs/KEYWORDS.md is generated from these tables
# (`python3 -m keepalived_py.config.keywords --table`).
NOT_IMPLEMENTED: dict[tuple[str, str], str] = {
    # parsed into GlobalDefs.process (config/build_process.py) and dumped; nothing of ours
    # they could apply to. keepalived sets them on its checker's rtnetlink command and
    # monitor sockets (keepalived_netlink.c), not on its IPVS generic netlink socket
    **{("global_defs", f"{b}_rcv_bufs{f}"): "the checker has no rtnetlink socket (its IPVS"
                                            " socket is generic netlink, as keepalived's)"
       for b in ("lvs_netlink_cmd", "lvs_netlink_monitor") for f in ("", "_force")},
    # keepalived's parent writes the configuration there for its children to read (parser.c)
    ("global_defs", "tmp_config_directory"): "the children get the configuration in memory:"
                                             " no temporary copy is made",
    # keepalived: an nftables table setting fwmarks for virtual_server_group ranges
    # (check_nftables.c); keepalived-py makes one IPVS service per group entry
    **{("global_defs", k): "no nftables fwmark table is made for virtual_server_group"
                           " ranges" for k in ("nftables_ipvs", "nftables_ipvs_priority",
                                               "nftables_ipvs_start_fwmark")},
}

# Model fields no module outside keepalived_py/config/ reads, each with why that is right: the
# keyword is not implemented (NOT_IMPLEMENTED) or build.py folds the value into another field.
UNREAD_FIELDS: dict[str, str] = {
    "GlobalDefs.vrrp_down_timer_adverts": "folded into VrrpInstance.down_timer_adverts",
    "GlobalDefs.vrrp_version": "folded into VrrpInstance.version",
    "GlobalDefs.vrrp_strict": "folded into VrrpInstance.strict_mode and accept",
    "GlobalDefs.vrrp_garp_master_refresh": "folded into VrrpInstance.garp_master_refresh",
    "GlobalDefs.vrrp_garp_master_refresh_repeat": "folded into VrrpInstance",
    "GlobalDefs.vrrp_lower_prio_no_advert": "folded into VrrpInstance.lower_prio_no_advert",
    "GlobalDefs.vrrp_higher_prio_send_advert": "folded into VrrpInstance",
    "SslConfig.ca": "SSL_GET does not verify the server (keepalived neither): no CA is loaded",
    "VirtualRoute.or_via": "not implemented: deprecated 'or' routes",
    "VrrpInstance.track_src_ip": "keepalived 2.2.7 only shows it in its dump (obs/vrrp_data.py)",
    "VirtualAddress.track_group": "folded into the group's instances' track_interface"
                                  " (config/vrrp_keywords.py fold_track_groups)",
    "VirtualRoute.track_group": "folded into the group's instances' track_interface",
    "VirtualRule.track_group": "folded into the group's instances' track_interface",
    "GlobalDefs.vrrp_garp_extra_if_all": "folded into VrrpInstance.garp_extra_if",
    "GlobalDefs.dynamic_interfaces": "read by build.py: a missing interface is no error; the VRRP"
                                     " child picks an interface up when it appears",
    "GlobalDefs.allow_if_changes": "the VRRP child always follows an interface re-created with"
                                   " another index",
    "VrrpSyncGroup.sync_group_tracking_weight": "folded into the members' tracker lists"
                                                " (config/track_weights.py)",
    "VirtualServer.snmp_name": "only served by the SNMP subagent (virtualServerName)",
    "RealServer.snmp_name": "only served by the SNMP subagent (realServerName)",
}


def _global_later() -> set[str]:
    """The global_defs keywords build.py accepts without acting on them (it reports each with
    file:line): found by building a one-keyword global_defs and reading its notices."""
    from keepalived_py.config.blocks import read_tree_text
    from keepalived_py.config.build import build_config
    from keepalived_py.config.tree import Diagnostics
    out = set()
    for k in GLOBAL_DEFS:
        d = Diagnostics()
        build_config(read_tree_text(f"global_defs {{\n  {k} 1\n}}\n", path="k.conf",
                                    diagnostics=d), d, check_interfaces=False)
        if any(f"'{k}' (global_defs) is accepted but not implemented" in str(x) for x in d.items):
            out.add(k)
    return out


def keyword_table() -> str:
    """docs/KEYWORDS.md: every keyword keepalived 2.2.7 accepts, per block, and its status."""
    blocks: dict[str, frozenset[str]] = {
        "top": frozenset({"global_defs", "static_ipaddress", "static_routes", "static_rules",
                          "vrrp_script", "vrrp_track_process", "track_file", "vrrp_track_file",
                          "vrrp_sync_group", "vrrp_instance", "garp_group",
                          "linkbeat_interfaces", "track_group", "virtual_server",
                          "interface_up_down_delays", "linkbeat_use_polling",
                          "virtual_server_group", "bfd_instance", "SSL"}) | ROOT_LATER,
        "global_defs": GLOBAL_DEFS, "vrrp_instance": VRRP_INSTANCE,
        "vrrp_sync_group": VRRP_SYNC_GROUP, "vrrp_script": VRRP_SCRIPT,
        "vrrp_track_process": VRRP_TRACK_PROCESS, "track_file": TRACK_FILE,
        "garp_group": GARP_GROUP, "SSL": SSL, "virtual_server": VIRTUAL_SERVER,
        "authentication": AUTHENTICATION,
        "real_server": REAL_SERVER, **CHECKERS, "url": HTTP_URL, "host": SMTP_HOST,
        "bfd_instance": BFD_INSTANCE,
    }
    from keepalived_py.config.build_process import ROOT_KEYWORDS
    later_top = {("top", k): "parsed only" for k in ROOT_LATER - ROOT_KEYWORDS}
    later_top |= {("global_defs", k): "accepted, no effect yet" for k in _global_later()}
    out = ["# Keywords of keepalived 2.2.7 and keepalived-py's status",
           "",
           "Generated by `python3 -m keepalived_py.config.keywords --table` from",
           "keepalived_py/config/keywords.py (a test checks it is up to date). *not implemented*:",
           "accepted (never an unknown keyword) and reported with file:line by `-t` and when the",
           "daemon starts, but keepalived-py does not act on it. keepalived-py extensions are",
           "marked *extension* (keepalived 2.2.7 rejects them as unknown).", ""]
    for block, words in blocks.items():
        out += [f"## {block}", "", "| keyword | status |", "| --- | --- |"]
        for w in sorted(words | EXTENSIONS.get(block, frozenset())):
            if w in EXTENSIONS.get(block, frozenset()):
                status = "extension"
            elif (block, w) in NOT_IMPLEMENTED or (block, w) in later_top:
                why = NOT_IMPLEMENTED.get((block, w)) or later_top[(block, w)]
                status = f"not implemented: {why}"
            else:
                status = "implemented"
            out.append(f"| `{w}` | {status} |")
        if block == "vrrp_instance":
            out.append("| `authentication { auth_type AH }` | implemented (IPsec-AH, VRRPv2 IPv4) |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    if "--table" in sys.argv:
        sys.stdout.write(keyword_table())

# Keywords that open a block, per context: SUBLEVEL ones have keywords of their own (keepalived
# install_sublevel/install_keyword_root with a sub table), VALUE_BLOCK ones read lines of values
# (alloc_value_block). Without a '{' keepalived still reads the following lines into the block
# until a '}' - a sublevel saying "Missing '{' at beginning of configuration block" (an error),
# a value block only logging it.
SUBLEVEL: dict[str, frozenset[str]] = {
    "top": frozenset({"global_defs", "vrrp_sync_group", "garp_group", "track_group",
                      "vrrp_instance", "vrrp_script", "vrrp_track_process", "track_file",
                      "vrrp_track_file", "virtual_server", "SSL", "bfd_instance"}),
    "vrrp_instance": frozenset({"authentication"}),
    "virtual_server": frozenset({"real_server"}),
    "real_server": frozenset(CHECKERS),
    "HTTP_GET": frozenset({"url"}),
    "SSL_GET": frozenset({"url"}),
    "SMTP_CHECK": frozenset({"host"}),
}
VALUE_BLOCK: dict[str, frozenset[str]] = {
    "top": frozenset({"static_ipaddress", "static_routes", "static_rules", "linkbeat_interfaces",
                      "interface_up_down_delays",
                      "virtual_server_group"}),
    "global_defs": frozenset({"notification_email"}),
    "vrrp_instance": frozenset({"virtual_ipaddress", "virtual_ipaddress_excluded",
                                "virtual_routes", "virtual_rules", "track_interface",
                                "track_script", "track_process", "track_file", "track_bfd",
                                "unicast_peer"}),
    "vrrp_sync_group": frozenset({"group", "track_interface", "track_script", "track_process",
                                  "track_file", "track_bfd"}),
    "garp_group": frozenset({"interfaces"}),
}

# Every keyword keepalived 2.2.7 knows in each keyword context (for the tree's brace rules).
CONTEXT_KEYWORDS: dict[str, frozenset[str]] = {
    "top": SUBLEVEL["top"] | VALUE_BLOCK["top"] | ROOT_LATER | {"linkbeat_use_polling"},
    "global_defs": GLOBAL_DEFS | EXTENSIONS["global_defs"],
    "vrrp_instance": VRRP_INSTANCE,
    "vrrp_sync_group": VRRP_SYNC_GROUP,
    "vrrp_script": VRRP_SCRIPT,
    "vrrp_track_process": VRRP_TRACK_PROCESS,
    "track_file": TRACK_FILE,
    "garp_group": GARP_GROUP,
    "SSL": SSL,
    "virtual_server": VIRTUAL_SERVER,
    "real_server": REAL_SERVER,
    **CHECKERS,
    "url": HTTP_URL,
    "host": SMTP_HOST,
    "authentication": AUTHENTICATION,
    "bfd_instance": BFD_INSTANCE,
}

# Route and rule options that take a value: one given last on its line stops keepalived's
# reading like a keyword without its value (vrrp_iproute.c/vrrp_iprule.c read the next word).
ROUTE_OPTIONS_WITH_VALUE = frozenset({
    "src", "via", "gw", "or", "dev", "scope", "table", "metric", "priority", "preference",
    "mtu", "advmss", "realms", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh",
    "initcwnd", "initrwnd", "features", "congctl", "rto_min", "hoplimit", "pref", "protocol",
    "to", "expires", "quickack", "fastopen_no_cookie", "ttl-propagate", "encap",
    "track_group", "nexthop"})
RULE_OPTIONS_WITH_VALUE = frozenset({
    "from", "to", "table", "lookup", "priority", "preference", "prio", "fwmark", "iif",
    "iifname", "oif", "oifname", "tos", "dsfield", "realms", "goto", "suppress_prefixlength",
    "suppress_ifgroup", "uidrange", "sport", "dport", "ipproto", "protocol", "track_group",
    "nat"})


def skipped_header(context: str, words: tuple[str, ...]) -> bool:
    """check_data.c/vrrp_parser.c skip_block(true): a virtual or real server whose address or
    port is invalid, a vrrp_instance/vrrp_sync_group without exactly one name. Its block, when
    a '{' follows, is skipped unread; any other line cancels the skip, and the block opens
    without its '{' (parser.c: "Missing '{'", its lines read in the block's context)."""
    import ipaddress
    key = words[0] if words else ""
    if context == "top" and key in ("vrrp_instance", "vrrp_sync_group"):
        return len(words) != 2
    if (context, key) not in (("top", "virtual_server"), ("virtual_server", "real_server")):
        return False
    if context == "top" and len(words) > 2 and words[1] in ("fwmark", "group"):
        # (isascii: str.isdigit() is true for '¹', which int() refuses)
        return words[1] == "fwmark" and not (words[2].isascii() and words[2].isdigit()
                                             and 0 < int(words[2]) < 2**32)
    if len(words) < 2:
        return False
    try:
        ipaddress.ip_address(words[1])
    except ValueError:
        return True
    return len(words) > 2 and not (words[2].isascii() and words[2].isdigit()
                                   and int(words[2]) <= 65535)

# Values keepalived 2.2.7 -t rejects for numeric global_defs keywords keepalived-py does not
# act on, measured with the binary on a configuration that has a vrrp_instance and a
# virtual_server (without a virtual_server these values are not checked at all). Classes:
# "-1" negative, "0" zero, "5000" 5000 .. 2**32-1, "4294967296" 2**32 and more, "eth0" not a
# number; 1 .. 4999 is always accepted.
GLOBAL_NUMERIC_REJECTS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "bfd_cpu_affinity": "-1 5000 eth0 4294967296", "bfd_priority": "5000 eth0 4294967296",
    "bfd_rlimit_rtime": "0 -1 eth0 4294967296", "bfd_rlimit_rttime": "0 -1 eth0 4294967296",
    "bfd_rt_priority": "0 -1 5000 eth0 4294967296",
    "checker_cpu_affinity": "-1 5000 eth0 4294967296",
    "checker_priority": "5000 eth0 4294967296",
    "checker_rlimit_rtime": "0 -1 eth0 4294967296",
    "checker_rlimit_rttime": "0 -1 eth0 4294967296",
    "checker_rt_priority": "0 -1 5000 eth0 4294967296",
    "lvs_netlink_cmd_rcv_bufs": "-1 eth0 4294967296",
    "lvs_netlink_monitor_rcv_bufs": "-1 eth0 4294967296",
    "max_auto_priority": "5000 eth0 4294967296",
    "min_auto_priority_delay": "0 -1 eth0 4294967296",
    "nftables_ipvs_priority": "eth0 4294967296",
    "nftables_ipvs_start_fwmark": "0 -1 eth0 4294967296",
    "nftables_priority": "eth0 4294967296",
    "process_monitor_rcv_bufs": "-1 eth0 4294967296", "random_seed": "-1 eth0 4294967296",
    "shutdown_script_timeout": "0 -1 5000 eth0 4294967296",
    "startup_script_timeout": "0 -1 5000 eth0 4294967296",
    "umask": "-1 5000 eth0 4294967296", "vrrp_cpu_affinity": "-1 5000 eth0 4294967296",
    "vrrp_down_timer_adverts": "0 -1 5000 eth0 4294967296",
    "vrrp_garp_extra_if": "0 -1 eth0 4294967296",
    "vrrp_netlink_cmd_rcv_bufs": "-1 eth0 4294967296",
    "vrrp_netlink_monitor_rcv_bufs": "-1 eth0 4294967296",
    "vrrp_priority": "5000 eth0 4294967296", "vrrp_rlimit_rtime": "0 -1 eth0 4294967296",
    "vrrp_rlimit_rttime": "0 -1 eth0 4294967296",
    "vrrp_rt_priority": "0 -1 5000 eth0 4294967296",
    "vrrp_rx_bufs_multiplier": "0 -1 eth0 4294967296",
    "vrrp_rx_bufs_policy": "-1 eth0 4294967296",
    "vrrp_startup_delay": "0 -1 5000 eth0 4294967296",
}.items()}


def numeric_class(value: str) -> str | None:
    """The GLOBAL_NUMERIC_REJECTS class of a value (None: 1 .. 4999, always accepted): the
    handlers read integers (strtol: "0.5" and "1e9" are not numbers, "" is 0)."""
    import re
    if not re.fullmatch(r"[+-]?[0-9]*", value):
        return "eth0"
    n = int(value) if value.strip("+-") else 0
    if n < 0:
        return "-1"
    if n == 0:
        return "0"
    if n < 5000:
        return None
    return "5000" if n < 2**32 else "4294967296"

# global_defs keywords keepalived-py does not act on whose optional value keepalived 2.2.7
# checks as true/false (yes/no, on/off); anything else is an error (measured with the binary).
GLOBAL_BOOL_VALUES = frozenset({
    "checker_log_all_failures", "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs_force", "no_checker_emails", "process_monitor_rcv_bufs_force",
    "rs_init_notifies", "smtp_alert", "smtp_alert_checker", "smtp_alert_vrrp", "vrrp_min_garp",
    "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs_force",
    "vrrp_notify_priority_changes"})
