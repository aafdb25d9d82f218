"""tests/advert_sniffer.py (the host tests' VRRP sniffer) reads a frame as keepalived would:
source, priority and whether the VRRPv3 checksum over the IPv4 pseudo-header is right."""
from __future__ import annotations

import ipaddress
import struct

from advert_sniffer import describe

from keepalived_py.vrrp.packet import Advert, encode

SRC, DST = ipaddress.IPv4Address("192.0.2.71"), ipaddress.IPv4Address("224.0.0.18")


def frame(payload: bytes, src: ipaddress.IPv4Address = SRC, proto: int = 112) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, 255, proto, 0,
                     src.packed, DST.packed)
    return b"\x01\x00\x5e\x00\x00\x12" + b"\x02" * 6 + b"\x08\x00" + ip + payload


def test_a_v3_advert_with_its_checksum_is_ok_and_one_over_another_source_is_bad() -> None:
    adv = Advert(3, 73, 150, (ipaddress.IPv4Address("192.0.2.100"),), 0.5)
    good = encode(adv, SRC, DST)
    assert describe(frame(good)) == "192.0.2.71 prio=150 ok"
    # the checksum names 192.0.2.71, the packet leaves from another address (mcast_src_ip bug)
    assert describe(frame(good, src=ipaddress.IPv4Address("192.0.2.1"))) == \
        "192.0.2.1 prio=150 bad"


def test_not_vrrp_or_truncated_is_not_an_advert() -> None:
    adv = Advert(3, 73, 150, (), 1.0)
    assert describe(frame(encode(adv, SRC, DST), proto=17)) is None
    assert describe(frame(b"\x31\x49")) is None
    assert describe(b"\x00" * 20) is None
