"""Small configurations for the resolved-semantics comparison (test_resolved.py).

Each covers a few VRRP or tracker keywords and leaves everything else at its default, so
keepalived 2.2.7's dump shows the default it resolves. `FILES` is replaced by the bench's
shared files directory (track files) before use.
"""
from __future__ import annotations


def inst(body: str = "", name: str = "VI_1", vrid: int = 51, iface: str = "eth0",
         vips: str = "192.0.2.10/24") -> str:
    addrs = "\n".join(f"    {v}" for v in vips.split(",") if v)
    vip_block = f"  virtual_ipaddress {{\n{addrs}\n  }}\n" if addrs else ""
    return (f"vrrp_instance {name} {{\n  interface {iface}\n  virtual_router_id {vrid}\n"
            f"{body}{vip_block}}}\n")


def glob(body: str) -> str:
    return f"global_defs {{\n{body}}}\n"


SCRIPTS = """vrrp_script ok {
  script "/bin/true"
  interval 1
}
vrrp_script bad {
  script "/bin/false"
  interval 1
  weight -20
}
"""

TRACKERS = """vrrp_script ok {
  script "/bin/true"
  interval 1
}
vrrp_track_file tf {
  file FILES/tf
  weight 3
}
track_file tg {
  file FILES/tg
}
vrrp_track_process tp {
  process no-such-process-kpd
  weight -10
}
"""

CONFIGS: dict[str, str] = {
    "defaults": inst(),
    "priority_150": inst("  priority 150\n"),
    "priority_255": inst("  priority 255\n"),
    "state_master_no_priority": inst("  state MASTER\n"),
    "state_master_priority_100": inst("  state MASTER\n  priority 100\n"),
    "state_backup_priority_255": inst("  state BACKUP\n  priority 255\n"),
    "nopreempt": inst("  nopreempt\n"),
    "nopreempt_state_master": inst("  state MASTER\n  priority 120\n  nopreempt\n"),
    "preempt_delay": inst("  priority 90\n  preempt_delay 3\n"),
    "version_3": inst("  version 3\n  advert_int 0.5\n"),
    "vrrp_version_3_global": glob("  vrrp_version 3\n") + inst("  advert_int 2\n"),
    # the process-level global_defs keywords (config/model_process.py), every one set
    "process_defs": glob(
        "  vrrp_priority -5\n  checker_priority 3\n  bfd_priority 2\n"
        "  vrrp_rt_priority 20\n  vrrp_rlimit_rttime 500000\n  checker_rlimit_rttime 1\n"
        "  vrrp_no_swap\n  bfd_no_swap\n  vrrp_cpu_affinity 0\n  checker_cpu_affinity 0 1\n"
        "  max_auto_priority 30\n  min_auto_priority_delay 200000\n"
        "  vrrp_startup_delay 1.5\n  umask 0027\n"
        "  startup_script /bin/true\n  startup_script_timeout 3\n"
        "  shutdown_script \"/bin/true x\"\n"
        "  process_names\n  bfd_process_name kpgl_bfd\n"
        "  vrrp_netlink_cmd_rcv_bufs 1048576\n  vrrp_netlink_cmd_rcv_bufs_force\n"
        "  vrrp_netlink_monitor_rcv_bufs 2097152\n  lvs_netlink_cmd_rcv_bufs 65536\n"
        "  lvs_netlink_monitor_rcv_bufs_force on\n  process_monitor_rcv_bufs 32768\n"
        "  vrrp_rx_bufs_policy MTU\n  vrrp_rx_bufs_multiplier 4\n"
        "  nftables kpgl\n  nftables_priority -5\n  nftables_counters\n  nftables_ifindex\n"
        "  vmac_prefix kpv\n  vmac_addr_prefix kpa\n  random_seed 7\n"
        "  checker_log_all_failures\n  reload_time_file /nonexistent/kp-reload-time\n"
        "  reload_repeat\n  reload_file /nonexistent/kp-reload\n  reload_check_config /dev/null\n"
        "  enable_script_security\n") + "child_wait_time 3\n" + inst(),
    "advert_int_3": inst("  advert_int 3\n"),
    # use_ipvlan (config/ipvlan.py): its fields; where the kernel has no ipvlan, FAULT in both
    "ipvlan_private": inst("  use_ipvlan 192.0.2.5/24 private\n  promote_secondaries\n"),
    "ipvlan_no_address": inst("  use_ipvlan kpiv\n"),
    "ipv6": inst(vips="2001:db8::10/64"),
    "ipv6_version_2": inst("  version 2\n", vips="2001:db8::10/64"),
    "garp_instance": inst("  garp_master_delay 2\n  garp_master_repeat 3\n"
                          "  garp_master_refresh 10\n  garp_master_refresh_repeat 2\n"
                          "  garp_lower_prio_delay 4\n  garp_lower_prio_repeat 6\n"),
    "garp_global": glob("  vrrp_garp_master_delay 7\n  vrrp_garp_master_repeat 2\n"
                        "  vrrp_garp_master_refresh 30\n  vrrp_garp_master_refresh_repeat 3\n"
                        "  vrrp_garp_lower_prio_delay 9\n  vrrp_garp_lower_prio_repeat 4\n"
                        "  vrrp_garp_interval 0.1\n  vrrp_gna_interval 0.2\n") + inst(),
    "garp_global_refresh_only": glob("  vrrp_garp_master_refresh 20\n") + inst(),
    # an instance's explicit value equal to the default still beats global_defs (issue 11)
    "garp_instance_default_over_global": glob(
        "  vrrp_garp_master_delay 7\n  vrrp_garp_master_repeat 2\n"
        "  vrrp_garp_master_refresh 30\n  vrrp_garp_master_refresh_repeat 3\n")
    + inst("  garp_master_delay 5\n  garp_master_repeat 5\n  garp_master_refresh 0\n"
           "  garp_master_refresh_repeat 1\n"),
    "vrrp_min_garp": glob("  vrrp_min_garp\n") + inst(),
    "down_timer_adverts_global": glob("  vrrp_down_timer_adverts 5\n") + inst(),
    "down_timer_adverts_instance": inst("  down_timer_adverts 6\n"),
    "prio_advert_flags": glob("  vrrp_lower_prio_no_advert\n  vrrp_higher_prio_send_advert\n")
    + inst() + inst("  lower_prio_no_advert false\n", name="VI_2", vrid=52,
                    vips="192.0.2.20/24"),
    "unicast": inst("  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n"
                    "    192.0.2.3 min_ttl 10 max_ttl 250\n  }\n"),
    "unicast_fault_no_peer": inst("  unicast_src_ip 192.0.2.1\n  unicast_fault_no_peer\n"),
    "auth_pass": inst("  authentication {\n    auth_type PASS\n    auth_pass secret12\n  }\n"),
    "strict": glob("  vrrp_strict\n") + inst("  version 3\n"),
    "instance_flags": inst("  mcast_src_ip 192.0.2.1\n  dont_track_primary\n"
                           "  skip_check_adv_addr\n  promote_secondaries\n  no_accept\n"),
    "addresses": inst(vips="192.0.2.10/24 brd 192.0.2.255 dev eth0 label eth0:1,"
                           "192.0.2.11,192.0.2.12/32 dev eth1 scope link")
    + "vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 52\n"
      "  virtual_ipaddress {\n    192.0.2.30/24\n  }\n"
      "  virtual_ipaddress_excluded {\n    198.51.100.40/24 dev eth1\n  }\n"
      "  virtual_routes {\n    198.51.100.0/25 via 192.0.2.254 dev eth0\n"
      "    203.0.113.0/24 dev eth1 table 100\n  }\n"
      "  virtual_rules {\n    from 192.0.2.30 table 100 priority 100\n  }\n}\n",
    "static": "static_ipaddress {\n  192.0.2.50/24 dev eth0\n}\n"
              "static_routes {\n  203.0.113.0/24 via 192.0.2.254 dev eth0\n}\n"
              "static_rules {\n  from 192.0.2.50 table 200 priority 200\n}\n" + inst(),
    "track_script_weights": SCRIPTS + inst(
        "  track_script {\n    ok\n    bad\n  }\n"),
    "track_script_ref_weights": SCRIPTS + inst(
        "  track_script {\n    ok weight 10\n    bad weight 5 reverse\n  }\n"),
    "script_rise_fall": "vrrp_script chk {\n  script \"/bin/true\"\n  interval 2\n"
                        "  timeout 1\n  rise 3\n  fall 2\n  weight 15\n}\n"
    + inst("  track_script {\n    chk\n  }\n"),
    "script_init_fail": "vrrp_script chk {\n  script \"/bin/true\"\n  interval 1\n"
                        "  init_fail\n}\n" + inst("  track_script {\n    chk\n  }\n"),
    "script_init_fail_rise": "vrrp_script chk {\n  script \"/bin/true\"\n  interval 1\n"
                             "  rise 2\n  init_fail\n  weight 10\n}\n"
    + inst("  track_script {\n    chk\n  }\n"),
    "track_interface": inst("  priority 100\n  track_interface {\n    eth1 weight -30\n"
                            "    eth8\n  }\n"),
    "track_interface_own": inst("  track_interface {\n    eth0\n    eth1 weight 10\n  }\n"),
    "track_file": "vrrp_track_file tf {\n  file FILES/tf\n  weight 3\n}\n"
                  "track_file tg {\n  file FILES/tg\n}\n"
    + inst("  track_file {\n    tf\n    tg weight -2 reverse\n  }\n"),
    "track_process": "vrrp_track_process tp {\n  process no-such-process-kpd\n  quorum 2\n"
                     "  weight -10\n}\n" + inst("  track_process {\n    tp\n  }\n"),
    "sync_group": "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
    + inst("  priority 120\n") + inst(name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "sync_group_weights_ignored": SCRIPTS
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
    + inst("  track_script {\n    ok weight 10\n  }\n  track_interface {\n    eth1 weight 7\n  }\n")
    + inst(name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "sync_group_tracking_weight": SCRIPTS
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n"
      "  sync_group_tracking_weight\n  track_script {\n    ok weight 5\n  }\n}\n"
    + inst("  track_script {\n    ok weight 10\n  }\n")
    + inst(name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "sync_group_global_tracking": SCRIPTS
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n  global_tracking\n}\n"
    + inst("  track_script {\n    ok weight 10\n  }\n")
    + inst(name="VI_2", vrid=52, vips="192.0.2.20/24"),
    # keepalived 2.2.7's uneven filtering of member weights (config/track_weights.py): the
    # interface weight keeps applying, weighted scripts go, files weighted 1 become weight 0
    # (a non-zero file faults), other weighted files go, processes stay
    "sync_group_member_trackers": TRACKERS
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
    + inst("  track_file {\n    tf\n    tg\n  }\n  track_process {\n    tp\n  }\n"
           "  track_interface {\n    eth1 weight 7 reverse\n  }\n")
    + inst("  track_file {\n    tg weight 1\n  }\n  track_process {\n    tp weight 5 reverse\n"
           "  }\n", name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "owner_trackers": TRACKERS.replace("interval 1\n", "interval 1\n  weight 10\n", 1)
    + inst("  priority 255\n  track_script {\n    ok\n  }\n  track_file {\n    tg\n  }\n"
           "  track_process {\n    tp\n  }\n  track_interface {\n    eth1 weight 7\n  }\n"),
    # an object tracked by a member and by its group: listed once, the group's weight unless
    # the member's is 0; a process keeps the member's direction
    "sync_group_tracked_twice": TRACKERS
    + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n  sync_group_tracking_weight\n"
      "  track_interface {\n    eth1 weight 4\n  }\n  track_file {\n    tf weight 2 reverse\n"
      "  }\n  track_process {\n    tp weight -6 reverse\n  }\n  track_script {\n"
      "    ok weight 5 reverse\n  }\n}\n"
    + inst("  track_interface {\n    eth1 weight 7\n  }\n  track_file {\n    tf\n  }\n"
           "  track_process {\n    tp\n  }\n  track_script {\n    ok weight 10\n  }\n")
    + inst("  track_interface {\n    eth1 weight 0\n  }\n  track_script {\n    ok weight 0\n"
           "  }\n", name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "advert_int_rounded_v2": inst("  advert_int 1.6\n"),
    "unicast_ttl": inst("  unicast_ttl 10\n  unicast_peer {\n    192.0.2.2\n  }\n"),
    "strict_accept": glob("  vrrp_strict\n") + inst("  version 3\n  accept\n"),
    "script_reverse": "vrrp_script chk {\n  script \"/bin/true\"\n  weight 10 reverse\n}\n"
    + inst("  track_script {\n    chk\n  }\n"),
    "track_process_params": "vrrp_track_process tp {\n  process /usr/bin/sleep 1000\n"
                            "  param_match partial\n  quorum 1\n  quorum_max 3\n"
                            "  weight 20\n  delay 2\n}\n"
    + inst("  track_process {\n    tp weight 5\n  }\n"),
    "ipv6_addresses": inst(vips="2001:db8::10/64,2001:db8::11 preferred_lft 0,"
                                "fe80::10/64 dev eth0"),
    "preempt_delay_nopreempt": inst("  preempt_delay 4\n  nopreempt\n"),
    "strict_resets": glob("  vrrp_strict\n") + inst("  version 3\n  preempt_delay 4\n"
                                                   "  down_timer_adverts 5\n"
                                                   "  authentication {\n    auth_type PASS\n"
                                                   "    auth_pass secret\n  }\n"),
    "global_checks": glob("  vrrp_skip_check_adv_addr\n  vrrp_check_unicast_src\n"
                          "  vrrp_mcast_group4 224.0.0.19\n  vrrp_version 3\n")
    + inst() + inst("  unicast_peer {\n    192.0.2.5\n  }\n", name="VI_2", vrid=52,
                    vips="192.0.2.20/24"),
    "mcast_dst_ip": inst("  mcast_dst_ip 224.0.0.20\n  accept\n"),
    "track_interface_reverse": inst("  track_interface {\n    eth1 weight 20 reverse\n"
                                    "    eth8 weight -5 reverse\n  }\n"),
    "owner_nopreempt": inst("  priority 255\n  nopreempt\n"),
    "global_email": glob("  router_id R1\n  notification_email {\n    a@example.com\n"
                         "    b@example.com\n  }\n  notification_email_from kp@example.com\n"
                         "  smtp_server 192.0.2.99 2525\n  smtp_connect_timeout 12\n"
                         "  vrrp_notify_fifo FILES/fifo\n") + inst("  smtp_alert\n"),
    "sync_group_notify": "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n"
                         "  notify_master \"/bin/true m\"\n  notify /bin/true\n  smtp_alert\n}\n"
    + inst() + inst(name="VI_2", vrid=52, vips="192.0.2.20/24"),
    "routes_rules": "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n"
                    "  virtual_ipaddress {\n    192.0.2.10/24\n  }\n"
                    "  virtual_routes {\n    src 192.0.2.10 203.0.113.0/24 via 192.0.2.254 dev eth0"
                    " metric 10\n    blackhole 198.51.100.128/25\n"
                    "    default via 192.0.2.254 dev eth0 table 200\n"
                    "    203.0.113.128/25 dev eth1 scope link\n  }\n"
                    "  virtual_rules {\n    from 192.0.2.10/32 to 203.0.113.0/24 table 200"
                    " priority 300\n    to 198.51.100.0/24 lookup 201 priority 301\n"
                    "    fwmark 0x10 table 202 priority 302\n  }\n}\n",
    "track_file_init": "track_file tf {\n  file FILES/tinit\n  weight -4\n  init_file 3\n}\n"
    + inst("  track_file {\n    tf\n  }\n"),
    "notify": inst("  notify_master \"/bin/true master\"\n  notify /bin/true\n"
                   "  smtp_alert\n"),
    # the IPVS globals (issue 13); a sync daemon with `inst` kills keepalived 2.2.7's VRRP
    # child on a kernel without IPVS, so the checker's form here
    "lvs_globals": glob("  lvs_sync_daemon eth0 id 5 maxlen 1400 port 8848 ttl 2"
                        " group 239.1.2.3\n  lvs_timeouts tcp 900 tcpfin 30 udp 60\n"
                        "  lvs_flush\n  lvs_flush_onstop VS\n  rs_init_notifies\n") + inst(),
}

# configurations whose trackers need longer than the default settle time to reach a result
# in both daemons: rise 2 after init_fail needs two runs, one interval apart
SETTLE: dict[str, float] = {"script_init_fail_rise": 2.4}
