"""Packet acceptance before the state machine (vrrp/acceptance.py): one row per drop reason,
with keepalived's stats counter and log words."""
from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from keepalived_py.config.model import UnicastPeer, VrrpInstance
from keepalived_py.vrrp.acceptance import reject_line, screen
from keepalived_py.vrrp.packet import AUTH_NONE, AUTH_PASS, Advert, Reason

PEER = ipaddress.ip_address("192.0.2.2")
OTHER = ipaddress.ip_address("192.0.2.3")
VIP = ipaddress.ip_address("192.0.2.10")


def cfg(**kw: Any) -> VrrpInstance:
    return VrrpInstance(**{"name": "VI_1", "interface": "eth0", "virtual_router_id": 51,
                           "version": 2, **kw})


def advert(**kw: Any) -> Advert:
    return Advert(**{"version": 2, "vrid": 51, "priority": 100, "addresses": (VIP,),
                     "interval": 1.0, **kw})


UNICAST = {"unicast_peer": (UnicastPeer(address=PEER, min_ttl=10, max_ttl=64),)}

#: (name, instance config, advert fields, source, ttl, reason, counter, log line)
DROPS = [
    ("unknown unicast source", {**UNICAST, "check_unicast_src": True}, {}, OTHER, 64,
     Reason.UNKNOWN_PEER, "unicast_src_err",
     "(VI_1) unicast source address 192.0.2.3 not a unicast peer"),
    ("ttl below the peer's min_ttl", UNICAST, {}, PEER, 9, Reason.BAD_TTL, "ip_ttl_err",
     "(VI_1) invalid TTL/HL. Received 9 and expect 10-64"),
    ("ttl above the peer's max_ttl", UNICAST, {}, PEER, 65, Reason.BAD_TTL, "ip_ttl_err",
     "(VI_1) invalid TTL/HL. Received 65 and expect 10-64"),
    ("version 3 advert on a v2 instance", {}, {"version": 3}, PEER, 255, Reason.BAD_VERSION,
     "vers_err", "(VI_1) wrong version. Received 3 and expect 2"),
    ("no auth on a PASS instance", {"auth_type": "PASS", "auth_pass": "secret"}, {}, PEER, 255,
     Reason.AUTH_TYPE_MISMATCH, "authtype_mismatch",
     f"(VI_1) received a {AUTH_NONE} auth, expecting {AUTH_PASS}!"),
    ("wrong password", {"auth_type": "PASS", "auth_pass": "secret"},
     {"auth_type": AUTH_PASS, "auth_data": b"guess\0\0\0"}, PEER, 255, Reason.AUTH_FAILURE,
     "auth_failure", "(VI_1) received an invalid passwd!"),
    ("PASS advert on an instance without auth", {},
     {"auth_type": AUTH_PASS, "auth_data": b"secret\0\0"}, PEER, 255,
     Reason.AUTH_TYPE_MISMATCH, "authtype_mismatch",
     f"(VI_1) received a {AUTH_PASS} auth, expecting {AUTH_NONE}!"),
    ("v2 interval not ours", {"advert_int": 2.0}, {}, PEER, 255, Reason.BAD_INTERVAL,
     "advert_interval_err", "(VI_1) advertisement interval mismatch mine=2 sec rcv'd=1 sec"),
]


@pytest.mark.parametrize(("conf", "fields", "src", "ttl", "reason", "counter", "line"),
                         [row[1:] for row in DROPS], ids=[row[0] for row in DROPS])
def test_acceptance_drops_with_keepalived_counter_and_words(
        conf: dict[str, Any], fields: dict[str, Any], src: Any, ttl: int, reason: Reason,
        counter: str, line: str) -> None:
    drop = screen(advert(**fields), src, ttl, cfg(**conf))
    assert drop is not None
    assert (drop.reason, drop.counter, drop.line) == (reason, counter, line)


@pytest.mark.parametrize(("conf", "fields", "src", "ttl"), [
    ({}, {}, PEER, 255),
    (UNICAST, {}, PEER, 64),
    ({**UNICAST, "check_unicast_src": False}, {}, OTHER, 3),   # not checked: on to the machine
    ({"auth_type": "PASS", "auth_pass": "secret"},
     {"auth_type": AUTH_PASS, "auth_data": b"secret\0\0"}, PEER, 255),
    ({"version": 3, "advert_int": 0.5}, {"version": 3, "interval": 0.5}, PEER, 255),
    ({"version": 3}, {"version": 3, "interval": 2.0}, PEER, 255),   # v3: the machine decides
], ids=["multicast", "unicast peer in ttl range", "unchecked source", "right password",
        "v3", "v3 other interval"])
def test_acceptance_passes_good_adverts_to_the_machine(
        conf: dict[str, Any], fields: dict[str, Any], src: Any, ttl: int) -> None:
    assert screen(advert(**fields), src, ttl, cfg(**conf)) is None


def test_acceptance_reject_line_words_machine_drops_as_keepalived() -> None:
    c, a = cfg(), advert(addresses=(VIP, OTHER))
    assert reject_line(Reason.BAD_TTL, "", PEER, a, c, 3) == \
        "(VI_1) invalid TTL/HL. Received 3 and expect 255"
    assert reject_line(Reason.BAD_ADDR_COUNT, "", PEER, a, c, 255) == \
        "(VI_1) received an unexpected ip number count 2, expected 0!"
    assert reject_line(Reason.BAD_CHECKSUM, "", PEER, a, c, 255) == \
        "(VI_1) Invalid VRRPv2 checksum"
    assert reject_line(Reason.BAD_ADDR_LIST, "192.0.2.9 not in the advert", PEER, a, c, 255) \
        == "(VI_1) advert from 192.0.2.2 dropped: 192.0.2.9 not in the advert"
