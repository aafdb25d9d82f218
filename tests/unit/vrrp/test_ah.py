"""IPsec AH for VRRPv2 (vrrp/ah.py) against packets keepalived 2.2.7 sent, byte for byte."""
from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.vrrp import ah
from keepalived_py.vrrp.packet import AUTH_AH, Advert, DecodeError, Reason, decode, encode

A4 = ipaddress.IPv4Address

# Captured with a raw protocol-51 socket from keepalived 2.2.7 (Debian) as MASTER, vrid 51,
# priority 150, advert_int 1, auth_type AH:
#   multicast, auth_pass secret12, VIPs 192.0.2.100 and .101, source 192.0.2.1 (IP id = seq)
#   unicast 192.0.2.1 -> 192.0.2.2, auth_pass averylongpassword (keepalived keys with "averylon")
VECTORS = [
    ("multicast-seq1", "secret12", False, 1, 1,
     "45c0004400010000ff3318b2c0000201e000001270040000c00002010000000126d3b0ff4db6fdbd1cfc2a4e"
     "213396020201c1fec0000264c00002650000000000000000"),
    ("multicast-seq2", "secret12", False, 2, 2,
     "45c0004400020000ff3318b1c0000201e000001270040000c000020100000002c4d9464b3b1b7333b6b98228"
     "213396020201c1fec0000264c00002650000000000000000"),
    ("unicast-long-password", "averylongpassword", True, 1, 1,
     "45c0004000010000ff3336c6c0000201c000020270040000c00002010000000170887efa9e8aabeee87e7e7d"
     "2133960102018465c00002640000000000000000"),
]
IDS = [v[0] for v in VECTORS]
MUTABLE = {1, 6, 7, 10, 11}          # tos, flags/fragment offset, header checksum: zeroed


@pytest.mark.parametrize("name,password,unicast,seq,ip_id,hexdata", VECTORS, ids=IDS)
def test_ah_keepalived_packet_is_accepted(name: str, password: str, unicast: bool, seq: int,
                                          ip_id: int, hexdata: str) -> None:
    pkt = ah.decode_packet(bytes.fromhex(hexdata))
    assert (pkt.src, pkt.ttl, pkt.next_header, pkt.spi, pkt.seq) == (
        A4("192.0.2.1"), 255, 112, A4("192.0.2.1").packed, seq)
    counter = ah.SeqCounter()
    ah.check(pkt, ah.key_of(password), counter, name="VI_1", unicast=unicast, backup=True)
    assert counter.seq == seq
    adv = decode(pkt.payload, family=4, src=pkt.src, dst=pkt.dst)
    assert (adv.version, adv.vrid, adv.priority, adv.auth_type, adv.interval) == (
        2, 51, 150, AUTH_AH, 1.0)
    assert adv.auth_data == bytes(8)             # AH leaves the v2 authentication bytes zero


@pytest.mark.parametrize("name,password,unicast,seq,ip_id,hexdata", VECTORS, ids=IDS)
def test_ah_encoder_reproduces_keepalived_bytes(name: str, password: str, unicast: bool,
                                                seq: int, ip_id: int, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    pkt = ah.decode_packet(data)
    adv = decode(pkt.payload, family=4)
    vrrp = encode(Advert(2, 51, 150, adv.addresses, 1.0, AUTH_AH))
    assert vrrp == pkt.payload
    built = ah.build(vrrp, pkt.src, pkt.dst, seq=seq, ip_id=ip_id, key=ah.key_of(password),
                     ttl=255, unicast=unicast)
    assert built == data


@pytest.mark.parametrize("name,password,unicast,seq,ip_id,hexdata", VECTORS, ids=IDS)
def test_ah_every_truncation_raises(name: str, password: str, unicast: bool, seq: int,
                                    ip_id: int, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    for n in range(len(data)):
        with pytest.raises(DecodeError) as e:
            cut = bytearray(data[:n])
            if n >= 4:
                struct.pack_into("!H", cut, 2, n)            # a consistent IP total length
            ah.check(ah.decode_packet(bytes(cut)), ah.key_of(password), ah.SeqCounter(),
                     name="VI_1", unicast=unicast, backup=True)
            decode(bytes(cut[44:]), family=4)
        assert e.value.reason in (Reason.PACKET_TOO_SHORT, Reason.AUTH_FAILURE)


@pytest.mark.parametrize("name,password,unicast,seq,ip_id,hexdata", VECTORS, ids=IDS)
def test_ah_every_flipped_byte_is_refused(name: str, password: str, unicast: bool, seq: int,
                                          ip_id: int, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        if i in MUTABLE or (unicast and i == 8):               # zeroed before the ICV
            ah.check(ah.decode_packet(bytes(bad)), ah.key_of(password), ah.SeqCounter(),
                     name="VI_1", unicast=unicast, backup=True)
            continue
        with pytest.raises(DecodeError):
            ah.check(ah.decode_packet(bytes(bad)), ah.key_of(password), ah.SeqCounter(),
                     name="VI_1", unicast=unicast, backup=True)


def _good(seq: int = 7, src: str = "192.0.2.1", password: str = "secret12", spi: bytes | None = None,
          next_header: int = 112) -> bytes:
    vrrp = encode(Advert(2, 51, 150, (A4("192.0.2.100"),), 1.0, AUTH_AH))
    data = bytearray(ah.build(vrrp, A4(src), A4("224.0.0.18"), seq=seq, ip_id=3,
                              key=ah.key_of(password)))
    if spi is not None or next_header != 112:
        data[20] = next_header
        if spi is not None:
            data[24:28] = spi
        data[32:44] = ah.icv(bytes(data[:20]), bytes(data[20:44]), bytes(data[44:]),
                             ah.key_of(password), unicast=False)
    return bytes(data)


BAD = [
    # name, packet, reason, keepalived's log line (detail)
    ("wrong-password", _good(password="other123"), Reason.AUTH_FAILURE,
     "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"),
    ("spi-not-source", _good(spi=A4("192.0.2.9").packed), Reason.AUTH_FAILURE,
     "IPSEC AH : invalid IPSEC SPI value. 16908480 and expect 151126208"),
    ("replay", _good(seq=5), Reason.AUTH_FAILURE,
     "(VI_1) IPSEC-AH : sequence number 5 already processed. Packet dropped. Local(5)"),
    ("older", _good(seq=4), Reason.AUTH_FAILURE,
     "(VI_1) IPSEC-AH : sequence number 4 already processed. Packet dropped. Local(5)"),
    ("not-vrrp-inside", _good(next_header=17), Reason.BAD_IP_HEADER, "AH next header 17"),
]


@pytest.mark.parametrize("name,data,reason,line", BAD, ids=[b[0] for b in BAD])
def test_ah_check_refusals_table(name: str, data: bytes, reason: Reason, line: str) -> None:
    counter = ah.SeqCounter(5)
    with pytest.raises(DecodeError) as e:
        ah.check(ah.decode_packet(data), ah.key_of("secret12"), counter, name="VI_1",
                 unicast=False, backup=True)
    assert e.value.reason is reason
    assert e.value.detail == line
    assert counter.seq == 5                      # a refused packet leaves the counter alone


HEADER_BAD = [
    ("ipv6-version", lambda d: b"\x65" + d[1:], Reason.BAD_IP_HEADER),
    ("ihl-4", lambda d: b"\x44" + d[1:], Reason.BAD_IP_HEADER),
    ("protocol-112", lambda d: d[:9] + b"\x70" + d[10:], Reason.BAD_IP_HEADER),
    ("total-shorter", lambda d: d[:2] + struct.pack("!H", len(d) - 1) + d[4:], Reason.BAD_LENGTH),
    ("total-longer", lambda d: d[:2] + struct.pack("!H", len(d) + 1) + d[4:],
     Reason.PACKET_TOO_SHORT),
]


@pytest.mark.parametrize("name,mangle,reason", HEADER_BAD, ids=[b[0] for b in HEADER_BAD])
def test_ah_decode_packet_header_errors(name: str, mangle: object, reason: Reason) -> None:
    with pytest.raises(DecodeError) as e:
        ah.decode_packet(mangle(_good()))  # type: ignore[operator]
    assert e.value.reason is reason
    assert e.value.reason.counter == {"BAD_IP_HEADER": "packet_len_err",
                                      "BAD_LENGTH": "packet_len_err",
                                      "PACKET_TOO_SHORT": "packet_len_err"}[reason.name]


def test_ah_auth_failure_counts_as_keepalived_auth_failure() -> None:
    assert Reason.AUTH_FAILURE.counter == "auth_failure"


def test_ah_key_is_the_password_cut_and_padded_to_8() -> None:
    assert ah.key_of("secret12") == b"secret12"
    assert ah.key_of("averylongpassword") == b"averylon"
    assert ah.key_of("abc") == b"abc\0\0\0\0\0"
    assert ah.key_of(None) == bytes(8)


def test_ah_sequence_counter_follows_keepalived() -> None:
    c = ah.SeqCounter()
    assert [c.next(), c.next()] == [1, 2]                 # incremented before sending
    c.master_heard_lower(40)                              # "Syncing seq_num - Increment seq"
    assert (c.seq, c.next()) == (41, 42)
    c = ah.SeqCounter(0xFFFFFFFD)
    assert c.next() == 0xFFFFFFFE and not c.cycle
    assert c.next() == 0xFFFFFFFE and c.cycle             # stuck: cycled
    c.became_master()                                     # restarts from 0 when cycled
    assert (c.seq, c.cycle, c.next()) == (0, False, 1)
    c.became_master()
    assert c.seq == 1                                     # not cycled: kept


def test_ah_received_number_is_taken_over_and_shared_with_sending() -> None:
    c = ah.SeqCounter(3)
    ah.check(ah.decode_packet(_good(seq=90)), ah.key_of("secret12"), c, name="VI_1",
             unicast=False, backup=True)
    assert c.seq == 90 and c.next() == 91                 # a new master continues above it


def test_ah_ip_id_wraps_past_zero() -> None:
    assert ah.next_ip_id(0) == 1 and ah.next_ip_id(0xFFFE) == 0xFFFF and ah.next_ip_id(0xFFFF) == 1


addr4 = st.integers(1, 0xDFFFFFFF).map(A4)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100), st.booleans())
def test_ah_random_bytes_never_escape(data: bytes, unicast: bool) -> None:
    for d in (data, _good()[:20] + data, bytes(_good()[:2]) + struct.pack("!H", len(data) + 4)
              + data):
        try:
            ah.check(ah.decode_packet(d), b"secret12", ah.SeqCounter(), name="VI_1",
                     unicast=unicast, backup=False)
        except DecodeError:
            pass


@settings(max_examples=100, deadline=None)
@given(addr4, addr4, st.integers(1, 0xFFFFFFFF), st.integers(0, 0xFFFF),
       st.text(min_size=1, max_size=12), st.booleans(),
       st.lists(addr4, min_size=1, max_size=5), st.integers(1, 255))
def test_ah_roundtrip(src: A4, dst: A4, seq: int, ip_id: int, password: str, unicast: bool,
                      vips: list[A4], prio: int) -> None:
    vrrp = encode(Advert(2, 9, prio, tuple(vips), 1.0, AUTH_AH))
    data = ah.build(vrrp, src, dst, seq=seq, ip_id=ip_id, key=ah.key_of(password),
                    unicast=unicast)
    pkt = ah.decode_packet(data)
    counter = ah.SeqCounter(seq - 1)
    ah.check(pkt, ah.key_of(password), counter, name="x", unicast=unicast, backup=True)
    assert counter.seq == seq and pkt.payload == vrrp and (pkt.src, pkt.dst) == (src, dst)


def test_ah_instance_params_and_advert_from_config() -> None:
    from keepalived_py.config.blocks import read_tree_text
    from keepalived_py.config.build import build_config
    from keepalived_py.config.tree import Diagnostics
    from keepalived_py.vrrp import machine as m

    text = ("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
            " authentication {\n  auth_type AH\n  auth_pass averylongpassword\n }\n"
            " virtual_ipaddress { 192.0.2.100/24 }\n}\n")
    d = Diagnostics()
    cfg = build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)
    inst = cfg.vrrp_instances[0]
    assert (inst.auth_type, inst.auth_pass) == ("AH", "averylon")     # truncated, with an error
    p = m.Params.from_config(inst, primary=A4("192.0.2.2"))
    assert p.auth_type == AUTH_AH
    adv = p.advert(100)
    assert (adv.auth_type, adv.auth_data) == (AUTH_AH, b"")           # no password in the message
    assert encode(adv)[-8:] == bytes(8)
    # an AH advert (authenticated by the edge) is accepted by the instance's own checks
    i = m.Instance(p)
    i.handle(m.Started(), 0.0)
    theirs = Advert(2, 51, 150, (A4("192.0.2.100"),), 1.0, AUTH_AH)
    actions = i.handle(m.AdvertReceived(theirs, A4("192.0.2.1"), 255), 0.5)
    assert not any(isinstance(a, m.RejectAdvert) for a in actions), actions
    plain = Advert(2, 51, 150, (A4("192.0.2.100"),), 1.0)
    actions = i.handle(m.AdvertReceived(plain, A4("192.0.2.1"), 255), 0.6)
    assert any(isinstance(a, m.RejectAdvert) and a.reason is Reason.AUTH_TYPE_MISMATCH
               for a in actions), actions
