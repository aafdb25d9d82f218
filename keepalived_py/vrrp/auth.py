"""auth_type AH in the VRRP child: per-instance sequence numbers and IP ids around the pure
codec of vrrp/ah.py. Edge (it sends on the instance's socket and logs).

Theory of operation. keepalived keeps one `ipsecah_counter` per instance for both ways
(vrrp/ah.py `SeqCounter`); `AhAuth` holds it with the IP id by instance name, so it survives a
reload. Received AH packets are authenticated and decoded here (`receive`) before the daemon
hands the advert on like any other; what the machine answered moves the counter as
keepalived's vrrp_state_master_rx does (`heard`); adverts are wrapped in the AH packet keepalived
builds (`send`); the state file carries the counter (`saved`) so that a respawned child
resuming mastership goes on above it (`resume`).
"""
from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import VrrpInstance
from keepalived_py.obs import slog
from keepalived_py.record import Record
from keepalived_py.vrrp import ah as ipsec_ah
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Address, Advert, DecodeError, Reason, decode

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner

log = slog.get_logger("keepalived_py.vrrp")


def uses_ah(inst: VrrpInstance) -> bool:
    return inst.auth_type == "AH" and inst.version == 2 and inst.family == 4


class AhState(Record, kw_only=False, frozen=False):
    """auth_type AH of one instance: keepalived's ipsecah_counter and IP id."""
    counter: ipsec_ah.SeqCounter = field(default_factory=ipsec_ah.SeqCounter)
    ip_id: int = 0
    rx_seq: int = 0                  # the sequence number of the advert being handled
    masterships: int = 0             # the instance's become_master count at the last advert


class AhAuth:
    """The AH state of every instance, by name (kept across reloads)."""

    def __init__(self) -> None:
        self.states: dict[str, AhState] = {}

    def state(self, name: str) -> AhState:
        st = self.states.get(name)
        if st is None:
            st = self.states[name] = AhState()
        return st

    def receive(self, r: Runner, pkt: ipsec_ah.AhPacket,
                drop: Callable[[Runner, str, str], None]) -> Advert | None:
        """Authenticate and decode an AH packet for `r`; a failure goes to `drop` (counter,
        log line) and gives None. keepalived reads nothing in INIT or FAULT."""
        if r.fsm.state not in (m.State.BACKUP, m.State.MASTER):
            return None
        st = self.state(r.name)
        try:
            ipsec_ah.check(pkt, ipsec_ah.key_of(r.cfg.auth_pass), st.counter, name=r.name,
                           unicast=bool(r.cfg.unicast_peer), backup=r.fsm.state is m.State.BACKUP)
            adv = decode(pkt.payload, family=4, src=pkt.src, dst=pkt.dst)
        except DecodeError as e:
            if e.reason is not Reason.BAD_IP_HEADER:     # AH for another protocol: silent
                drop(r, e.reason.counter,
                     e.detail if e.reason is Reason.AUTH_FAILURE else f"({r.name}) {e}")
            return None
        st.rx_seq = pkt.seq
        return adv

    def heard(self, r: Runner, actions: list[m.Action]) -> None:
        """vrrp_state_master_rx's sequence number rules, before our answer is sent."""
        st = self.state(r.name)
        for a in actions:
            if isinstance(a, m.NotifyLowerPriority):
                st.counter.master_heard_lower(st.rx_seq)
                log.info("vrrp.ah.seq_synced", instance=r.name, seq=st.counter.seq,
                         compat=f"({r.name}) IPSEC-AH : Syncing seq_num - Increment seq")
            elif isinstance(a, m.StateChanged) and a.old is m.State.MASTER:
                st.counter.master_heard_higher()

    def saved(self, r: Runner) -> dict[str, int]:
        st = self.states.get(r.name)
        return {} if st is None else {"ah_seq": st.counter.seq}

    def resume(self, r: Runner, resume: dict[str, Any] | None) -> None:
        """A respawned child resuming mastership goes on above the dead child's sequence
        numbers (its backups would drop lower ones as replays): the number saved at the last
        state write, plus twice the adverts due since then, plus a margin."""
        if not uses_ah(r.cfg) or not resume:
            return
        try:
            seq = int(resume.get("ah_seq", 0))
            elapsed = max(0.0, time.time() - float(resume.get("at") or 0))
        except (TypeError, ValueError):
            return
        due = int(elapsed / max(r.cfg.advert_int, 1.0)) + 1
        self.state(r.name).counter.seq = min(ipsec_ah.SEQ_LIMIT, seq + 2 * due + 16)

    def send(self, r: Runner, payloads: Callable[[], Iterable[tuple[bytes, Address]]]) -> None:
        """The adverts (encoded with AH's auth type by `payloads`) wrapped as keepalived does."""
        st = self.state(r.name)
        became = r.fsm.stats.get("become_master", 0)
        if r.fsm.state is m.State.MASTER and became != st.masterships:
            st.counter.became_master()          # a new mastership since the last advert
        st.masterships = became
        if not isinstance(r.src, ipaddress.IPv4Address) or r.sock is None:
            return
        seq = st.counter.next()
        st.ip_id = ipsec_ah.next_ip_id(st.ip_id)
        unicast = bool(r.cfg.unicast_peer)
        ttl = (r.cfg.unicast_ttl or 255) if unicast else 255
        key = ipsec_ah.key_of(r.cfg.auth_pass)
        for payload, dst in payloads():
            assert isinstance(dst, ipaddress.IPv4Address)
            r.sock.send(ipsec_ah.build(payload, r.src, dst, seq=seq, ip_id=st.ip_id, key=key,
                                       ttl=ttl, unicast=unicast), dst)
