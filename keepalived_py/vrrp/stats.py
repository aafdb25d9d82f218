"""The per-instance VRRP counters: one table for the state machine, the daemon's snapshot,
keepalived.stats / keepalived.json, the Prometheus metrics and `keepalived-py status`. Pure.

The first fourteen are keepalived 2.2.7's (its stats dump order); the last four are ours
(keepalived logs these drops without a counter; SNMP and the JSON dump show them). `metric`
is mehdy/keepalived-exporter's family name for the counters that exporter has; `drop` marks
the counters of refused adverts (what `status` lists as "dropped").
"""
from __future__ import annotations

from keepalived_py.record import Record


class Counter(Record, kw_only=False):
    key: str                    # the name in stats dicts, dumps and JSON
    help: str
    metric: str | None = None   # the exporter's metric family, if it has one
    drop: bool = True           # counts refused adverts (else an event: sent, became master...)


COUNTERS: tuple[Counter, ...] = (
    Counter("advert_rcvd", "Advertisements received",
            "keepalived_advertisements_received_total", drop=False),
    Counter("advert_sent", "Advertisements sent", "keepalived_advertisements_sent_total",
            drop=False),
    Counter("become_master", "Became master", "keepalived_become_master_total", drop=False),
    Counter("release_master", "Released master", "keepalived_release_master_total", drop=False),
    Counter("packet_len_err", "Packet length errors", "keepalived_packet_length_errors_total"),
    Counter("advert_interval_err", "Advertisement interval errors",
            "keepalived_advertisements_interval_errors_total"),
    Counter("ip_ttl_err", "TTL errors", "keepalived_ip_ttl_errors_total"),
    Counter("invalid_type_rcvd", "Invalid type errors", "keepalived_invalid_type_received_total"),
    Counter("addr_list_err", "Address list errors", "keepalived_address_list_errors_total"),
    Counter("invalid_authtype", "Authentication invalid",
            "keepalived_authentication_invalid_total"),
    Counter("authtype_mismatch", "Authentication mismatch",
            "keepalived_authentication_mismatch_total"),
    Counter("auth_failure", "Authentication failure", "keepalived_authentication_failure_total"),
    Counter("pri_zero_rcvd", "Priority zero received", "keepalived_priority_zero_received_total",
            drop=False),
    Counter("pri_zero_sent", "Priority zero sent", "keepalived_priority_zero_sent_total",
            drop=False),
    Counter("chk_err", "Checksum errors"),
    Counter("vers_err", "Version errors"),
    Counter("vrid_err", "VRID errors"),
    Counter("unicast_src_err", "Adverts from unknown unicast peers"),
)

#: every counter, in keepalived's dump order, then ours
KEYS: tuple[str, ...] = tuple(c.key for c in COUNTERS)
#: the counters a refused advert lands in (packet.Reason.counter), in the same order
DROP_KEYS: tuple[str, ...] = tuple(c.key for c in COUNTERS if c.drop)
#: the counters of things that happened (not drops)
EVENT_KEYS: frozenset[str] = frozenset(c.key for c in COUNTERS if not c.drop)


def zeroed() -> dict[str, int]:
    """A fresh set of counters, every key present (readers always find all of them)."""
    return dict.fromkeys(KEYS, 0)
