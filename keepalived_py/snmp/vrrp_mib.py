"""The VRRP child's MIB rows and notifications: KEEPALIVED-MIB (global and vrrp parts), VRRP-MIB
(RFC 2787, VRRPv2 instances) and VRRPV3-MIB (RFC 6527). Pure: facts in, varbinds out.

The values are those keepalived 2.2.7 serves (walked against net-snmp's snmpd), including its
choices the RFCs leave open: a VRRP-MIB/VRRPV3-MIB row is indexed by the interface's ifIndex
and the VRID (and the address type in VRRPV3-MIB), the virtual MAC is the interface's own (no
VMAC), an address-table index carries the address bytes without a length, VRRP-MIB's
vrrpOperMasterIpAddr stays 0.0.0.0 on the master itself.
"""
from __future__ import annotations

from dataclasses import field

from keepalived_py.record import Record
from keepalived_py.snmp import mib
from keepalived_py.snmp.agentx import OID, VarBind

KEEPALIVED: OID = (1, 3, 6, 1, 4, 1, 9586, 100, 5)
K_GLOBAL = (*KEEPALIVED, 1)
K_VRRP = (*KEEPALIVED, 2)
K_CHECK = (*KEEPALIVED, 3)
VRRP_MIB: OID = (1, 3, 6, 1, 2, 1, 68)
VRRPV3_MIB: OID = (1, 3, 6, 1, 2, 1, 207)

#: notifications (NOTIFICATION-TYPE OIDs)
TRAP_SYNC_GROUP = (*K_VRRP, 10, 0, 1)               # vrrpSyncGroupStateChange
TRAP_INSTANCE = (*K_VRRP, 10, 0, 2)                 # vrrpInstanceStateChange
TRAP_NEW_MASTER_V2 = (*VRRP_MIB, 0, 1)              # vrrpTrapNewMaster
TRAP_NEW_MASTER_V3 = (*VRRPV3_MIB, 0, 1)            # vrrpv3NewMaster

STATE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 5, "DELETED": 6}
RFC_STATE = {"BACKUP": 2, "MASTER": 3}              # initialize(1) otherwise
SCOPE = {"host": 1, "link": 2, "site": 5, "global": 14}
AUTH = {None: 0, "PASS": 1, "AH": 2}


class AddressFacts(Record, kw_only=False):
    address: str
    prefix: int
    brd: str | None
    scope: str | None
    dev: str
    ifindex: int
    set: bool


class InstanceFacts(Record):
    index: int                      # 1-based, configuration order
    name: str
    vrid: int
    version: int
    family: int
    state: str                      # machine.State value
    initial_state: str
    wanted_state: str
    base_priority: int
    priority: int
    holding: bool
    interface: str
    ifindex: int
    mac: bytes
    track_primary: bool
    advert_int: float
    preempt: bool
    preempt_delay: float
    auth_type: str | None
    sync_group: str | None
    garp_delay: float
    smtp_alert: bool
    notify_exec: bool
    scripts: dict[int, str] = field(default_factory=dict)   # vrrpInstanceEntry column -> cmd
    accept: bool
    mcast: str
    primary: str                    # our address on the interface ("" if none)
    master: str                     # the master's address as we know it ("" if unknown)
    addresses: tuple[AddressFacts, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    up_seconds: float = 0.0
    new_master_reason: int = 0      # VRRPV3-MIB: notMaster(0) priority(1) preempted(2)
                                    # masterNoResponse(3)


class GroupFacts(Record, kw_only=False):
    index: int
    name: str
    state: str
    members: tuple[int, ...]        # instance indexes
    smtp_alert: bool
    notify_exec: bool
    tracking_weight: bool


class GlobalFacts(Record):
    version: str = "Keepalived v2.2.7 (01/16,2022)"
    router_id: str = ""
    smtp_server: str | None = None
    smtp_timeout: int = 0
    smtp_port: int = 0
    email_from: str | None = None
    emails: tuple[str, ...] = ()
    email_faults: bool = True
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    traps: bool = False
    lvs_flush: bool = False
    namespace: str = ""
    dbus: bool = False
    lvs_flush_on_stop: bool = False


def _tri(v: bool | None) -> int:
    return 3 if v is None else (1 if v else 2)


def global_rows(g: GlobalFacts) -> list[VarBind]:
    o = K_GLOBAL
    server = mib.address_bytes(g.smtp_server) if g.smtp_server else b"\0\0\0\0"
    rows = [mib.string((*o, 1, 0), g.version), mib.string((*o, 2, 0), g.router_id),
            mib.integer((*o, 3, 1, 0), 2 if len(server) == 16 else 1 if g.smtp_server else 2),
            mib.string((*o, 3, 2, 0), server), mib.gauge((*o, 3, 3, 0), g.smtp_timeout),
            mib.gauge((*o, 3, 6, 0), g.smtp_port), mib.truth((*o, 3, 7, 0), g.email_faults),
            mib.integer((*o, 3, 8, 0), _tri(g.smtp_alert)),
            mib.integer((*o, 3, 9, 0), _tri(g.smtp_alert_vrrp)),
            mib.integer((*o, 3, 10, 0), _tri(g.smtp_alert_checker)),
            mib.truth((*o, 4, 0), g.traps), mib.truth((*o, 5, 0), True),
            mib.truth((*o, 6, 0), g.lvs_flush), mib.truth((*o, 7, 0), True),
            mib.string((*o, 8, 0), g.namespace), mib.truth((*o, 9, 0), g.dbus),
            mib.truth((*o, 10, 0), False), mib.truth((*o, 11, 0), g.lvs_flush_on_stop)]
    if g.email_from:
        rows.append(mib.string((*o, 3, 4, 0), g.email_from))
    for i, e in enumerate(g.emails, 1):
        rows.append(mib.string((*o, 3, 5, 1, 2, i), e))
    return rows


def vrrp_rows(instances: list[InstanceFacts], groups: list[GroupFacts]) -> list[VarBind]:
    """KEEPALIVED-MIB::vrrp: sync groups, their members, instances and their addresses."""
    rows: list[VarBind] = []
    for g in groups:
        e = (*K_VRRP, 1, 1)
        rows += [mib.string((*e, 2, g.index), g.name),
                 mib.integer((*e, 3, g.index), STATE.get(g.state, 4)),
                 mib.truth((*e, 4, g.index), g.smtp_alert),
                 mib.truth((*e, 5, g.index), g.notify_exec),
                 mib.truth((*e, 10, g.index), g.tracking_weight)]
        names = {i.index: i.name for i in instances}
        rows += [mib.string((*K_VRRP, 2, 1, 2, g.index, m), names[m])
                 for m in g.members if m in names]
    for i in instances:
        e, x = (*K_VRRP, 3, 1), i.index
        adv = round(i.advert_int * (100 if i.version == 3 else 1))
        rows += [mib.string((*e, 2, x), i.name), mib.gauge((*e, 3, x), i.vrid),
                 mib.integer((*e, 4, x), STATE.get(i.state, 4)),
                 mib.integer((*e, 5, x), STATE.get(i.initial_state, 4)),
                 mib.integer((*e, 6, x), STATE.get(i.wanted_state, 4)),
                 mib.integer((*e, 7, x), i.base_priority), mib.integer((*e, 8, x), i.priority),
                 mib.integer((*e, 9, x), 1 if i.holding and i.addresses else 2),
                 mib.string((*e, 10, x), i.interface),
                 mib.truth((*e, 11, x), not i.track_primary),   # sic, keepalived 2.2.7
                 mib.gauge((*e, 12, x), adv), mib.truth((*e, 13, x), i.preempt),
                 mib.gauge((*e, 14, x), int(i.preempt_delay)),
                 mib.integer((*e, 15, x), AUTH.get(i.auth_type, 0)),
                 mib.truth((*e, 16, x), False),
                 mib.gauge((*e, 19, x), int(i.garp_delay)), mib.truth((*e, 20, x), i.smtp_alert),
                 mib.truth((*e, 21, x), i.notify_exec),
                 mib.integer((*e, 27, x), (1 if i.accept else 2) if i.version == 3 else 0),
                 mib.truth((*e, 28, x), False), mib.truth((*e, 29, x), False),
                 mib.integer((*e, 30, x), i.version), mib.truth((*e, 33, x), False),
                 mib.integer((*e, 34, x), 1 if i.family == 4 else 2),
                 mib.string((*e, 35, x), mib.address_bytes(i.mcast))]
        if i.sync_group:
            rows.append(mib.string((*e, 18, x), i.sync_group))
        rows += [mib.string((*e, col, x), cmd) for col, cmd in i.scripts.items()]
        for n, a in enumerate(i.addresses, 1):
            ae, ax_ = (*K_VRRP, 6, 1), (x, n)
            v4 = ":" not in a.address
            rows += [mib.integer((*ae, 2, *ax_), 1 if v4 else 2),
                     mib.string((*ae, 3, *ax_), mib.address_bytes(a.address)),
                     mib.gauge((*ae, 5, *ax_), a.prefix),
                     mib.integer((*ae, 6, *ax_), SCOPE.get(a.scope or "global", 14)),
                     mib.integer((*ae, 7, *ax_), a.ifindex), mib.string((*ae, 8, *ax_), a.dev),
                     mib.integer((*ae, 10, *ax_), 1 if a.set else 2),
                     mib.truth((*ae, 11, *ax_), v4)]
            if v4:
                rows.append(mib.string((*ae, 4, *ax_), mib.address_bytes(a.brd or "0.0.0.0")))
    return rows


def rfc2787_rows(instances: list[InstanceFacts], traps: bool) -> list[VarBind]:
    """VRRP-MIB (RFC 2787): the VRRPv2 IPv4 instances."""
    o = VRRP_MIB
    rows = [mib.integer((*o, 1, 1, 0), 2), mib.integer((*o, 1, 2, 0), 1 if traps else 2)]
    v2 = [i for i in instances if i.version == 2 and i.family == 4]
    errs = {"chk_err": 0, "vers_err": 0, "vrid_err": 0}
    for i in v2:
        for k in errs:
            errs[k] += i.stats.get(k, 0)
    rows += [mib.counter32((*o, 2, 1, 0), errs["chk_err"]),
             mib.counter32((*o, 2, 2, 0), errs["vers_err"]),
             mib.counter32((*o, 2, 3, 0), errs["vrid_err"])]
    for i in sorted(v2, key=lambda i: (i.ifindex, i.vrid)):
        e, x = (*o, 1, 3, 1), (i.ifindex, i.vrid)
        rows += [mib.string((*e, 2, *x), i.mac),
                 mib.integer((*e, 3, *x), RFC_STATE.get(i.state, 1)),
                 mib.integer((*e, 4, *x), 1), mib.integer((*e, 5, *x), i.priority),
                 mib.integer((*e, 6, *x), len(i.addresses)),
                 mib.ip_address((*e, 7, *x), "" if i.state == "MASTER" else i.master),
                 mib.ip_address((*e, 8, *x), i.primary),
                 mib.integer((*e, 9, *x), {None: 1, "PASS": 2, "AH": 3}.get(i.auth_type, 1)),
                 mib.integer((*e, 11, *x), round(i.advert_int)),
                 mib.truth((*e, 12, *x), i.preempt),
                 mib.ticks((*e, 13, *x), i.up_seconds), mib.integer((*e, 14, *x), 1),
                 mib.integer((*e, 15, *x), 1)]
        rows += [mib.integer((*o, 1, 4, 1, 2, *x, *mib.address_bytes(a.address)), 1)
                 for a in i.addresses]
        s, se = i.stats, (*o, 2, 4, 1)
        for col, key in enumerate(("become_master", "advert_rcvd", "advert_interval_err",
                                   "auth_failure", "ip_ttl_err", "pri_zero_rcvd",
                                   "pri_zero_sent", "invalid_type_rcvd", "addr_list_err",
                                   "invalid_authtype", "authtype_mismatch", "packet_len_err"), 1):
            rows.append(mib.counter32((*se, col, *x), s.get(key, 0)))
    return rows


def rfc6527_rows(instances: list[InstanceFacts]) -> list[VarBind]:
    """VRRPV3-MIB (RFC 6527): every instance, VRRPv2 ones included (as keepalived)."""
    o = VRRPV3_MIB
    rows: list[VarBind] = []
    errs = {"chk_err": 0, "vers_err": 0, "vrid_err": 0}
    for i in instances:
        for k in errs:
            errs[k] += i.stats.get(k, 0)
    rows += [mib.counter64((*o, 1, 2, 1, 0), errs["chk_err"]),
             mib.counter64((*o, 1, 2, 2, 0), errs["vers_err"]),
             mib.counter64((*o, 1, 2, 3, 0), errs["vrid_err"]),
             mib.ticks((*o, 1, 2, 4, 0), 0)]
    for i in sorted(instances, key=lambda i: (i.ifindex, i.vrid, i.family)):
        t = 1 if i.family == 4 else 2
        e, x = (*o, 1, 1, 1, 1), (i.ifindex, i.vrid, t)
        master = i.primary if i.state == "MASTER" else i.master
        rows += [mib.string((*e, 3, *x), mib.address_bytes(master)),
                 mib.string((*e, 4, *x), mib.address_bytes(i.primary)),
                 mib.string((*e, 5, *x), i.mac),
                 mib.integer((*e, 6, *x), RFC_STATE.get(i.state, 1)),
                 mib.gauge((*e, 7, *x), i.priority),
                 mib.integer((*e, 8, *x), len(i.addresses)),
                 mib.integer((*e, 9, *x), round(i.advert_int * 100)),
                 mib.truth((*e, 10, *x), i.preempt), mib.truth((*e, 11, *x), i.accept),
                 mib.ticks((*e, 12, *x), i.up_seconds), mib.integer((*e, 13, *x), 1)]
        rows += [mib.integer((*o, 1, 1, 2, 1, 2, *x, *mib.address_bytes(a.address)), 1)
                 for a in i.addresses]
        s, se = i.stats, (*o, 1, 2, 5, 1)
        rows += [mib.counter32((*se, 1, *x), s.get("become_master", 0)),
                 mib.integer((*se, 2, *x), i.new_master_reason),
                 mib.counter64((*se, 3, *x), s.get("advert_rcvd", 0)),
                 mib.counter64((*se, 4, *x), s.get("advert_interval_err", 0)),
                 mib.counter64((*se, 5, *x), s.get("ip_ttl_err", 0)),
                 mib.integer((*se, 6, *x), 0),
                 mib.counter64((*se, 7, *x), s.get("pri_zero_rcvd", 0)),
                 mib.counter64((*se, 8, *x), s.get("pri_zero_sent", 0)),
                 mib.counter64((*se, 9, *x), s.get("invalid_type_rcvd", 0)),
                 mib.counter64((*se, 10, *x), s.get("addr_list_err", 0)),
                 mib.counter64((*se, 11, *x), s.get("packet_len_err", 0)),
                 mib.ticks((*se, 12, *x), 0), mib.gauge((*se, 13, *x), 1000)]
    return rows


# -- notifications ------------------------------------------------------------------------------
def instance_trap(i: InstanceFacts, router_id: str) -> tuple[OID, list[VarBind]]:
    """vrrpInstanceStateChange, its objects without an index (as keepalived sends them)."""
    e = (*K_VRRP, 3, 1)
    return TRAP_INSTANCE, [mib.string((*e, 2), i.name),
                           mib.integer((*e, 4), STATE.get(i.state, 4)),
                           mib.integer((*e, 5), STATE.get(i.initial_state, 4)),
                           mib.string((*K_GLOBAL, 2, 0), router_id)]


def group_trap(g: GroupFacts, router_id: str) -> tuple[OID, list[VarBind]]:
    e = (*K_VRRP, 1, 1)
    return TRAP_SYNC_GROUP, [mib.string((*e, 2), g.name),
                             mib.integer((*e, 3), STATE.get(g.state, 4)),
                             mib.string((*K_GLOBAL, 2, 0), router_id)]


def new_master_v2(i: InstanceFacts) -> tuple[OID, list[VarBind]]:
    return TRAP_NEW_MASTER_V2, [mib.ip_address((*VRRP_MIB, 1, 3, 1, 7, i.ifindex, i.vrid),
                                               i.primary)]


def new_master_v3(i: InstanceFacts) -> tuple[OID, list[VarBind]]:
    x = (i.ifindex, i.vrid, 1 if i.family == 4 else 2)
    return TRAP_NEW_MASTER_V3, [
        mib.string((*VRRPV3_MIB, 1, 1, 1, 1, 3, *x), mib.address_bytes(i.primary)),
        mib.integer((*VRRPV3_MIB, 1, 2, 5, 1, 2, *x), i.new_master_reason)]
