"""The AgentX protocol (RFC 2741), subagent side. Pure codec: bytes in, PDUs out, no I/O.

Theory of operation. Every PDU is a 20-byte header (RFC 2741 §6.1: version 1, type, flags,
reserved, sessionID, transactionID, packetID, payload length) and a payload. The byte order of
the 32/16-bit fields follows the header's NETWORK_BYTE_ORDER flag; we always send network
order (and set the flag), and decode whatever the master sends. An OID (§5.1) is n_subid,
prefix (an `internet` 1.3.6.1.X shortcut), include, reserved, then n_subid 32-bit words; an
octet string (§5.3) is a length and the bytes padded to 4. A subagent sends Open, Register,
Notify, Ping, Close and Response PDUs and receives Get, GetNext, GetBulk, the Set phases and
Response PDUs.

`decode_pdu` raises only `DecodeError` (with a `Reason`), never IndexError or struct.error;
`split` cuts a byte stream into whole PDUs.
"""
from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import field

from keepalived_py.errors import KeepalivedError
from keepalived_py.record import Record

HEADER_LEN = 20
VERSION = 1                                         # RFC 2741 §6.1 h.version

# flags, §6.1
INSTANCE_REGISTRATION = 0x01
NEW_INDEX = 0x02
ANY_INDEX = 0x04
NON_DEFAULT_CONTEXT = 0x08
NETWORK_BYTE_ORDER = 0x10

INTERNET = (1, 3, 6, 1)                             # §5.1 prefix compression
OID = tuple[int, ...]


class PduType(enum.IntEnum):                        # §6.1 h.type
    OPEN = 1
    CLOSE = 2
    REGISTER = 3
    UNREGISTER = 4
    GET = 5
    GET_NEXT = 6
    GET_BULK = 7
    TEST_SET = 8
    COMMIT_SET = 9
    UNDO_SET = 10
    CLEANUP_SET = 11
    NOTIFY = 12
    PING = 13
    INDEX_ALLOCATE = 14
    INDEX_DEALLOCATE = 15
    ADD_AGENT_CAPS = 16
    REMOVE_AGENT_CAPS = 17
    RESPONSE = 18


class VarType(enum.IntEnum):                        # §5.4 v.type
    INTEGER = 2
    OCTET_STRING = 4
    NULL = 5
    OBJECT_IDENTIFIER = 6
    IP_ADDRESS = 64
    COUNTER32 = 65
    GAUGE32 = 66
    TIME_TICKS = 67
    OPAQUE = 68
    COUNTER64 = 70
    NO_SUCH_OBJECT = 128
    NO_SUCH_INSTANCE = 129
    END_OF_MIB_VIEW = 130


class Error(enum.IntEnum):                          # §6.2.16 res.error
    NO_ERROR = 0
    OPEN_FAILED = 256
    NOT_OPEN = 257
    INDEX_WRONG_TYPE = 258
    INDEX_ALREADY_ALLOCATED = 259
    INDEX_NONE_AVAILABLE = 260
    INDEX_NOT_ALLOCATED = 261
    UNSUPPORTED_CONTEXT = 262
    DUPLICATE_REGISTRATION = 263
    UNKNOWN_REGISTRATION = 264
    UNKNOWN_AGENT_CAPS = 265
    PARSE_ERROR = 266
    REQUEST_DENIED = 267
    PROCESSING_ERROR = 268
    GEN_ERR = 5
    NOT_WRITABLE = 17


class CloseReason(enum.IntEnum):                    # §6.2.2 c.reason
    OTHER = 1
    PARSE_ERROR = 2
    PROTOCOL_ERROR = 3
    TIMEOUTS = 4
    SHUTDOWN = 5
    BY_MANAGER = 6


class Reason(enum.Enum):
    TOO_SHORT = "too_short"
    BAD_VERSION = "bad_version"
    BAD_TYPE = "bad_type"
    BAD_LENGTH = "bad_length"
    BAD_OID = "bad_oid"
    BAD_STRING = "bad_string"
    BAD_VALUE_TYPE = "bad_value_type"
    TRAILING = "trailing"


class DecodeError(KeepalivedError):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"AgentX {reason.value}" + (f": {detail}" if detail else ""))
        self.reason = reason


class VarBind(Record, kw_only=False):
    name: OID
    type: VarType
    value: int | bytes | OID | None = None


class SearchRange(Record, kw_only=False):
    start: OID
    end: OID                        # () : no upper bound
    include: bool = False


class Pdu(Record, kw_only=False):
    type: PduType
    session_id: int = 0
    transaction_id: int = 0
    packet_id: int = 0
    flags: int = NETWORK_BYTE_ORDER
    context: bytes | None = None
    # type-specific fields
    ranges: tuple[SearchRange, ...] = ()            # Get / GetNext / GetBulk
    non_repeaters: int = 0                          # GetBulk
    max_repetitions: int = 0
    varbinds: tuple[VarBind, ...] = ()              # Notify / Response / TestSet
    timeout: int = 0                                # Open / Register
    oid: OID = ()                                   # Open id / Register subtree
    descr: bytes = b""                              # Open description
    priority: int = 127                             # Register
    range_subid: int = 0
    upper_bound: int = 0
    reason: int = 0                                 # Close
    sys_uptime: int = 0                             # Response
    error: int = 0
    index: int = 0
    extra: bytes = field(default=b"", compare=False)   # payload we do not interpret


# -- encoding -----------------------------------------------------------------------------------
def encode_oid(oid: OID, include: bool = False) -> bytes:
    """§5.1; 1.3.6.1.X.rest with 0 < X < 256 is sent with prefix X."""
    prefix, rest = 0, oid
    if len(oid) >= 5 and oid[:4] == INTERNET and 0 < oid[4] < 256:
        prefix, rest = oid[4], oid[5:]
    return struct.pack(f"!BBBB{len(rest)}I", len(rest), prefix, int(include), 0, *rest)


def encode_string(data: bytes) -> bytes:
    pad = (-len(data)) % 4
    return struct.pack("!I", len(data)) + data + b"\0" * pad


def encode_varbind(vb: VarBind) -> bytes:
    out = struct.pack("!HH", vb.type, 0) + encode_oid(vb.name)
    t, v = vb.type, vb.value
    if t in (VarType.INTEGER, VarType.COUNTER32, VarType.GAUGE32, VarType.TIME_TICKS):
        assert isinstance(v, int)
        out += struct.pack("!I", v & 0xFFFFFFFF)
    elif t is VarType.COUNTER64:
        assert isinstance(v, int)
        out += struct.pack("!Q", v & 0xFFFFFFFFFFFFFFFF)
    elif t in (VarType.OCTET_STRING, VarType.IP_ADDRESS, VarType.OPAQUE):
        assert isinstance(v, bytes)
        out += encode_string(v)
    elif t is VarType.OBJECT_IDENTIFIER:
        assert isinstance(v, tuple)
        out += encode_oid(v)
    return out


def encode_pdu(p: Pdu) -> bytes:
    """The bytes of `p` in network byte order (NETWORK_BYTE_ORDER is always set)."""
    flags = p.flags | NETWORK_BYTE_ORDER
    body = b""
    if p.context is not None:
        flags |= NON_DEFAULT_CONTEXT
        body += encode_string(p.context)
    t = p.type
    if t is PduType.OPEN:
        body = struct.pack("!B3x", p.timeout) + encode_oid(p.oid) + encode_string(p.descr)
        flags &= ~NON_DEFAULT_CONTEXT
    elif t is PduType.CLOSE:
        body = struct.pack("!B3x", p.reason)
        flags &= ~NON_DEFAULT_CONTEXT
    elif t in (PduType.REGISTER, PduType.UNREGISTER):
        timeout = p.timeout if t is PduType.REGISTER else 0
        body += struct.pack("!BBBx", timeout, p.priority, p.range_subid) + encode_oid(p.oid)
        if p.range_subid:
            body += struct.pack("!I", p.upper_bound)
    elif t in (PduType.GET, PduType.GET_NEXT, PduType.GET_BULK):
        if t is PduType.GET_BULK:
            body += struct.pack("!HH", p.non_repeaters, p.max_repetitions)
        for r in p.ranges:
            body += encode_oid(r.start, r.include) + encode_oid(r.end)
    elif t in (PduType.NOTIFY, PduType.TEST_SET, PduType.INDEX_ALLOCATE,
               PduType.INDEX_DEALLOCATE):
        body += b"".join(encode_varbind(v) for v in p.varbinds)
    elif t is PduType.RESPONSE:
        body = struct.pack("!IHH", p.sys_uptime, p.error, p.index) + \
            b"".join(encode_varbind(v) for v in p.varbinds)
        flags &= ~NON_DEFAULT_CONTEXT
    header = struct.pack("!BBBBIIII", VERSION, t, flags, 0, p.session_id, p.transaction_id,
                         p.packet_id, len(body))
    return header + body


# -- decoding -----------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes, big: bool) -> None:
        self.data, self.pos, self.e = data, 0, "!" if big else "<"

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(Reason.BAD_LENGTH, f"{n} bytes at {self.pos} of {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(self.e + "H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(self.e + "I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(self.e + "Q", self.take(8))[0])

    def oid(self) -> tuple[OID, bool]:
        n, prefix, include, _ = self.take(4)
        if n > 128:                                  # §5.1: at most 128 sub-identifiers
            raise DecodeError(Reason.BAD_OID, f"{n} sub-identifiers")
        subids = struct.unpack(f"{self.e}{n}I", self.take(4 * n))
        head = (*INTERNET, prefix) if prefix else ()
        return (*head, *subids), bool(include)

    def string(self) -> bytes:
        n = self.u32()
        if n > len(self.data):
            raise DecodeError(Reason.BAD_STRING, f"length {n}")
        s = self.take(n)
        self.take((-n) % 4)
        return s

    def varbind(self) -> VarBind:
        t = self.u16()
        self.take(2)
        name, _ = self.oid()
        try:
            vt = VarType(t)
        except ValueError:
            raise DecodeError(Reason.BAD_VALUE_TYPE, str(t)) from None
        value: int | bytes | OID | None = None
        if vt in (VarType.INTEGER, VarType.COUNTER32, VarType.GAUGE32, VarType.TIME_TICKS):
            value = self.u32()
            if vt is VarType.INTEGER and value >= 2**31:
                value -= 2**32
        elif vt is VarType.COUNTER64:
            value = self.u64()
        elif vt in (VarType.OCTET_STRING, VarType.IP_ADDRESS, VarType.OPAQUE):
            value = self.string()
        elif vt is VarType.OBJECT_IDENTIFIER:
            value, _ = self.oid()
        return VarBind(name, vt, value)


def pdu_length(header: bytes) -> int:
    """Total length of the PDU whose header starts `header` (at least 20 bytes)."""
    if len(header) < HEADER_LEN:
        raise DecodeError(Reason.TOO_SHORT, f"{len(header)} bytes")
    big = bool(header[2] & NETWORK_BYTE_ORDER)
    (length,) = struct.unpack_from("!I" if big else "<I", header, 16)
    if length % 4 or length > 1 << 24:
        raise DecodeError(Reason.BAD_LENGTH, f"payload length {length}")
    return HEADER_LEN + int(length)


def split(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole PDUs at the start of `buffer`, and the rest (an incomplete PDU)."""
    out = []
    while len(buffer) >= HEADER_LEN:
        n = pdu_length(buffer)
        if len(buffer) < n:
            break
        out.append(buffer[:n])
        buffer = buffer[n:]
    return out, buffer


def decode_pdu(data: bytes) -> Pdu:
    """One whole PDU. Raises DecodeError."""
    if len(data) < HEADER_LEN:
        raise DecodeError(Reason.TOO_SHORT, f"{len(data)} bytes")
    version, t, flags = data[0], data[1], data[2]
    if version != VERSION:
        raise DecodeError(Reason.BAD_VERSION, str(version))
    try:
        ptype = PduType(t)
    except ValueError:
        raise DecodeError(Reason.BAD_TYPE, str(t)) from None
    if pdu_length(data) != len(data):
        raise DecodeError(Reason.BAD_LENGTH, f"{len(data)} bytes for {pdu_length(data)}")
    r = _Reader(data, bool(flags & NETWORK_BYTE_ORDER))
    r.take(4)
    session, transaction, packet = r.u32(), r.u32(), r.u32()
    r.u32()
    kw: dict[str, object] = {}
    context = None
    if flags & NON_DEFAULT_CONTEXT and ptype not in (PduType.OPEN, PduType.CLOSE,
                                                     PduType.RESPONSE):
        context = r.string()
    if ptype is PduType.OPEN:
        kw["timeout"] = r.u8()
        r.take(3)
        kw["oid"], _ = r.oid()
        kw["descr"] = r.string()
    elif ptype is PduType.CLOSE:
        kw["reason"] = r.u8()
        r.take(3)
    elif ptype in (PduType.REGISTER, PduType.UNREGISTER):
        kw["timeout"], kw["priority"], kw["range_subid"] = r.u8(), r.u8(), r.u8()
        r.take(1)
        kw["oid"], _ = r.oid()
        if kw["range_subid"]:
            kw["upper_bound"] = r.u32()
    elif ptype in (PduType.GET, PduType.GET_NEXT, PduType.GET_BULK):
        if ptype is PduType.GET_BULK:
            kw["non_repeaters"], kw["max_repetitions"] = r.u16(), r.u16()
        ranges = []
        while r.pos < len(data):
            start, include = r.oid()
            end, _ = r.oid()
            ranges.append(SearchRange(start, end, include))
        kw["ranges"] = tuple(ranges)
    elif ptype in (PduType.NOTIFY, PduType.TEST_SET, PduType.INDEX_ALLOCATE,
                   PduType.INDEX_DEALLOCATE):
        kw["varbinds"] = tuple(_varbinds(r, len(data)))
    elif ptype is PduType.RESPONSE:
        kw["sys_uptime"], kw["error"], kw["index"] = r.u32(), r.u16(), r.u16()
        kw["varbinds"] = tuple(_varbinds(r, len(data)))
    else:                                   # CommitSet/UndoSet/CleanupSet/Ping/AgentCaps
        kw["extra"] = r.take(len(data) - r.pos)
    if r.pos != len(data):
        raise DecodeError(Reason.TRAILING, f"{len(data) - r.pos} bytes")
    return Pdu(ptype, session, transaction, packet, flags, context, **kw)  # type: ignore[arg-type]


def _varbinds(r: _Reader, end: int) -> Iterator[VarBind]:
    while r.pos < end:
        yield r.varbind()


def oid_str(oid: OID) -> str:
    return "." + ".".join(map(str, oid))


def parse_oid(text: str) -> OID:
    return tuple(int(x) for x in text.strip(".").split("."))
