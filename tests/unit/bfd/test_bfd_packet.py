"""The BFD Control packet codec: one table for encode and decode, scapy as an oracle, every
truncation and every bad field dropped with its reason, decode never raising anything else."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.bfd import BFD

from keepalived_py.bfd.packet import (
    HEADER_LEN,
    Control,
    DecodeError,
    Diag,
    Reason,
    State,
    decode,
    encode,
    ttl_ok,
)

TABLE: list[tuple[str, Control, str]] = [
    ("down, no peer yet",
     Control(State.DOWN, my_discr=0x11223344, detect_mult=5, desired_min_tx=1_000_000,
             required_min_rx=10_000),
     "2040051811223344000000000" "00f4240000027100000000" + "0"),
    ("up with poll",
     Control(State.UP, my_discr=5, your_discr=7, poll=True, detect_mult=3,
             desired_min_tx=10_000, required_min_rx=20_000),
     "20e0031800000005000000070000271000004e2000000000"),
    ("down after expiry, final",
     Control(State.DOWN, my_discr=1, your_discr=2, diag=Diag.EXPIRED, final=True,
             detect_mult=1, desired_min_tx=1, required_min_rx=2),
     "21500118000000010000000200000001000000020000" "0000"),
    ("admin down, demand and cpi",
     Control(State.ADMINDOWN, my_discr=0xFFFFFFFF, diag=Diag.ADMIN_DOWN, demand=True, cpi=True,
             detect_mult=255, desired_min_tx=0xFFFFFFFF, required_min_rx=0),
     "270aff18ffffffff00000000ffffffff0000000000000000"),
]


def _fix(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr[:HEADER_LEN * 2])


@pytest.mark.parametrize("name,ctl,wire", TABLE, ids=[t[0] for t in TABLE])
def test_packet_encode_decode_table(name: str, ctl: Control, wire: str) -> None:
    data = _fix(wire)
    assert encode(ctl) == data
    assert decode(data) == ctl


@pytest.mark.parametrize("name,ctl,wire", TABLE, ids=[t[0] for t in TABLE])
def test_packet_scapy_reads_what_we_write(name: str, ctl: Control, wire: str) -> None:
    p = BFD(encode(ctl))
    assert (p.version, p.sta, p.diag, p.detect_mult, p.len) == (1, ctl.state, ctl.diag,
                                                                 ctl.detect_mult, 24)
    assert (p.my_discriminator, p.your_discriminator) == (ctl.my_discr, ctl.your_discr)
    assert (p.min_tx_interval, p.min_rx_interval) == (ctl.desired_min_tx, ctl.required_min_rx)
    assert bool(p.flags.P) == ctl.poll and bool(p.flags.F) == ctl.final
    assert bool(p.flags.D) == ctl.demand and bool(p.flags.C) == ctl.cpi


def test_packet_we_read_what_scapy_writes() -> None:
    raw = bytes(BFD(version=1, diag=3, sta=3, flags="F", detect_mult=4, my_discriminator=9,
                    your_discriminator=10, min_tx_interval=50_000, min_rx_interval=60_000,
                    echo_rx_interval=0))
    c = decode(raw)
    assert c == Control(State.UP, my_discr=9, your_discr=10, diag=Diag.NBR_SIGNALLED_DOWN,
                        final=True, detect_mult=4, desired_min_tx=50_000, required_min_rx=60_000)


@pytest.mark.parametrize("cut", range(HEADER_LEN))
def test_packet_every_truncation_is_dropped(cut: int) -> None:
    data = encode(TABLE[1][1])[:cut]
    with pytest.raises(DecodeError) as e:
        decode(data)
    assert e.value.reason is Reason.TOO_SHORT


def _patched(offset: int, value: int) -> bytes:
    b = bytearray(encode(TABLE[1][1]))
    b[offset] = value
    return bytes(b)


@pytest.mark.parametrize("data,reason", [
    (encode(TABLE[1][1]) + b"\0" * 4, Reason.BAD_LENGTH),          # length field 24, got 28
    (_patched(3, 26), Reason.BAD_LENGTH),
    (_patched(0, 0x40), Reason.BAD_VERSION),                         # version 2
    (_patched(0, 0x00), Reason.BAD_VERSION),                         # version 0
    (_patched(2, 0), Reason.BAD_MULT),
    (_patched(1, 0xC1), Reason.MULTIPOINT),
    (encode(Control(State.UP, my_discr=0, your_discr=1)), Reason.ZERO_DISCR),
    (encode(Control(State.INIT, my_discr=1, your_discr=0)), Reason.NO_YOUR_DISCR),
    (encode(Control(State.UP, my_discr=1, your_discr=0)), Reason.NO_YOUR_DISCR),
    (_patched(1, 0xF0), Reason.POLL_FINAL),
    (_patched(0, 0x29), Reason.BAD_DIAG),                            # diag 9
])
def test_packet_bad_fields_are_dropped_with_their_reason(data: bytes, reason: Reason) -> None:
    with pytest.raises(DecodeError) as e:
        decode(data)
    assert e.value.reason is reason


def test_packet_down_without_your_discriminator_is_valid() -> None:
    assert decode(encode(Control(State.DOWN, my_discr=3))).your_discr == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_packet_decode_raises_only_decode_error(data: bytes) -> None:
    try:
        c = decode(data)
    except DecodeError:
        return
    assert encode(c) == data                   # whatever is accepted round-trips exactly


@settings(max_examples=200, deadline=None)
@given(st.builds(Control, state=st.sampled_from(State), my_discr=st.integers(1, 2**32 - 1),
                 your_discr=st.integers(1, 2**32 - 1), diag=st.sampled_from(Diag),
                 poll=st.booleans(), cpi=st.booleans(), auth=st.booleans(), demand=st.booleans(),
                 detect_mult=st.integers(1, 255), desired_min_tx=st.integers(0, 2**32 - 1),
                 required_min_rx=st.integers(0, 2**32 - 1),
                 required_min_echo_rx=st.integers(0, 2**32 - 1)))
def test_packet_roundtrip_property(c: Control) -> None:
    assert decode(encode(c)) == c
    assert struct.unpack_from("!B", encode(c))[0] >> 5 == 1


@pytest.mark.parametrize("received,ttl,max_hops,ok", [
    (255, 255, 0, True), (254, 255, 0, False), (1, 255, 0, False), (0, 255, 0, True),
    (253, 255, 2, True), (252, 255, 2, False), (1, 255, 255, True), (64, 64, 0, True),
])
def test_packet_ttl_check_is_gtsm_with_max_hops(received: int, ttl: int, max_hops: int,
                                                 ok: bool) -> None:
    assert ttl_ok(received, ttl, max_hops) is ok
