from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.vrrp import VRRP, VRRPv3

from keepalived_py.vrrp.packet import (
    AUTH_PASS,
    Advert,
    DecodeError,
    Reason,
    decode,
    decode_ipv4,
    encode,
)

A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address
SRC4, DST4 = A4("192.0.2.1"), A4("224.0.0.18")
SRC6, DST6 = A6("fe80::1"), A6("ff02::12")

TABLE = [
    (Advert(2, 51, 100, (A4("192.0.2.100"),), 1.0), 4,
     # the bytes scapy builds for the same advert
     "21 33 64 01 00 01 b8 65 c0 00 02 64 00 00 00 00 00 00 00 00"),
    (Advert(2, 1, 255, (A4("192.0.2.100"), A4("192.0.2.101")), 3.0, AUTH_PASS, b"secret"), 4,
     None),
    (Advert(3, 7, 150, (A4("192.0.2.100"),), 1.0), 4, None),
    (Advert(3, 9, 200, (A6("2001:db8::100"),), 0.5), 6, None),
]


def _ends(family: int) -> tuple[object, object]:
    return (SRC4, DST4) if family == 4 else (SRC6, DST6)


@pytest.mark.parametrize(("adv", "family", "hexdump"), TABLE)
def test_packet_round_trip_table(adv: Advert, family: int, hexdump: str | None) -> None:
    src, dst = _ends(family)
    data = encode(adv, src, dst)  # type: ignore[arg-type]
    if hexdump is not None:
        assert data.hex(" ") == hexdump
    back = decode(data, family=family, src=src, dst=dst)  # type: ignore[arg-type]
    assert back.vrid == adv.vrid and back.priority == adv.priority
    assert back.addresses == adv.addresses and back.interval == adv.interval
    if adv.version == 2:
        assert back.auth_data.rstrip(b"\0") == adv.auth_data


@pytest.mark.parametrize(("adv", "family", "hexdump"), TABLE)
def test_packet_every_truncation_is_a_decode_error(adv: Advert, family: int,
                                                   hexdump: str | None) -> None:
    src, dst = _ends(family)
    data = encode(adv, src, dst)  # type: ignore[arg-type]
    for i in range(len(data)):
        with pytest.raises(DecodeError):
            decode(data[:i], family=family, src=src, dst=dst)  # type: ignore[arg-type]
    with pytest.raises(DecodeError) as e:
        decode(data + b"\0\0\0\0", family=family, src=src, dst=dst)  # type: ignore[arg-type]
    assert e.value.reason.counter == "packet_len_err"


def test_packet_bad_fields_map_to_keepalived_counters() -> None:
    good = bytearray(encode(Advert(2, 51, 100, (A4("192.0.2.100"),), 1.0)))
    bad_version = bytes([0x41]) + good[1:]
    bad_type = bytes([0x22]) + good[1:]
    bad_sum = good[:6] + b"\0\0" + good[8:]
    cases = [(bad_version, "version_err"), (bad_type, "invalid_type_rcvd"),
             (bytes(bad_sum), "chk_err")]
    for data, counter in cases:
        with pytest.raises(DecodeError) as e:
            decode(bytes(data), family=4)
        assert e.value.reason.counter == counter


def test_packet_v3_accepts_keepalived_old_checksum() -> None:
    adv = Advert(3, 5, 100, (A4("192.0.2.9"),), 1.0)
    old = encode(adv, v3_checksum_as_v2=True)
    back = decode(old, family=4, src=SRC4, dst=DST4)
    assert back.checksum_compat


def test_scapy_decodes_our_v2_and_v3_packets() -> None:
    v2 = encode(Advert(2, 51, 100, (A4("192.0.2.100"),), 1.0, AUTH_PASS, b"pw"))
    s = VRRP(v2)
    assert (s.version, s.vrid, s.priority, s.ipcount, s.adv, s.authtype) == (2, 51, 100, 1, 1, 1)
    assert s.addrlist == ["192.0.2.100"]
    v3 = encode(Advert(3, 7, 150, (A4("192.0.2.100"),), 1.0), SRC4, DST4)
    pkt = IP(bytes(IP(src=str(SRC4), dst=str(DST4), proto=112, ttl=255) / VRRPv3(v3)))
    got = pkt[VRRPv3]
    assert (got.vrid, got.priority, got.adv) == (7, 150, 100)
    fresh = IP(src=str(SRC4), dst=str(DST4), proto=112) / VRRPv3(
        vrid=7, priority=150, ipcount=1, adv=100, addrlist=["192.0.2.100"])
    assert IP(bytes(fresh))[VRRPv3].chksum == got.chksum


def test_decode_ipv4_header() -> None:
    payload = encode(Advert(2, 1, 100, (A4("192.0.2.1"),), 1.0))
    raw = bytes(IP(src="192.0.2.1", dst="224.0.0.18", proto=112, ttl=254) / payload)
    ttl, src, dst, body = decode_ipv4(raw)
    assert (ttl, str(src), str(dst), body) == (254, "192.0.2.1", "224.0.0.18", payload)
    with pytest.raises(DecodeError) as e:
        decode_ipv4(raw[:10])
    assert e.value.reason is Reason.PACKET_TOO_SHORT


@given(st.binary(max_size=200), st.sampled_from([4, 6]))
def test_decode_never_raises_anything_but_decode_error(data: bytes, family: int) -> None:
    src, dst = _ends(family)
    try:
        decode(data, family=family, src=src, dst=dst)  # type: ignore[arg-type]
    except DecodeError:
        pass


@given(st.integers(1, 255), st.integers(0, 255),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
       st.integers(1, 4095), st.sampled_from([2, 3]))
def test_encode_decode_round_trip_property(vrid: int, prio: int, addrs: list[int], cs: int,
                                           version: int) -> None:
    interval = float(cs % 255 + 1) if version == 2 else cs / 100
    adv = Advert(version, vrid, prio, tuple(A4(a) for a in addrs), interval)
    back = decode(encode(adv, SRC4, DST4), family=4, src=SRC4, dst=DST4)
    assert (back.vrid, back.priority, back.addresses, back.interval) == \
        (vrid, prio, adv.addresses, interval)
