"""global_defs process keywords -> GlobalDefs.process: keepalived 2.2.7's values, ranges and
fall-backs (messages checked against the binary's -t: tests/golden/config/process_defs_*.conf)."""
from __future__ import annotations

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import Config
from keepalived_py.config.model_process import ChildSched, ProcessDefs, RcvBufs
from keepalived_py.config.tree import Diagnostics, Severity


def load(body: str, root: str = "") -> tuple[Config, Diagnostics]:
    d = Diagnostics()
    text = f"global_defs {{\n{body}\n}}\n{root}"
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d), d


def errors(d: Diagnostics) -> list[str]:
    return [x.message for x in d.items if x.severity is Severity.ERROR]


def test_defaults_are_keepalived_s() -> None:
    c, d = load("")
    p = c.global_defs.process
    assert p == ProcessDefs()
    assert p.vrrp == ChildSched(priority=0, rt_priority=0, rlimit_rttime=10000)
    assert (p.max_auto_priority, p.min_auto_priority_delay, p.child_wait_time) == (0, 1000000, 5)
    assert p.vrrp_rx_bufs_multiplier == 3 and p.umask is None and not errors(d)


def test_each_child_gets_its_own_scheduling() -> None:
    c, d = load(" vrrp_priority -5\n checker_rt_priority 30\n bfd_no_swap\n"
                " vrrp_cpu_affinity 0\n checker_rlimit_rttime 1\n bfd_rlimit_rtime 700")
    p = c.global_defs.process
    assert p.vrrp == ChildSched(priority=-5, cpu_affinity=(0,))
    assert p.checker == ChildSched(rt_priority=30, rlimit_rttime=2)   # 1 -> 2: halved later
    assert p.bfd == ChildSched(no_swap=True, rlimit_rttime=700)
    assert not errors(d)
    assert any("deprecated" in x.message for x in d.items)            # *_rlimit_rtime: a notice


def test_out_of_range_values_are_errors_with_keepalived_s_fall_backs() -> None:
    c, d = load(" vrrp_priority 20\n vrrp_rt_priority 150\n checker_rt_priority 0\n"
                " bfd_rlimit_rttime 0\n max_auto_priority 100\n vrrp_startup_delay 0")
    p = c.global_defs.process
    assert p.vrrp.priority == 0 and p.vrrp.rt_priority == 99          # clamped to the maximum
    assert p.checker.rt_priority == 1 and p.bfd.rlimit_rttime == 0
    assert p.max_auto_priority == 0 and p.vrrp_startup_delay == 0.0
    assert "Invalid vrrp process priority specified" in errors(d)
    assert "vrrp process real-time priority 150 greater than maximum 99 - setting to maximum" \
        in errors(d)


def test_umask_numeric_and_symbolic() -> None:
    assert load(" umask 0027")[0].global_defs.process.umask == 0o027
    assert load(" umask IWGRP|IWOTH|IXOTH")[0].global_defs.process.umask == 0o023
    c, d = load(" umask IWGRP IWOTH")
    assert c.global_defs.process.umask is None and errors(d) == ["Invalid umask syntax IWOTH"]
    assert errors(load(" umask 0999")[1]) == ["invalid umask value 0999"]
    assert errors(load(" umask IWFOO")[1]) == ["Unknown umask bit IWFOO"]


def test_start_and_stop_scripts_get_a_10s_timeout_unless_given() -> None:
    c, d = load(' startup_script "/bin/echo up"\n shutdown_script_timeout 4\n'
                " shutdown_script /bin/true nobody\n enable_script_security")
    p = c.global_defs.process
    assert p.startup_script is not None and p.startup_script.argv == ("/bin/echo", "up")
    assert p.startup_script_timeout == 10 and p.shutdown_script_timeout == 4
    assert p.shutdown_script is not None and p.shutdown_script.user == "nobody"
    c, d = load(" startup_script /bin/true\n startup_script /bin/false")
    assert "startup script already specified" in errors(d)


def test_buffers_nftables_prefixes_and_root_keywords() -> None:
    c, d = load(" vrrp_netlink_cmd_rcv_bufs 1048576\n vrrp_netlink_cmd_rcv_bufs_force\n"
                " lvs_netlink_monitor_rcv_bufs_force no\n vrrp_rx_bufs_policy ADVERT\n"
                " vrrp_rx_bufs_multiplier 5\n nftables\n nftables_priority -7\n"
                " nftables_counters\n vmac_prefix kp\n random_seed 9\n reload_file",
                root="child_wait_time 2\nuse_pid_dir\n")
    p = c.global_defs.process
    assert p.vrrp_netlink_cmd == RcvBufs(size=1048576, force=True)
    assert p.lvs_netlink_monitor == RcvBufs()
    assert (p.vrrp_rx_bufs_policy, p.vrrp_rx_bufs_multiplier) == ("ADVERT", 5)
    assert (p.nftables, p.nftables_priority, p.nftables_counters) == ("keepalived", -7, True)
    assert (p.vmac_prefix, p.random_seed, p.reload_file) == ("kp", 9, "")
    assert (p.child_wait_time, p.use_pid_dir) == (2, True)
    assert not errors(d)
    c, d = load(" vrrp_rx_bufs_policy MTU ADVERT")
    assert c.global_defs.process.vrrp_rx_bufs_policy == "MTU"
    assert errors(d) == ["Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT"]


def test_process_names_names_the_bfd_child_too() -> None:
    c, _ = load(" process_names")
    assert c.global_defs.process.bfd_process_name == "keepalived_bfd"
    assert c.global_defs.vrrp_process_name == "keepalived_vrrp"
    c, _ = load(" process_names\n bfd_process_name kp_bfd")
    assert c.global_defs.process.bfd_process_name == "kp_bfd"


def test_scheduling_keywords_are_no_longer_listed_as_not_implemented() -> None:
    _, d = load(" vrrp_priority -1\n umask 0022\n vrrp_startup_delay 1\n max_auto_priority")
    assert not [x for x in d.items if "not implemented" in x.message]


def test_vrrp_rx_buffer_sizes_follow_keepalived_s_policy() -> None:
    from keepalived_py.vrrp import rxbufs
    c, _ = load("", root="vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
                         " virtual_ipaddress {\n 192.0.2.1\n 192.0.2.2\n }\n}\n")
    inst = c.vrrp_instances[0]
    assert rxbufs.advert_len(inst) == 8 + 8 + 2 * 4 + 20                 # VRRPv2 over IPv4
    mtu = {"eth0": 9000}.get
    p = ProcessDefs(vrrp_rx_bufs_policy="MTU", vrrp_rx_bufs_multiplier=2)
    assert rxbufs.rx_buf_size([inst, inst], p, lambda n: mtu(n) or 0) == 2 * 2 * 9000
    p = ProcessDefs(vrrp_rx_bufs_policy="ADVERT")
    assert rxbufs.rx_buf_size([inst], p, lambda n: 0) == 3 * 44
    assert rxbufs.rx_buf_size([inst], ProcessDefs(vrrp_rx_bufs_size=777), lambda n: 0) == 777
    assert rxbufs.rx_buf_size([inst], ProcessDefs(), lambda n: 0) == 0


def test_bfd_child_takes_bfd_process_name() -> None:
    from keepalived_py.core.process import comm_for
    c, _ = load(" process_name kpparent\n bfd_process_name kp_bfd")
    assert comm_for("bfd", c.global_defs) == "kp_bfd"
    assert comm_for("vrrp", c.global_defs) == "kpparent"
    c, _ = load(" process_names")
    assert comm_for("bfd", c.global_defs) == "keepalived_bfd"


def test_true_false_words_and_an_invalid_one_keeps_the_value_before() -> None:
    c, d = load(" checker_log_all_failures\n checker_log_all_failures maybe\n"
                " vrrp_netlink_cmd_rcv_bufs_force\n vrrp_netlink_cmd_rcv_bufs_force perhaps\n"
                " lvs_netlink_cmd_rcv_bufs_force yes\n lvs_netlink_cmd_rcv_bufs_force off")
    p = c.global_defs.process
    assert p.checker_log_all_failures is True
    assert p.vrrp_netlink_cmd.force is True and p.lvs_netlink_cmd.force is False
    assert errors(d) == ["Invalid value for checker_log_all_failures specified",
                         "Invalid value 'perhaps' for global vrrp_netlink_cmd_rcv_bufs_force"
                         " specified"]


def test_true_false_words_are_lower_case_only_as_keepalived_s_strcmp() -> None:
    # keepalived 2.2.7 -t (check_true_false: strcmp): "TRUE", "Yes", "oN" are invalid and
    # the keyword keeps what it had; the messages are the binary's, per block
    c, d = load(" smtp_alert false\n smtp_alert Yes\n vrrp_notify_priority_changes TRUE\n"
                " checker_log_all_failures On",
                "vrrp_instance VI_1 {\n virtual_router_id 5\n smtp_alert True\n"
                " virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n"
                "vrrp_sync_group G {\n group {\n  VI_1\n }\n smtp_alert oN\n}\n"
                "virtual_server 192.0.2.10 80 {\n smtp_alert NO\n"
                " real_server 192.0.2.20 80 {\n  smtp_alert FALSE\n }\n}\n")
    assert c.global_defs.smtp_alert is False
    assert [e for e in errors(d) if "smtp_alert" in e or "global" in e or "failures" in e] == [
        "Invalid value 'Yes' for global smtp_alert specified",
        "Invalid value 'TRUE' for global vrrp_notify_priority_changes specified",
        "Invalid value for checker_log_all_failures specified",
        "Invalid vrrp_instance smtp_alert parameter True",
        "Invalid vrrp_group smtp_alert parameter oN",
        "Invalid virtual_server smtp_alert parameter NO",
        "Invalid real_server smtp_alert parameter FALSE",
    ]


def test_invalid_true_false_words_keep_the_value_with_the_binary_s_messages() -> None:
    # keepalived 2.2.7 -t on the same lines; virtual_server alpha/omega/ha_suspend/
    # inhibit_on_failure are flags whatever follows; sorry_server_inhibit needs a sorry_server
    c, d = load(" vrrp_lower_prio_no_advert\n vrrp_lower_prio_no_advert maybe3\n"
                " vrrp_min_garp maybe1\n data_use_instance maybe2",
                "vrrp_instance VI_1 {\n virtual_router_id 5\n strict_mode maybe5\n"
                " lower_prio_no_advert\n lower_prio_no_advert maybe6\n"
                " virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n"
                "virtual_server 192.0.2.10 80 {\n protocol TCP\n alpha maybe8\n"
                " sorry_server_inhibit\n sorry_server 192.0.2.30 80\n sorry_server_inhibit x\n"
                " real_server 192.0.2.20 80 {\n }\n}\n")
    assert c.global_defs.vrrp_lower_prio_no_advert is True
    inst = c.vrrp_instances[0]
    assert inst.lower_prio_no_advert is True and not inst.strict_mode
    vs = c.virtual_servers[0]
    assert vs.alpha is True and vs.sorry_server_inhibit is True
    assert [e for e in errors(d) if "nterface" not in e and "default" not in e] == [
        "Invalid value for vrrp_lower_prio_no_advert specified",
        "Invalid value for vrrp_min_garp specified",
        "Invalid value 'maybe2' for global date_use_instance specified",
        "(VI_1) invalid strict_mode maybe5 specified",
        "(VI_1) invalid lower_prio_no_advert maybe6 specified",
        "Ignoring sorry_server inhibit used before or without sorry_server",
    ]
