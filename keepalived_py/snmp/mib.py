"""A MIB view: the (OID, type, value) rows a subagent serves, and Get/GetNext/GetBulk on them.

Pure. The tables are rebuilt from the daemon's state for each request (a few instances: a few
hundred rows), so an answer is never older than the request. Rows are kept sorted by OID
(tuples of ints compare as SNMP orders OIDs, RFC 2741 §7.2.3.2).
"""
from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable

from keepalived_py.snmp.agentx import OID, Pdu, SearchRange, VarBind, VarType

TRUE, FALSE = 1, 2                                       # SNMPv2-TC TruthValue


class View:
    def __init__(self, rows: Iterable[VarBind] = (), subtrees: Iterable[OID] = ()) -> None:
        by_name = {v.name: v for v in rows}
        self.names = sorted(by_name)
        self.rows = [by_name[n] for n in self.names]
        self.subtrees = tuple(subtrees)

    def get(self, name: OID) -> VarBind:
        i = bisect.bisect_left(self.names, name)
        if i < len(self.names) and self.names[i] == name:
            return self.rows[i]
        known = any(name[:len(s)] == s for s in self.subtrees)
        # an object (column) we serve but not this instance, or nothing of ours at all
        col = any(n[:len(name) - 1] == name[:-1] for n in self.names[i - 1:i + 1]) if i else False
        return VarBind(name, VarType.NO_SUCH_INSTANCE if known and col else VarType.NO_SUCH_OBJECT)

    def next(self, r: SearchRange) -> VarBind:
        i = (bisect.bisect_left if r.include else bisect.bisect_right)(self.names, r.start)
        if i < len(self.names) and (not r.end or self.names[i] < r.end):
            return self.rows[i]
        return VarBind(r.start, VarType.END_OF_MIB_VIEW)

    def answer(self, p: Pdu) -> list[VarBind]:
        """The varbinds of the Response to a Get, GetNext or GetBulk (RFC 2741 §7.2.3)."""
        from keepalived_py.snmp.agentx import PduType
        if p.type is PduType.GET:
            return [self.get(r.start) for r in p.ranges]
        if p.type is PduType.GET_NEXT:
            return [self.next(r) for r in p.ranges]
        out = [self.next(r) for r in p.ranges[:p.non_repeaters]]
        repeaters = list(p.ranges[p.non_repeaters:])
        for _ in range(min(p.max_repetitions, 1000)):
            if not repeaters:
                break
            row = [self.next(r) for r in repeaters]
            out += row
            if all(v.type is VarType.END_OF_MIB_VIEW for v in row):
                break
            repeaters = [SearchRange(v.name, r.end) for v, r in zip(row, repeaters, strict=True)]
        return out


# -- value helpers ------------------------------------------------------------------------------
def integer(name: OID, v: int) -> VarBind:
    return VarBind(name, VarType.INTEGER, int(v))


def gauge(name: OID, v: int) -> VarBind:
    return VarBind(name, VarType.GAUGE32, max(0, int(v)) & 0xFFFFFFFF)


def counter32(name: OID, v: int) -> VarBind:
    return VarBind(name, VarType.COUNTER32, int(v) & 0xFFFFFFFF)


def counter64(name: OID, v: int) -> VarBind:
    return VarBind(name, VarType.COUNTER64, int(v))


def ticks(name: OID, seconds: float) -> VarBind:
    return VarBind(name, VarType.TIME_TICKS, max(0, int(seconds * 100)) & 0xFFFFFFFF)


def string(name: OID, v: str | bytes) -> VarBind:
    return VarBind(name, VarType.OCTET_STRING, v.encode() if isinstance(v, str) else v)


def truth(name: OID, v: bool) -> VarBind:
    return integer(name, TRUE if v else FALSE)


def ip_address(name: OID, v: str) -> VarBind:
    return VarBind(name, VarType.IP_ADDRESS, ipaddress.IPv4Address(v or "0.0.0.0").packed)


def oid_value(name: OID, v: OID) -> VarBind:
    return VarBind(name, VarType.OBJECT_IDENTIFIER, v)


def address_bytes(text: str) -> bytes:
    return ipaddress.ip_address(text).packed if text else b""


def string_index(s: str) -> OID:
    """An OCTET STRING table index: its length, then its bytes (SNMPv2-SMI)."""
    b = s.encode()
    return (len(b), *b)
