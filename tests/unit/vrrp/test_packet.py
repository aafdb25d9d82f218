"""The VRRP codec: tables, every truncation, bad fields, checksum forms, scapy as an oracle."""
from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3

from keepalived_py.vrrp.packet import (
    AUTH_NONE,
    AUTH_PASS,
    MCAST4,
    MCAST6,
    Advert,
    AdvertCache,
    ChecksumForm,
    DecodeError,
    Reason,
    checksum,
    decode,
    decode_ipv4_packet,
    encode,
    peek_vrid,
)

A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address
S4, D4, U4 = A4("192.0.2.1"), MCAST4, A4("192.0.2.2")
S6, D6 = A6("fe80::1"), MCAST6

# (name, advert, src, dst, family, wire bytes as hex) - the hex is scapy's (checked below)
TABLE: list[tuple[str, Advert, ipaddress.IPv4Address | ipaddress.IPv6Address,
                  ipaddress.IPv4Address | ipaddress.IPv6Address, int, str]] = [
    ("v2 no auth",
     Advert(2, 51, 100, (A4("192.0.2.100"),), 1.0), S4, D4, 4,
     "213364010001b865c0000264" "0000000000000000"),
    ("v2 PASS",
     Advert(2, 7, 254, (A4("192.0.2.100"), A4("192.0.2.101")), 3.0, AUTH_PASS,
            b"secret\0\0"), S4, D4, 4,
     "2107fe0201031edcc0000264c0000265" "7365637265740000"),
    ("v3 IPv4",
     Advert(3, 51, 100, (A4("192.0.2.100"),), 1.0), S4, D4, 4,
     "3133640100640572c0000264"),
    ("v3 IPv4 centiseconds",
     Advert(3, 200, 1, (A4("198.51.100.7"),), 0.35), S4, D4, 4,
     "31c8010100230048c6336407"),
    ("v3 IPv6",
     Advert(3, 10, 150, (A6("2001:db8::10"),), 1.0), S6, D6, 6,
     "310a96010064" "0ca8" "20010db8000000000000000000000010"),
]


@pytest.mark.parametrize("name,adv,src,dst,family,hexdata", TABLE, ids=[t[0] for t in TABLE])
def test_codec_table_encodes_and_decodes(name: str, adv: Advert, src: ipaddress.IPv4Address,
                                         dst: ipaddress.IPv4Address, family: int,
                                         hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    assert encode(adv, src, dst) == data
    assert decode(data, family=family, src=src, dst=dst) == adv


def _scapy_payload(adv: Advert, src: object, dst: object) -> bytes:
    if adv.version == 2:
        auth = adv.auth_data.ljust(8, b"\0")
        layer = VRRP(vrid=adv.vrid, priority=adv.priority, authtype=adv.auth_type,
                     adv=int(adv.interval), addrlist=[str(a) for a in adv.addresses],
                     auth1=int.from_bytes(auth[:4], "big"), auth2=int.from_bytes(auth[4:], "big"))
        pkt = IP(src=str(src), dst=str(dst), ttl=255) / layer
    else:
        layer3 = VRRPv3(vrid=adv.vrid, priority=adv.priority, adv=round(adv.interval * 100),
                        addrlist=[str(a) for a in adv.addresses])
        if isinstance(src, A6):
            pkt = IPv6(src=str(src), dst=str(dst), hlim=255) / layer3
        else:
            pkt = IP(src=str(src), dst=str(dst), ttl=255) / layer3
    raw = bytes(pkt)
    return raw[40:] if isinstance(src, A6) else raw[20:]


@pytest.mark.parametrize("name,adv,src,dst,family,hexdata", TABLE, ids=[t[0] for t in TABLE])
def test_codec_table_matches_scapy(name: str, adv: Advert, src: ipaddress.IPv4Address,
                                   dst: ipaddress.IPv4Address, family: int, hexdata: str) -> None:
    assert _scapy_payload(adv, src, dst).hex() == hexdata


@pytest.mark.parametrize("name,adv,src,dst,family,hexdata", TABLE, ids=[t[0] for t in TABLE])
def test_codec_every_truncation_raises(name: str, adv: Advert, src: ipaddress.IPv4Address,
                                       dst: ipaddress.IPv4Address, family: int,
                                       hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    for i in range(len(data)):
        with pytest.raises(DecodeError) as e:
            decode(data[:i], family=family, src=src, dst=dst)
        assert e.value.reason is Reason.PACKET_TOO_SHORT
        assert e.value.reason.counter == "packet_len_err"


@pytest.mark.parametrize("name,adv,src,dst,family,hexdata", TABLE, ids=[t[0] for t in TABLE])
def test_codec_oversized_raises(name: str, adv: Advert, src: ipaddress.IPv4Address,
                                dst: ipaddress.IPv4Address, family: int, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    for extra in (b"\0", b"\0\0", b"\xff" * 16):
        with pytest.raises(DecodeError) as e:
            decode(data + extra, family=family, src=src, dst=dst)
        assert e.value.reason is Reason.BAD_LENGTH


def _v3(**kw: int) -> bytes:
    fields = {"vt": 0x31, "vrid": 51, "prio": 100, "count": 1, "word": 100}
    fields.update(kw)
    body = bytearray(struct.pack("!BBBBHH", fields["vt"], fields["vrid"], fields["prio"],
                                 fields["count"], fields["word"], 0)) + S4.packed * fields["count"]
    return bytes(body)


def _fix_v2_checksum(body: bytearray) -> bytes:
    struct.pack_into("!H", body, 6, 0)
    struct.pack_into("!H", body, 6, checksum(body))
    return bytes(body)


BAD = [
    ("version 1", 0x11, Reason.BAD_VERSION, "vers_err"),
    ("version 4", 0x41, Reason.BAD_VERSION, "vers_err"),
    ("version 0", 0x01, Reason.BAD_VERSION, "vers_err"),
    ("type 0", 0x20, Reason.BAD_TYPE, "invalid_type_rcvd"),
    ("type 2", 0x22, Reason.BAD_TYPE, "invalid_type_rcvd"),
    ("type 15", 0x2F, Reason.BAD_TYPE, "invalid_type_rcvd"),
]


@pytest.mark.parametrize("name,vt,reason,counter", BAD, ids=[b[0] for b in BAD])
def test_codec_bad_version_or_type_is_counted(name: str, vt: int, reason: Reason,
                                              counter: str) -> None:
    good = bytearray(encode(Advert(2, 51, 100, (S4,), 1.0)))
    good[0] = vt
    with pytest.raises(DecodeError) as e:
        decode(_fix_v2_checksum(good), family=4, src=S4, dst=D4)
    assert e.value.reason is reason and reason.counter == counter


def test_codec_v2_field_errors() -> None:
    base = bytearray(encode(Advert(2, 51, 100, (S4,), 1.0)))
    vrid0 = bytearray(base)
    vrid0[1] = 0
    auth9 = bytearray(base)
    auth9[4] = 9
    int0 = bytearray(base)
    int0[5] = 0
    for data, reason in ((vrid0, Reason.BAD_VRID), (auth9, Reason.BAD_AUTH_TYPE),
                         (int0, Reason.BAD_INTERVAL)):
        with pytest.raises(DecodeError) as e:
            decode(_fix_v2_checksum(data), family=4)
        assert e.value.reason is reason
    # a count larger than the addresses present is a truncation
    more = bytearray(base)
    more[3] = 2
    with pytest.raises(DecodeError) as e:
        decode(_fix_v2_checksum(more), family=4)
    assert e.value.reason is Reason.PACKET_TOO_SHORT
    # v2 over IPv6 (keepalived 2.2.7 runs it with `version 2`): pseudo-header checksum
    v2v6 = encode(Advert(2, 51, 100, (A6("2001:db8::10"),), 1.0), S6, D6)
    assert len(v2v6) == 8 + 16                     # no authentication data over IPv6
    assert decode(v2v6, family=6, src=S6, dst=D6).version == 2
    with pytest.raises(DecodeError) as e:
        decode(v2v6, family=6, src=S6, dst=A6("2001:db8::99"))
    assert e.value.reason is Reason.BAD_CHECKSUM


def test_codec_bad_checksums() -> None:
    v2 = bytearray(encode(Advert(2, 51, 100, (S4,), 1.0)))
    v2[7] ^= 1
    with pytest.raises(DecodeError) as e:
        decode(bytes(v2), family=4)
    assert e.value.reason is Reason.BAD_CHECKSUM and e.value.reason.counter == "chk_err"
    v3 = bytearray(encode(Advert(3, 51, 100, (S4,), 1.0), S4, D4))
    v3[2] ^= 0x40                      # a changed priority
    with pytest.raises(DecodeError) as e:
        decode(bytes(v3), family=4, src=S4, dst=D4)
    assert e.value.reason is Reason.BAD_CHECKSUM
    # the right bytes but another source address: the pseudo-header differs
    good = encode(Advert(3, 51, 100, (S4,), 1.0), S4, D4)
    with pytest.raises(DecodeError):
        decode(good, family=4, src=U4, dst=D4)
    v6 = bytearray(encode(Advert(3, 10, 150, (A6("2001:db8::10"),), 1.0), S6, D6))
    v6[-1] ^= 1
    with pytest.raises(DecodeError) as e:
        decode(bytes(v6), family=6, src=S6, dst=D6)
    assert e.value.reason is Reason.BAD_CHECKSUM
    # the kernel verified it (IPV6_CHECKSUM): not checked again
    assert decode(bytes(v6), family=6, verified=True).vrid == 10


def test_codec_v3_interval_zero_and_reserved_bits() -> None:
    def scapy_v3(**kw: int) -> bytes:
        return bytes(IP(src=str(S4), dst=str(D4)) / VRRPv3(vrid=51, addrlist=[str(S4)], **kw))[20:]
    # reserved bits set: ignored on receipt (RFC 5798 §5.2.6)
    assert decode(scapy_v3(res=0xF, adv=100), family=4, src=S4, dst=D4).interval == 1.0
    with pytest.raises(DecodeError) as e:
        decode(scapy_v3(adv=0), family=4, src=S4, dst=D4)
    assert e.value.reason is Reason.BAD_INTERVAL
    assert decode(scapy_v3(adv=4095), family=4, src=S4, dst=D4).interval == 40.95


def test_codec_v3_checksum_forms() -> None:
    adv = Advert(3, 51, 100, (S4,), 1.0)
    std = encode(adv, S4, U4)
    old = encode(adv, S4, U4, form=ChecksumForm.OLD_UNICAST)
    as_v2 = encode(adv, S4, U4, v3_checksum_as_v2=True)
    assert len({std, old, as_v2}) == 3
    assert decode(std, family=4, src=S4, dst=U4).checksum_form is ChecksumForm.STANDARD
    got = decode(old, family=4, src=S4, dst=U4)
    assert got.checksum_form is ChecksumForm.OLD_UNICAST and got.checksum_compat
    assert decode(as_v2, family=4, src=S4, dst=U4).checksum_form is ChecksumForm.AS_V2
    # the old unicast form is the standard one computed for the multicast group
    assert old == encode(adv, S4, MCAST4)
    # with a configured group, the old form uses it
    grp = A4("224.0.0.100")
    old_grp = encode(adv, S4, U4, form=ChecksumForm.OLD_UNICAST, mcast_group=grp)
    assert decode(old_grp, family=4, src=S4, dst=U4, mcast_group=grp).checksum_form \
        is ChecksumForm.OLD_UNICAST
    # without addresses only the v2-like form can be verified
    assert decode(as_v2, family=4).checksum_form is ChecksumForm.AS_V2
    with pytest.raises(DecodeError):
        decode(std, family=4)
    with pytest.raises(ValueError):
        encode(adv)


def test_codec_v2_interval_and_auth_fields() -> None:
    adv = Advert(2, 1, 1, (S4,), 255.0, AUTH_PASS, b"12345678")
    got = decode(encode(adv), family=4)
    assert got.interval == 255.0 and got.auth_data == b"12345678"
    short_pw = decode(encode(Advert(2, 1, 1, (S4,), 1.0, AUTH_PASS, b"ab")), family=4)
    assert short_pw.auth_data == b"ab\0\0\0\0\0\0"


def test_codec_peek_vrid() -> None:
    assert peek_vrid(encode(Advert(2, 77, 100, (S4,), 1.0))) == 77
    assert peek_vrid(b"\x21") is None


# -- IPv4 header --------------------------------------------------------------------------
def _ip(payload: bytes, ttl: int = 255, **kw: object) -> bytes:
    return bytes(IP(src=str(S4), dst=str(D4), ttl=ttl, proto=112, **kw) / payload)  # type: ignore[arg-type]


def test_ipv4_header_decoded_with_ttl() -> None:
    payload = encode(Advert(2, 51, 100, (S4,), 1.0))
    ttl, src, dst, body = decode_ipv4_packet(_ip(payload, ttl=64))
    assert (ttl, src, dst, body) == (64, S4, D4, payload)
    # options: a 24-byte header
    raw = bytes(IP(src=str(S4), dst=str(D4), ttl=255, proto=112,
                   options=b"\x01\x01\x01\x00") / payload)
    assert decode_ipv4_packet(raw)[3] == payload


def test_ipv4_header_every_truncation_and_bad_fields() -> None:
    raw = _ip(encode(Advert(2, 51, 100, (S4,), 1.0)))
    for i in range(len(raw)):
        with pytest.raises(DecodeError) as e:
            decode_ipv4_packet(raw[:i])
        assert e.value.reason.counter == "packet_len_err"
    with pytest.raises(DecodeError):
        decode_ipv4_packet(raw + b"\0")            # total length disagrees
    bad = bytearray(raw)
    bad[0] = 0x65                                 # version 6
    with pytest.raises(DecodeError):
        decode_ipv4_packet(bytes(bad))
    bad = bytearray(raw)
    bad[0] = 0x44                                 # IHL 16 bytes
    with pytest.raises(DecodeError):
        decode_ipv4_packet(bytes(bad))
    bad = bytearray(raw)
    bad[9] = 51                                   # AH
    with pytest.raises(DecodeError) as e:
        decode_ipv4_packet(bytes(bad))
    assert e.value.reason is Reason.BAD_IP_HEADER


# -- properties ---------------------------------------------------------------------------
addr4 = st.builds(A4, st.integers(0, 2**32 - 1))
addr6 = st.builds(A6, st.integers(0, 2**128 - 1))


@st.composite
def adverts(draw: st.DrawFn) -> tuple[Advert, object, object, int]:
    family = draw(st.sampled_from([4, 6]))
    version = 3 if family == 6 else draw(st.sampled_from([2, 3]))
    addrs = tuple(draw(st.lists(addr4 if family == 4 else addr6, min_size=0, max_size=20)))
    if version == 2:
        auth = draw(st.sampled_from([AUTH_NONE, AUTH_PASS]))
        data = draw(st.binary(min_size=8, max_size=8)) if auth else b""
        adv = Advert(2, draw(st.integers(1, 255)), draw(st.integers(0, 255)), addrs,
                     float(draw(st.integers(1, 255))), auth, data)
    else:
        adv = Advert(3, draw(st.integers(1, 255)), draw(st.integers(0, 255)), addrs,
                     draw(st.integers(1, 4095)) / 100)
    src = draw(addr4 if family == 4 else addr6)
    dst = draw(addr4 if family == 4 else addr6)
    return adv, src, dst, family


@settings(max_examples=300, deadline=None)
@given(adverts())
def test_codec_roundtrip(case: tuple[Advert, object, object, int]) -> None:
    adv, src, dst, family = case
    data = encode(adv, src, dst)  # type: ignore[arg-type]
    assert decode(data, family=family, src=src, dst=dst) == adv  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(adverts())
def test_codec_roundtrip_scapy_parses_ours(case: tuple[Advert, object, object, int]) -> None:
    adv, src, dst, family = case
    data = encode(adv, src, dst)  # type: ignore[arg-type]
    assert data == _scapy_payload(adv, src, dst)
    if not adv.addresses:
        return                   # scapy's dispatch needs more than 8 bytes to pick VRRPv3
    if family == 4:
        layer = IP(bytes(IP(src=str(src), dst=str(dst), proto=112) / data))
        parsed = layer[VRRP] if adv.version == 2 else layer[VRRPv3]
    else:
        parsed = IPv6(bytes(IPv6(src=str(src), dst=str(dst), nh=112) / data))[VRRPv3]
    assert (parsed.vrid, parsed.priority, parsed.ipcount) == (adv.vrid, adv.priority,
                                                              len(adv.addresses))
    assert [ipaddress.ip_address(a) for a in parsed.addrlist] == list(adv.addresses)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([4, 6]), addr4, addr4)
def test_codec_random_bytes_never_escape(data: bytes, family: int, s: A4, d: A4) -> None:
    for kw in ({"src": s, "dst": d}, {}):
        try:
            decode(data, family=family, **kw)  # type: ignore[arg-type]
        except DecodeError as e:
            assert e.reason.counter
    try:
        decode_ipv4_packet(data)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(adverts(), st.data())
def test_codec_single_bit_flip_is_caught_or_consistent(
        case: tuple[Advert, object, object, int], data: st.DataObject) -> None:
    adv, src, dst, family = case
    wire = bytearray(encode(adv, src, dst))  # type: ignore[arg-type]
    i = data.draw(st.integers(0, len(wire) * 8 - 1))
    wire[i // 8] ^= 1 << (i % 8)
    try:
        got = decode(bytes(wire), family=family, src=src, dst=dst)  # type: ignore[arg-type]
    except DecodeError:
        return
    # the Internet checksum catches every single-bit flip except in fields it does not
    # cover: the v3 reserved bits are ignored, and the v2 checksum covers everything
    assert got.vrid == adv.vrid and got.priority == adv.priority
    assert got.addresses == adv.addresses


def test_advert_cache_one_payload_per_priority() -> None:
    tpl = Advert(3, 51, 100, (S4,), 1.0)
    cache = AdvertCache(tpl, S4, D4)
    p100 = cache.payload(100)
    assert p100 is cache.payload(100)
    assert p100 == encode(tpl, S4, D4)
    assert decode(cache.payload(0), family=4, src=S4, dst=D4).priority == 0
    old = AdvertCache(tpl, S4, U4, form=ChecksumForm.OLD_UNICAST)
    assert decode(old.payload(100), family=4, src=S4, dst=U4).checksum_form \
        is ChecksumForm.OLD_UNICAST
