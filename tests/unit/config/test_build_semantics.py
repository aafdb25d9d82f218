"""Values keepalived 2.2.7 resolves that its data dump shows (tests/conformance/test_resolved.py
found each of these by comparing dumps; here each is pinned without a daemon)."""
from __future__ import annotations

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import Config, VrrpState
from keepalived_py.config.tree import Diagnostics


def load(text: str) -> tuple[Config, Diagnostics]:
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d), d


def vi(body: str, name: str = "VI_1", vrid: int = 51, vip: str = "192.0.2.1/24") -> str:
    return f"vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}\n" \
           f" virtual_ipaddress {{ {vip} }}\n}}\n"


def messages(d: Diagnostics) -> str:
    return "\n".join(x.message for x in d.items)


def test_nopreempt_with_state_master_clears_nopreempt_and_stays_master() -> None:
    c, d = load(vi(" state MASTER\n priority 120\n nopreempt\n preempt_delay 5"))
    i = c.vrrp_instances[0]
    assert (i.state, i.nopreempt, i.preempt_delay) == (VrrpState.MASTER, False, 0.0)
    assert "nopreempt will not work with initial state MASTER" in messages(d)
    assert "preempt delay will not work with initial state MASTER" in messages(d)


def test_ipv6_with_explicit_version_2_runs_version_2() -> None:
    c, _ = load(vi(" version 2", vip="2001:db8::10/64"))
    assert (c.vrrp_instances[0].version, c.vrrp_instances[0].family) == (2, 6)
    c, _ = load("global_defs {\n vrrp_version 2\n}\n" + vi("", vip="2001:db8::10/64"))
    assert c.vrrp_instances[0].version == 3
    c, d = load("global_defs {\n vrrp_strict\n}\n" + vi(" version 2", vip="2001:db8::10/64"))
    assert c.vrrp_instances[0].version == 3
    assert "cannot use IPv6 with VRRP version 2" in messages(d)


def test_vrrp_down_timer_adverts_is_the_instances_default() -> None:
    c, _ = load("global_defs {\n vrrp_down_timer_adverts 5\n}\n" + vi("")
                + vi(" down_timer_adverts 6", name="VI_2", vrid=52))
    assert c.global_defs.vrrp_down_timer_adverts == 5
    assert [i.down_timer_adverts for i in c.vrrp_instances] == [5, 6]


def test_vrrp_min_garp_sets_one_garp_without_delay_refresh_or_repeat() -> None:
    c, _ = load("global_defs {\n vrrp_min_garp\n}\n" + vi(""))
    g, i = c.global_defs, c.vrrp_instances[0]
    assert (g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat, g.vrrp_garp_master_refresh,
            g.vrrp_garp_master_refresh_repeat) == (0.0, 1, 0.0, 0)
    assert (i.garp_master_delay, i.garp_master_repeat, i.garp_master_refresh_repeat) == (0.0, 1, 0)
    # what global_defs sets itself, before or after, stays
    c, _ = load("global_defs {\n vrrp_garp_master_repeat 3\n vrrp_min_garp\n}\n" + vi(""))
    assert (c.global_defs.vrrp_garp_master_repeat, c.global_defs.vrrp_garp_master_delay) == (3, 0.0)


def test_instance_lower_prio_no_advert_false_wins_over_global() -> None:
    c, _ = load("global_defs {\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert\n}\n"
                + vi("") + vi(" lower_prio_no_advert false\n higher_prio_send_advert false",
                              name="VI_2", vrid=52))
    a, b = c.vrrp_instances
    assert (a.lower_prio_no_advert, a.higher_prio_send_advert) == (True, True)
    assert (b.lower_prio_no_advert, b.higher_prio_send_advert) == (False, False)


def test_strict_mode_sends_no_lower_priority_adverts_or_garps() -> None:
    c, _ = load("global_defs {\n vrrp_strict\n}\n" + vi(" version 3"))
    i = c.vrrp_instances[0]
    assert (i.lower_prio_no_advert, i.garp_lower_prio_delay, i.garp_lower_prio_repeat) == \
        (True, 0.0, 0)


def test_track_interface_naming_the_own_interface_is_ignored() -> None:
    c, d = load(vi(" track_interface {\n  eth0\n  eth1 weight 10\n }"))
    assert [r.name for r in c.vrrp_instances[0].track_interface] == ["eth1"]
    assert "(VI_1) Ignoring track_interface eth0 since own interface" in messages(d)


def test_sync_group_member_keeps_weighted_interface_applied() -> None:
    # keepalived 2.2.7 shows weight 0 in the instance's list but has already registered the
    # weight on the interface, which keeps applying it (obs/vrrp_data.py prints the 0)
    c, d = load("vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n"
                + vi(" track_interface {\n  eth1 weight 7\n }")
                + vi("", name="VI_2", vrid=52))
    refs = c.vrrp_instances[0].track_interface
    assert [(r.name, r.weight) for r in refs] == [("eth1", 7)]
    assert "(VI_1) ignoring eth1 tracked interface weight due to SYNC group" in messages(d)


TRACKERS = ("vrrp_script ok {\n script /bin/true\n weight 10\n}\n"
            "track_file tf {\n file /tmp/kp-none-tf\n weight 3\n}\n"
            "track_file tg {\n file /tmp/kp-none-tg\n}\n"
            "vrrp_track_process tp {\n process no-such\n weight -10\n}\n")
TRACKED = (" track_script {\n  ok\n }\n track_file {\n  tf\n  tg\n }\n"
           " track_process {\n  tp\n }")


def test_sync_group_member_weights_as_keepalived() -> None:
    c, d = load(TRACKERS + "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n"
                + vi(TRACKED) + vi("", name="VI_2", vrid=52))
    i = c.vrrp_instances[0]
    assert i.track_script == ()
    assert [(r.name, r.weight) for r in i.track_file] == [("tg", 0)]     # weight 1 -> 0
    assert [r.name for r in i.track_process] == ["tp"]                    # left alone
    m = messages(d)
    assert "(VI_1) ignoring tracked script ok with weights due to SYNC group" in m
    assert "(VI_1) ignoring tracked file tf with weight 3 due to SYNC group" in m
    assert "(VI_1) ignoring weight from tracked file tg due to SYNC group. specify weight 0" in m


def test_address_owner_weights_as_keepalived() -> None:
    c, d = load(TRACKERS + vi(" priority 255\n track_interface {\n  eth1 weight -7\n }\n"
                              + TRACKED))
    i = c.vrrp_instances[0]
    assert (i.track_script, [(r.name, r.weight) for r in i.track_file]) == ((), [("tg", 0)])
    assert [(r.name, r.weight) for r in i.track_interface] == [("eth1", -7)]
    m = messages(d)
    assert "(VI_1) ignoring eth1 tracked interface due to address owner" in m
    assert "(VI_1) ignoring tracked script ok with weights due to address_owner" in m


def test_sync_group_with_address_owner_clears_group_weights() -> None:
    c, d = load(TRACKERS + "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n"
                " track_script {\n  ok\n }\n track_process {\n  tp weight 4\n }\n}\n"
                + vi(" priority 255") + vi("", name="VI_2", vrid=52))
    g = c.vrrp_sync_groups[0]
    assert [(r.name, r.weight) for r in (*g.track_script, *g.track_process)] == \
        [("ok", 0), ("tp", 0)]
    assert "(G) Cannot have weighted track script 'ok' with member having priority 255" \
           " - clearing weight" in messages(d)


def test_global_tracking_is_sync_group_tracking_weight() -> None:
    c, _ = load("vrrp_script ok {\n script /bin/true\n}\n"
                "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n global_tracking\n}\n"
                + vi(" track_script {\n  ok weight 10\n }") + vi("", name="VI_2", vrid=52))
    assert c.vrrp_sync_groups[0].sync_group_tracking_weight
    assert [(r.name, r.weight) for r in c.vrrp_instances[0].track_script] == [("ok", 10)]


def test_preempt_delay_is_reset_with_nopreempt_or_strict_mode() -> None:
    c, d = load(vi(" preempt_delay 4\n nopreempt"))
    assert (c.vrrp_instances[0].preempt_delay, c.vrrp_instances[0].nopreempt) == (0.0, True)
    assert "(VI_1) preempt_delay is incompatible with nopreempt mode - resetting" in messages(d)
    c, d = load("global_defs {\n vrrp_strict\n}\n" + vi(" version 3\n preempt_delay 4"))
    assert c.vrrp_instances[0].preempt_delay == 0.0
    assert "(VI_1) preempt_delay is incompatible with strict mode - resetting" in messages(d)


def test_strict_mode_resets_down_timer_adverts() -> None:
    c, d = load("global_defs {\n vrrp_strict\n}\n" + vi(" version 3\n down_timer_adverts 5"))
    assert c.vrrp_instances[0].down_timer_adverts == 3
    assert "(VI_1) down_timer_adverts is incompatible with strict mode - resetting" in messages(d)


def test_smtp_server_port_and_sync_group_smtp_alert() -> None:
    c, _ = load("global_defs {\n smtp_server 192.0.2.99 2525\n}\n"
                "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n smtp_alert\n}\n"
                + vi("") + vi("", name="VI_2", vrid=52))
    assert (c.global_defs.smtp_server, c.global_defs.smtp_server_port) == ("192.0.2.99", 2525)
    assert c.vrrp_sync_groups[0].notify.smtp_alert is True


def test_initial_state_is_derived_from_the_priority_unless_configured() -> None:
    c, d = load(vi(" priority 255\n preempt_delay 3") + vi(" priority 255\n state BACKUP",
                                                           name="VI_2", vrid=52))
    a, b = c.vrrp_instances
    assert (a.state, a.preempt_delay) == (VrrpState.MASTER, 0.0)
    assert "(VI_1) Warning - preempt delay will not work with initial state MASTER" in messages(d)
    assert b.state is VrrpState.BACKUP
    c, d = load("global_defs {\n vrrp_strict\n}\n" + vi(" version 3\n state MASTER\n priority 200"))
    assert c.vrrp_instances[0].state is VrrpState.BACKUP
    assert "(VI_1) State MASTER must match being address owner" in messages(d)


def test_global_check_unicast_src_is_ored_in_not_folded() -> None:
    from keepalived_py.vrrp.machine import Params
    c, _ = load("global_defs {\n vrrp_check_unicast_src\n}\n"
                + vi(" unicast_peer {\n  192.0.2.5\n }"))
    i = c.vrrp_instances[0]
    assert not i.check_unicast_src          # keepalived.data: "Check unicast src : no"
    assert Params.from_config(i, global_defs=c.global_defs).check_unicast_src


def test_instance_garp_values_equal_to_defaults_beat_global_defs() -> None:
    # keepalived 2.2.7 keeps an instance's explicit garp_master_* even when it equals the
    # default (issue 11: an explicit `garp_master_delay 5` looked unset)
    c, _ = load("global_defs {\n vrrp_garp_master_delay 7\n vrrp_garp_master_repeat 2\n"
                " vrrp_garp_master_refresh 30\n vrrp_garp_master_refresh_repeat 3\n}\n"
                + vi(" garp_master_delay 5\n garp_master_repeat 5\n garp_master_refresh 0\n"
                     " garp_master_refresh_repeat 1"))
    i = c.vrrp_instances[0]
    assert (i.garp_master_delay, i.garp_master_repeat, i.garp_master_refresh,
            i.garp_master_refresh_repeat) == (5.0, 5, 0.0, 1)
    c, _ = load("global_defs {\n vrrp_garp_master_delay 7\n}\n" + vi(""))
    assert c.vrrp_instances[0].garp_master_delay == 7.0
