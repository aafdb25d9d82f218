"""Load-balancing decisions, pure: inhibit_on_failure, what each lb_algo becomes on nftables,
persistence, the fallback warnings, and the IPVS attributes and errno rule (issue 13)."""
from __future__ import annotations

import errno
import ipaddress

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from keepalived_py.check.ipvs import already_done, granularity, service_fields
from keepalived_py.check.nft import chain_rule, chain_script, client_key, warnings
from keepalived_py.check.realserver import Target, targets
from keepalived_py.config.model_lvs import RealServer, VirtualServer

A = ipaddress.ip_address
T1, T2 = Target("198.51.100.11", 8080, 2), Target("198.51.100.12", 8080, 1)


def vs(*rs: RealServer, **kw: object) -> VirtualServer:
    return VirtualServer(address=A("192.0.2.100"), port=80, protocol="TCP", real_servers=rs,
                         **kw)  # type: ignore[arg-type]


def rs(host: int, weight: int = 1, **kw: object) -> RealServer:
    return RealServer(address=A(f"198.51.100.{host}"), port=8080, weight=weight,
                      **kw)  # type: ignore[arg-type]


SORRY = RealServer(address=A("198.51.100.13"), port=8080)


def test_targets_inhibit_on_failure_keeps_a_dead_server_with_weight_zero() -> None:
    v = vs(rs(11, 2), rs(12, 1, inhibit_on_failure=True), sorry_server=SORRY)
    assert targets(v, {0: True, 1: False}) == ((T1, Target("198.51.100.12", 8080, 0)), False)
    # all dead: the sorry server comes in, the inhibited server stays at weight 0
    assert targets(v, {0: False, 1: False}) == (
        (Target("198.51.100.13", 8080, 1), Target("198.51.100.12", 8080, 0)), True)
    # the virtual server's inhibit_on_failure applies to every real server
    w = vs(rs(11, 2), rs(12, 1), inhibit_on_failure=True)
    assert targets(w, {0: False, 1: True})[0] == (T2, Target("198.51.100.11", 8080, 0))


@pytest.mark.parametrize(("sched", "selector"), [
    ("rr", "numgen inc mod 2"), ("wrr", "numgen inc mod 3"), ("sh", "jhash ip saddr mod 3"),
    ("mh", "jhash ip saddr mod 3"), ("dh", "jhash ip daddr mod 3"),
    ("wlc", "numgen random mod 3"), ("lc", "numgen random mod 3"),
])
def test_nft_lb_algo_selector(sched: str, selector: str) -> None:
    rule = chain_rule(vs(lvs_sched=sched), [T1, T2, Target("198.51.100.14", 8080, 0)])
    assert rule is not None and selector in rule, rule
    assert "198.51.100.14" not in rule                 # weight 0: no slot


def test_nft_warnings_name_the_server_and_the_fallback() -> None:
    assert warnings(vs(lvs_sched="wrr")) == []
    assert warnings(vs(lvs_sched="sh", persistence_timeout=60)) == []
    (w,) = warnings(vs(lvs_sched="wlc"))
    assert w == ("virtual_server 192.0.2.100 80: lb_algo wlc needs connection counts that "
                 "nftables cannot see; using weighted random (numgen random) instead")
    for sched in ("lc", "lblc", "lblcr", "sed", "nq", "fo", "ovf"):
        assert f"lb_algo {sched} needs connection counts" in warnings(vs(lvs_sched=sched))[0]
    dr = warnings(vs(rs(11, lvs_method="TUN"), lvs_sched="rr", lvs_method="DR"))
    assert [x.split(":")[1].strip().split(" cannot")[0] for x in dr] == ["lb_kind DR",
                                                                         "lb_kind TUN"]
    v6 = VirtualServer(address=A("2001:db8::1"), port=80, lvs_sched="rr", persistence_timeout=9)
    assert warnings(v6) == []                   # IPv6 persistence: one set per real server


def test_nft_persistence_records_the_choice_per_masked_client() -> None:
    v = vs(lvs_sched="rr", persistence_timeout=30, persistence_granularity="255.255.255.0")
    assert client_key(v) == "ip saddr and 255.255.255.0"
    script, subs = chain_script(v, [T1, T2], "vs_x")
    assert subs == ["vs_x_b0", "vs_x_b1"]
    assert "flags dynamic,timeout; timeout 30s;" in script
    assert ("add rule ip keepalived_py vs_x meta l4proto tcp ip saddr and 255.255.255.0 @vs_x_p "
            "dnat ip to ip saddr and 255.255.255.0 map @vs_x_p") in script
    assert ("update @vs_x_p { ip saddr and 255.255.255.0 : 198.51.100.12 . 8080 } meta l4proto"
            " tcp dnat ip to 198.51.100.12:8080") in script
    assert script.rstrip().endswith("numgen inc mod 2 vmap { 0 : jump vs_x_b0, 1 : jump vs_x_b1 }")
    plain, none = chain_script(vs(lvs_sched="rr"), [T1], "vs_y")
    assert none == [] and plain.count("add rule") == 1


def test_ipvs_service_maps_lb_algo_persistence_and_granularity() -> None:
    f = service_fields(vs(lvs_sched="sh", persistence_timeout=60,
                          persistence_granularity="255.255.255.0"))
    assert (f["sched_name"], f["timeout"], f["flags"]["flags"] & 1, f["netmask"]) == \
        ("sh", 60, 1, "255.255.255.0")
    assert service_fields(vs())["netmask"] == "255.255.255.255"
    assert granularity("64", v6=True) == granularity("/64", v6=True)
    assert granularity(None, v6=False) == "255.255.255.255"


def test_ipvs_already_done_is_eexist_on_add_and_enoent_on_delete() -> None:
    assert already_done("add", NetlinkError(errno.EEXIST))
    assert already_done("del", NetlinkError(errno.ENOENT))
    assert already_done("del", NetlinkError(errno.ESRCH))
    assert not already_done("add", NetlinkError(errno.ENOENT))
    assert not already_done("set", NetlinkError(errno.EEXIST))
    assert not already_done("add", ValueError("x"))


def test_nft_ipv6_persistence_is_one_set_per_real_server() -> None:
    from keepalived_py.check.nft import pset
    v6 = VirtualServer(address=A("2001:db8::1"), port=80, protocol="TCP", lvs_sched="rr",
                       persistence_timeout=30, persistence_granularity="64")
    t1, t2 = Target("2001:db8:1::11", 8080, 1), Target("2001:db8:1::12", 8080, 1)
    script, subs = chain_script(v6, [t1, t2], "vs_x")
    assert subs == ["vs_x_b0", "vs_x_b1"]
    for t, sub in ((t1, "vs_x_b0"), (t2, "vs_x_b1")):
        name = pset("vs_x", t)
        assert f"add set ip6 keepalived_py {name} {{ type ipv6_addr; flags dynamic,timeout;" \
               " timeout 30s; }" in script
        assert f"ip6 saddr and ffff:ffff:ffff:ffff:: @{name} jump {sub}" in script
        assert f"update @{name} {{ ip6 saddr and ffff:ffff:ffff:ffff:: }}" in script
    assert "map" not in script.replace("vmap", "")             # no address.port map on IPv6
    assert pset("vs_x", t1) != pset("vs_x", t2) and pset("vs_x", t1) == pset("vs_x", t1)


def test_http_request_is_keepalived_s() -> None:
    from keepalived_py.check.checkers import http_request
    assert http_request("/h", None, None, "192.0.2.1", 8080) == (
        b"GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.1:8080\r\n\r\n")
    assert http_request("/h", "1.1", "www.example", "2001:db8::1", 80) == (
        b"GET /h HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n"
        b"Host: www.example\r\n\r\n")
    assert b"Host: [2001:db8::1]:80\r\n" in http_request("/", "1.0C", None, "2001:db8::1", 80)
    assert b"Connection: close" in http_request("/", "1.0C", None, "2001:db8::1", 80)
