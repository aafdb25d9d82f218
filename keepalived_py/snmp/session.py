"""One AgentX subagent session (RFC 2741 §7.1), as a state machine. Pure: PDUs in, bytes out.

Theory of operation. `start()` gives the Open PDU; the master's Response carries our session
id, and we then register each subtree we serve (§6.2.3). Once registered the session answers
Get/GetNext/GetBulk from a `View` the caller builds per request, refuses every TestSet with
notWritable (nothing here is writable; keepalived's MIB is read-only too) and sends
notifications (§6.2.10) with sysUpTime.0 and snmpTrapOID.0 first. A Close from the master, or
a Response we cannot place, ends the session: the edge reconnects and starts a new one.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from keepalived_py.snmp import agentx as ax
from keepalived_py.snmp.mib import View

SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0 = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
OPEN_TIMEOUT = 0              # the master's default timeout for our answers


class Phase(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"


class Session:
    def __init__(self, ident: ax.OID, descr: str, subtrees: Iterable[ax.OID]) -> None:
        self.ident, self.descr = ident, descr.encode()
        self.subtrees = tuple(subtrees)
        self.phase = Phase.CLOSED
        self.session_id = 0
        self._packet = 0
        self._pending: dict[int, str] = {}         # our packet id -> what it was
        self.registered: list[ax.OID] = []
        self.refused: list[tuple[ax.OID, int]] = []

    def _next(self) -> int:
        self._packet = (self._packet + 1) & 0xFFFFFFFF
        return self._packet

    def start(self) -> bytes:
        self.phase, self.session_id = Phase.OPENING, 0
        self.registered, self.refused, self._pending = [], [], {}
        pid = self._next()
        self._pending[pid] = "open"
        return ax.encode_pdu(ax.Pdu(ax.PduType.OPEN, packet_id=pid, timeout=OPEN_TIMEOUT,
                                    oid=self.ident, descr=self.descr))

    def close(self, reason: ax.CloseReason = ax.CloseReason.SHUTDOWN) -> bytes:
        out = ax.encode_pdu(ax.Pdu(ax.PduType.CLOSE, session_id=self.session_id,
                                   packet_id=self._next(), reason=reason))
        self.phase = Phase.CLOSED
        return out

    def ping(self) -> bytes | None:
        if self.phase is not Phase.OPEN:
            return None
        pid = self._next()
        self._pending[pid] = "ping"
        return ax.encode_pdu(ax.Pdu(ax.PduType.PING, session_id=self.session_id, packet_id=pid))

    def notify(self, uptime_ticks: int, trap: ax.OID, varbinds: Iterable[ax.VarBind]) -> bytes | None:
        """A Notify PDU, or None while the session is not open (the trap is dropped, as
        keepalived's are when no master is connected)."""
        if self.phase is not Phase.OPEN:
            return None
        pid = self._next()
        self._pending[pid] = "notify"
        vbs = (ax.VarBind(SYS_UPTIME_0, ax.VarType.TIME_TICKS, uptime_ticks & 0xFFFFFFFF),
               ax.VarBind(SNMP_TRAP_OID_0, ax.VarType.OBJECT_IDENTIFIER, trap), *varbinds)
        return ax.encode_pdu(ax.Pdu(ax.PduType.NOTIFY, session_id=self.session_id,
                                    packet_id=pid, varbinds=tuple(vbs)))

    def receive(self, p: ax.Pdu, view: Callable[[], View], uptime_ticks: int) -> list[bytes]:
        """The PDUs to send in answer to `p` (a Response from the master or a request)."""
        if p.type is ax.PduType.RESPONSE:
            return self._response(p)
        if p.type is ax.PduType.CLOSE:
            self.phase = Phase.CLOSED
            return []
        if self.phase is not Phase.OPEN:
            return []
        answer: list[ax.VarBind] = []
        error, index = ax.Error.NO_ERROR, 0
        if p.type in (ax.PduType.GET, ax.PduType.GET_NEXT, ax.PduType.GET_BULK):
            if p.context:
                error = ax.Error.UNSUPPORTED_CONTEXT
            else:
                answer = view().answer(p)
        elif p.type is ax.PduType.TEST_SET:
            error, index = ax.Error.NOT_WRITABLE, 1
        elif p.type in (ax.PduType.COMMIT_SET, ax.PduType.UNDO_SET):
            pass
        elif p.type is ax.PduType.CLEANUP_SET:
            return []                                # §7.2.4.4: no response
        else:
            error = ax.Error.PROCESSING_ERROR
        return [ax.encode_pdu(ax.Pdu(ax.PduType.RESPONSE, session_id=p.session_id,
                                     transaction_id=p.transaction_id, packet_id=p.packet_id,
                                     sys_uptime=uptime_ticks, error=error, index=index,
                                     varbinds=tuple(answer)))]

    def _response(self, p: ax.Pdu) -> list[bytes]:
        what = self._pending.pop(p.packet_id, None)
        if what == "open":
            if p.error:
                self.phase = Phase.CLOSED
                return []
            self.session_id = p.session_id
            self.phase = Phase.OPEN
            out = []
            for oid in self.subtrees:
                pid = self._next()
                self._pending[pid] = "register " + ax.oid_str(oid)
                out.append(ax.encode_pdu(ax.Pdu(ax.PduType.REGISTER, session_id=self.session_id,
                                                packet_id=pid, oid=oid, priority=127)))
            return out
        if what is not None and what.startswith("register "):
            oid = ax.parse_oid(what.split(" ", 1)[1])
            if p.error:
                self.refused.append((oid, p.error))
            else:
                self.registered.append(oid)
            return []
        if what == "ping" and p.error == ax.Error.NOT_OPEN:
            self.phase = Phase.CLOSED
        return []
