"""The checker child's KEEPALIVED-MIB rows (check part) and its notifications. Pure.

virtualServerTable is indexed by the virtual server's position in the configuration and
realServerTable by (virtual server, real server) positions, the sorry server last, as
keepalived numbers them. Values follow the MIB's enumerations.
"""
from __future__ import annotations

from keepalived_py.record import Record
from keepalived_py.snmp import mib
from keepalived_py.snmp.agentx import OID, VarBind
from keepalived_py.snmp.vrrp_mib import K_CHECK, K_GLOBAL

TRAP_REAL_SERVER = (*K_CHECK, 5, 0, 1)              # realServerStateChange
TRAP_QUORUM = (*K_CHECK, 5, 0, 2)                   # virtualServerQuorumStateChange

PROTOCOL = {"TCP": 1, "UDP": 2, "SCTP": 3}
ALGO = {"rr": 1, "wrr": 2, "lc": 3, "wlc": 4, "lblc": 5, "lblcr": 6, "dh": 7, "sh": 8, "sed": 9,
        "nq": 10, "fo": 11, "ovf": 12, "mh": 13, "twos": 14}
KIND = {"NAT": 1, "DR": 2, "TUN": 3}


class RealFacts(Record, kw_only=False):
    index: int
    address: str
    port: int
    up: bool
    weight: int
    sorry: bool = False
    inhibit: bool = False
    notify_up: bool = False
    notify_down: bool = False
    failed_checks: int = 0
    name: str | None = None                 # snmp_name


class VirtualFacts(Record, kw_only=False):
    index: int
    address: str | None
    port: int
    fwmark: int | None
    group: str | None
    protocol: str
    sched: str
    kind: str
    delay_loop: float
    quorum: int
    hysteresis: int
    quorum_up: bool
    alpha: bool
    omega: bool
    ha_suspend: bool
    virtualhost: str | None
    persistence: int | None
    reals: tuple[RealFacts, ...]
    name: str | None = None                 # snmp_name

    @property
    def type(self) -> int:
        return 1 if self.fwmark is not None else 3 if self.group else 2

    @property
    def up_count(self) -> int:
        return sum(r.up for r in self.reals if not r.sorry)

    @property
    def total(self) -> int:
        return sum(not r.sorry for r in self.reals)


def _addr_type(a: str) -> int:
    return 2 if ":" in a else 1


def check_rows(servers: list[VirtualFacts]) -> list[VarBind]:
    rows: list[VarBind] = []
    for v in servers:
        e, x = (*K_CHECK, 3, 1), v.index
        rows += [mib.integer((*e, 2, x), v.type),
                 mib.integer((*e, 8, x), PROTOCOL.get(v.protocol, 4)),
                 mib.integer((*e, 9, x), ALGO.get(v.sched, 99)),
                 mib.integer((*e, 10, x), KIND.get(v.kind, 1)),
                 mib.integer((*e, 11, x), 1 if v.up_count else 2),
                 mib.truth((*e, 13, x), v.persistence is not None),
                 mib.gauge((*e, 14, x), v.persistence or 0),
                 mib.gauge((*e, 16, x), int(v.delay_loop)),
                 mib.truth((*e, 17, x), v.ha_suspend), mib.truth((*e, 18, x), v.alpha),
                 mib.truth((*e, 19, x), v.omega), mib.gauge((*e, 20, x), v.total),
                 mib.gauge((*e, 21, x), v.up_count), mib.gauge((*e, 22, x), v.quorum),
                 mib.integer((*e, 23, x), 1 if v.quorum_up else 2),
                 mib.gauge((*e, 26, x), v.hysteresis),
                 mib.gauge((*e, 64, x), int(v.delay_loop * 1e6))]
        if v.group:
            rows.append(mib.string((*e, 3, x), v.group))
        if v.fwmark is not None:
            rows.append(mib.gauge((*e, 4, x), v.fwmark))
        if v.address:
            rows += [mib.integer((*e, 5, x), _addr_type(v.address)),
                     mib.string((*e, 6, x), mib.address_bytes(v.address)),
                     mib.gauge((*e, 7, x), v.port)]
        if v.virtualhost:
            rows.append(mib.string((*e, 12, x), v.virtualhost))
        if v.name:
            rows.append(mib.string((*e, 71, x), v.name))
        for r in v.reals:
            re, rx = (*K_CHECK, 4, 1), (x, r.index)
            rows += [mib.integer((*re, 2, *rx), 2 if r.sorry else 1),
                     mib.integer((*re, 3, *rx), _addr_type(r.address)),
                     mib.string((*re, 4, *rx), mib.address_bytes(r.address)),
                     mib.gauge((*re, 5, *rx), r.port)]
            if not r.sorry:
                rows += [mib.integer((*re, 6, *rx), 1 if r.up else 2),
                         mib.integer((*re, 7, *rx), r.weight),
                         mib.integer((*re, 10, *rx), 2 if r.inhibit else 1),
                         mib.truth((*re, 11, *rx), r.notify_up),
                         mib.truth((*re, 12, *rx), r.notify_down),
                         mib.gauge((*re, 13, *rx), r.failed_checks)]
            if r.name:
                rows.append(mib.string((*re, 55, *rx), r.name))
    return rows


def real_server_trap(v: VirtualFacts, r: RealFacts, router_id: str) -> tuple[OID, list[VarBind]]:
    """realServerStateChange: the objects without their index, as keepalived sends them."""
    re, ve = (*K_CHECK, 4, 1), (*K_CHECK, 3, 1)
    vbs = [mib.integer((*re, 3), _addr_type(r.address)),
           mib.string((*re, 4), mib.address_bytes(r.address)), mib.gauge((*re, 5), r.port),
           mib.integer((*re, 6), 1 if r.up else 2), mib.integer((*ve, 2), v.type),
           mib.integer((*ve, 8), PROTOCOL.get(v.protocol, 4)),
           mib.gauge((*ve, 21), v.up_count), mib.gauge((*ve, 20), v.total),
           mib.string((*K_GLOBAL, 2, 0), router_id)]
    vbs += _vs_identity(v)
    return TRAP_REAL_SERVER, vbs


def quorum_trap(v: VirtualFacts, router_id: str) -> tuple[OID, list[VarBind]]:
    ve = (*K_CHECK, 3, 1)
    vbs = [mib.integer((*ve, 2), v.type), mib.integer((*ve, 8), PROTOCOL.get(v.protocol, 4)),
           mib.integer((*ve, 23), 1 if v.quorum_up else 2), mib.gauge((*ve, 22), v.quorum),
           mib.gauge((*ve, 21), v.up_count), mib.gauge((*ve, 20), v.total),
           mib.string((*K_GLOBAL, 2, 0), router_id)]
    return TRAP_QUORUM, vbs + _vs_identity(v)


def _vs_identity(v: VirtualFacts) -> list[VarBind]:
    ve = (*K_CHECK, 3, 1)
    if v.group:
        return [mib.string((*ve, 3), v.group)]
    if v.fwmark is not None:
        return [mib.gauge((*ve, 4), v.fwmark)]
    return [mib.integer((*ve, 5), _addr_type(v.address or "")),
            mib.string((*ve, 6), mib.address_bytes(v.address or "")), mib.gauge((*ve, 7), v.port)]
