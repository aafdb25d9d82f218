"""The AgentX codec (RFC 2741), the subagent session and the MIB view; no master needed."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.snmp import agentx as ax
from keepalived_py.snmp.mib import View, gauge, integer, string
from keepalived_py.snmp.session import SNMP_TRAP_OID_0, SYS_UPTIME_0, Phase, Session

KA = (1, 3, 6, 1, 4, 1, 9586, 100, 5)

# (pdu, bytes): one table drives encode and decode (RFC 2741 §6 layouts, network byte order)
TABLE: list[tuple[ax.Pdu, bytes]] = [
    (ax.Pdu(ax.PduType.OPEN, packet_id=1, timeout=0, oid=(*KA, 2), descr=b"kp"),
     bytes([1, 1, 0x10, 0]) + struct.pack("!IIII", 0, 0, 1, 36)
     + bytes([0, 0, 0, 0]) + bytes([5, 4, 0, 0]) + struct.pack("!5I", 1, 9586, 100, 5, 2)
     + struct.pack("!I", 2) + b"kp\0\0"),
    (ax.Pdu(ax.PduType.REGISTER, session_id=7, packet_id=2, oid=(1, 3, 6, 1, 2, 1, 68),
            priority=127),
     bytes([1, 3, 0x10, 0]) + struct.pack("!IIII", 7, 0, 2, 16)
     + bytes([0, 127, 0, 0]) + bytes([2, 2, 0, 0]) + struct.pack("!2I", 1, 68)),
    (ax.Pdu(ax.PduType.GET_NEXT, session_id=7, transaction_id=9, packet_id=3,
            ranges=(ax.SearchRange((*KA, 1), (), True),)),
     bytes([1, 6, 0x10, 0]) + struct.pack("!IIII", 7, 9, 3, 28)
     + bytes([5, 4, 1, 0]) + struct.pack("!5I", 1, 9586, 100, 5, 1) + bytes([0, 0, 0, 0])),
    (ax.Pdu(ax.PduType.RESPONSE, session_id=7, transaction_id=9, packet_id=3, sys_uptime=100,
            varbinds=(ax.VarBind((1, 3, 6, 1, 2, 1, 1, 3, 0), ax.VarType.TIME_TICKS, 5),
                      ax.VarBind((1, 2), ax.VarType.OCTET_STRING, b"abcde"),
                      ax.VarBind((1, 3), ax.VarType.COUNTER64, 2**40),
                      ax.VarBind((1, 4), ax.VarType.INTEGER, -1),
                      ax.VarBind((1, 5), ax.VarType.OBJECT_IDENTIFIER, (1, 3, 6, 1, 6)),
                      ax.VarBind((1, 6), ax.VarType.END_OF_MIB_VIEW))),
     bytes([1, 18, 0x10, 0]) + struct.pack("!IIII", 7, 9, 3, 144)
     + struct.pack("!IHH", 100, 0, 0)
     + struct.pack("!HH", 67, 0) + bytes([4, 2, 0, 0]) + struct.pack("!4I", 1, 1, 3, 0)
     + struct.pack("!I", 5)
     + struct.pack("!HH", 4, 0) + bytes([2, 0, 0, 0]) + struct.pack("!2I", 1, 2)
     + struct.pack("!I", 5) + b"abcde\0\0\0"
     + struct.pack("!HH", 70, 0) + bytes([2, 0, 0, 0]) + struct.pack("!2I", 1, 3)
     + struct.pack("!Q", 2**40)
     + struct.pack("!HH", 2, 0) + bytes([2, 0, 0, 0]) + struct.pack("!2I", 1, 4)
     + struct.pack("!I", 2**32 - 1)
     + struct.pack("!HH", 6, 0) + bytes([2, 0, 0, 0]) + struct.pack("!2I", 1, 5)
     + bytes([0, 6, 0, 0])
     + struct.pack("!HH", 130, 0) + bytes([2, 0, 0, 0]) + struct.pack("!2I", 1, 6)),
    (ax.Pdu(ax.PduType.CLOSE, session_id=7, packet_id=4, reason=ax.CloseReason.SHUTDOWN),
     bytes([1, 2, 0x10, 0]) + struct.pack("!IIII", 7, 0, 4, 4) + bytes([5, 0, 0, 0])),
]


@pytest.mark.parametrize(("pdu", "data"), TABLE)
def test_agentx_encode_matches_the_rfc_layout(pdu: ax.Pdu, data: bytes) -> None:
    assert ax.encode_pdu(pdu) == data


@pytest.mark.parametrize(("pdu", "data"), TABLE)
def test_agentx_decode_round_trips(pdu: ax.Pdu, data: bytes) -> None:
    got = ax.decode_pdu(data)
    assert got == pdu


@pytest.mark.parametrize(("pdu", "data"), TABLE)
def test_agentx_every_truncation_is_a_decode_error(pdu: ax.Pdu, data: bytes) -> None:
    for i in range(len(data)):
        with pytest.raises(ax.DecodeError):
            ax.decode_pdu(data[:i])


def test_agentx_decodes_little_endian_pdus() -> None:
    """A master may send its host byte order (NETWORK_BYTE_ORDER clear, §6.1)."""
    data = bytes([1, 5, 0, 0]) + struct.pack("<IIII", 3, 4, 5, 20) + \
        bytes([3, 2, 0, 0]) + struct.pack("<3I", 1, 68, 1) + bytes([0, 0, 0, 0])
    p = ax.decode_pdu(data)
    assert p.type is ax.PduType.GET and p.session_id == 3 and p.packet_id == 5
    assert p.ranges == (ax.SearchRange((1, 3, 6, 1, 2, 1, 68, 1), ()),)


def test_agentx_context_is_read_before_the_payload() -> None:
    body = struct.pack("!I", 3) + b"ctx\0" + bytes([2, 2, 0, 0]) + struct.pack("!2I", 1, 68) + \
        bytes([0, 0, 0, 0])
    data = bytes([1, 5, 0x18, 0]) + struct.pack("!IIII", 1, 2, 3, len(body)) + body
    p = ax.decode_pdu(data)
    assert p.context == b"ctx" and p.ranges[0].start == (1, 3, 6, 1, 2, 1, 68)


@pytest.mark.parametrize(("data", "reason"), [
    (bytes([2, 1, 0x10, 0]) + bytes(16), ax.Reason.BAD_VERSION),
    (bytes([1, 99, 0x10, 0]) + bytes(16), ax.Reason.BAD_TYPE),
    (bytes([1, 5, 0x10, 0]) + struct.pack("!IIII", 0, 0, 0, 3) + b"abc", ax.Reason.BAD_LENGTH),
    (bytes([1, 12, 0x10, 0]) + struct.pack("!IIII", 0, 0, 0, 8) + struct.pack("!HH", 99, 0)
     + bytes(4), ax.Reason.BAD_VALUE_TYPE),
    (bytes([1, 5, 0x10, 0]) + struct.pack("!IIII", 0, 0, 0, 4) + bytes([200, 0, 0, 0]),
     ax.Reason.BAD_OID),
])
def test_agentx_bad_pdus_name_their_reason(data: bytes, reason: ax.Reason) -> None:
    with pytest.raises(ax.DecodeError) as e:
        ax.decode_pdu(data)
    assert e.value.reason is reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_agentx_decode_raises_only_decode_error(data: bytes) -> None:
    for candidate in (data, bytes([1, data[0] % 20 if data else 5, 0x10, 0]) + data[4:]):
        try:
            ax.decode_pdu(candidate)
        except ax.DecodeError:
            pass


oids = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=20).map(tuple)
values = st.one_of(
    st.tuples(st.just(ax.VarType.INTEGER), st.integers(-2**31, 2**31 - 1)),
    st.tuples(st.sampled_from([ax.VarType.COUNTER32, ax.VarType.GAUGE32, ax.VarType.TIME_TICKS]),
              st.integers(0, 2**32 - 1)),
    st.tuples(st.just(ax.VarType.COUNTER64), st.integers(0, 2**64 - 1)),
    st.tuples(st.sampled_from([ax.VarType.OCTET_STRING, ax.VarType.OPAQUE]),
              st.binary(max_size=40)),
    st.tuples(st.just(ax.VarType.OBJECT_IDENTIFIER), oids),
    st.tuples(st.sampled_from([ax.VarType.NULL, ax.VarType.NO_SUCH_OBJECT,
                               ax.VarType.END_OF_MIB_VIEW]), st.none()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(oids, values), max_size=8), st.integers(0, 2**32 - 1))
def test_agentx_notify_round_trips(vbs: list[tuple[ax.OID, tuple[ax.VarType, object]]],
                                   session: int) -> None:
    pdu = ax.Pdu(ax.PduType.NOTIFY, session_id=session, packet_id=1,
                 varbinds=tuple(ax.VarBind(o, t, v) for o, (t, v) in vbs))  # type: ignore[arg-type]
    assert ax.decode_pdu(ax.encode_pdu(pdu)) == pdu


def test_agentx_split_keeps_an_incomplete_tail() -> None:
    a, b = TABLE[0][1], TABLE[1][1]
    pdus, rest = ax.split(a + b + b[:7])
    assert pdus == [a, b] and rest == b[:7]


# -- the session ------------------------------------------------------------------------------
def _view() -> View:
    return View([string((*KA, 1, 1, 0), "v"), integer((*KA, 2, 3, 1, 4, 1), 2),
                 integer((*KA, 2, 3, 1, 4, 2), 1), gauge((*KA, 2, 3, 1, 7, 1), 100)],
                [(*KA, 1), (*KA, 2)])


def _opened() -> Session:
    s = Session((*KA, 2), "test", [(*KA, 1), (*KA, 2)])
    ax.decode_pdu(s.start())
    regs = s.receive(ax.Pdu(ax.PduType.RESPONSE, session_id=42, packet_id=1), _view, 0)
    assert s.phase is Phase.OPEN and s.session_id == 42
    assert [ax.decode_pdu(r).oid for r in regs] == [(*KA, 1), (*KA, 2)]
    for r in regs:
        p = ax.decode_pdu(r)
        s.receive(ax.Pdu(ax.PduType.RESPONSE, session_id=42, packet_id=p.packet_id), _view, 0)
    assert s.registered == [(*KA, 1), (*KA, 2)]
    return s


def test_session_opens_then_registers_each_subtree() -> None:
    _opened()


def test_session_answers_getnext_and_getbulk_from_the_view() -> None:
    s = _opened()
    req = ax.Pdu(ax.PduType.GET_NEXT, session_id=42, transaction_id=5, packet_id=9,
                 ranges=(ax.SearchRange((*KA, 2, 3, 1, 4), (*KA, 3)),))
    (out,) = s.receive(req, _view, 77)
    r = ax.decode_pdu(out)
    assert (r.type, r.packet_id, r.transaction_id, r.sys_uptime) == (ax.PduType.RESPONSE, 9, 5, 77)
    assert r.varbinds == (ax.VarBind((*KA, 2, 3, 1, 4, 1), ax.VarType.INTEGER, 2),)
    bulk = ax.Pdu(ax.PduType.GET_BULK, session_id=42, packet_id=10, max_repetitions=5,
                  ranges=(ax.SearchRange((*KA, 2), (*KA, 3)),))
    (out,) = s.receive(bulk, _view, 0)
    names = [v.name for v in ax.decode_pdu(out).varbinds]
    assert names == [(*KA, 2, 3, 1, 4, 1), (*KA, 2, 3, 1, 4, 2), (*KA, 2, 3, 1, 7, 1),
                     (*KA, 2, 3, 1, 7, 1)]      # endOfMibView names where its range started
    assert ax.decode_pdu(out).varbinds[-1].type is ax.VarType.END_OF_MIB_VIEW


def test_session_get_tells_no_such_instance_from_no_such_object() -> None:
    s = _opened()
    req = ax.Pdu(ax.PduType.GET, session_id=42, packet_id=11,
                 ranges=(ax.SearchRange((*KA, 2, 3, 1, 4, 9), ()),
                         ax.SearchRange((*KA, 2, 99, 0), ()),
                         ax.SearchRange((*KA, 1, 1, 0), ())))
    (out,) = s.receive(req, _view, 0)
    assert [v.type for v in ax.decode_pdu(out).varbinds] == [
        ax.VarType.NO_SUCH_INSTANCE, ax.VarType.NO_SUCH_OBJECT, ax.VarType.OCTET_STRING]


def test_session_refuses_sets_and_notifies_with_uptime_and_trap_oid() -> None:
    s = _opened()
    (out,) = s.receive(ax.Pdu(ax.PduType.TEST_SET, session_id=42, packet_id=12,
                              varbinds=(integer((*KA, 1, 1, 0), 1),)), _view, 0)
    assert ax.decode_pdu(out).error == ax.Error.NOT_WRITABLE
    data = s.notify(123, (*KA, 2, 10, 0, 2), [string((*KA, 2, 3, 1, 2), "VI_1")])
    assert data is not None
    n = ax.decode_pdu(data)
    assert n.type is ax.PduType.NOTIFY and n.session_id == 42
    assert [v.name for v in n.varbinds] == [SYS_UPTIME_0, SNMP_TRAP_OID_0, (*KA, 2, 3, 1, 2)]
    assert n.varbinds[1].value == (*KA, 2, 10, 0, 2)


def test_session_closed_by_the_master_stops_answering() -> None:
    s = _opened()
    assert s.receive(ax.Pdu(ax.PduType.CLOSE, session_id=42, reason=5), _view, 0) == []
    assert s.phase is Phase.CLOSED
    assert s.notify(0, (1, 3), []) is None


def test_session_open_refused_stays_closed() -> None:
    s = Session((*KA, 2), "t", [(*KA, 2)])
    s.start()
    assert s.receive(ax.Pdu(ax.PduType.RESPONSE, packet_id=1, error=ax.Error.OPEN_FAILED),
                     _view, 0) == []
    assert s.phase is Phase.CLOSED
