"""One VRRP instance: RFC 5798 §6 plus keepalived 2.2.7's FAULT state and rules. No I/O.

Theory of operation. The edge calls `handle(event, now)` with a monotonic `now` and carries
out the returned actions in order (the advert first, then addresses, then gratuitous
ARP/NA, then logs/notifies from StateChanged); it calls again with TimerExpired at
`next_deadline()`. The core never reads a clock and never raises on peer input.

Times (keepalived's integer microsecond arithmetic, in float seconds):
  Skew_Time            v2: (256 - priority) / 256 s
                       v3: (256 - priority) x Master_Adver_Interval / 256
  Master_Down_Interval down_timer_adverts (3) x Master_Adver_Interval + Skew_Time

Start (keepalived's vrrp_init_state). `state MASTER` (or priority 255) with priority 255:
MASTER at once. `state MASTER` otherwise: BACKUP waiting one Master_Adver_Interval plus the
minimum skew (1/256 of a second or of the interval) for a better master, then MASTER.
Anything else: BACKUP for Master_Down_Interval. A faulty instance starts in FAULT. A clean
start releases the addresses (RemoveAddresses) as keepalived does.
`Resumed(was_master, at)` replaces Started after a child restart: an instance that was
MASTER less than one Master_Down_Interval ago becomes MASTER at once, keeps its addresses
(AddAddresses is idempotent at the edge) and advertises at once; otherwise it starts as above.

BACKUP (vrrp_state_backup). Priority 0: the down timer becomes Skew_Time. An advert of
higher or equal priority, or any advert with nopreempt, or any advert while a preempt_delay
runs (it starts at the first lower-priority advert) restarts the down timer; v3 learns the
master's interval. A lower-priority advert when we may preempt is ignored: the timer keeps
running and we take over when it expires.

MASTER (vrrp_state_master_rx/tx). Adverts every advert_int. Priority 0 received: advert at
once. Lower priority (or equal from a lower address): advert at once unless
lower_prio_no_advert, plus garp_lower_prio_repeat gratuitous packets now and again after
garp_lower_prio_delay. Higher priority (or equal from a higher primary address): BACKUP,
releasing the addresses (higher_prio_send_advert first sends one advert). Becoming MASTER
sends the advert, adds the addresses and sends garp_master_repeat gratuitous packets; a
second burst follows after garp_master_delay; every garp_master_refresh (checked at advert
times, as keepalived) garp_master_refresh_repeat more.

FAULT (interface down, tracked object failed). A MASTER sends priority 0 and releases. No
timers. When the fault clears, the address owner (state MASTER) becomes MASTER at once and
others become BACKUP for Master_Down_Interval.

Shutdown: a MASTER sends priority 0 (backups take over after their Skew_Time) and releases;
every instance ends in STOP (the edge runs notify_stop).

Sync groups (sync_group.py): `wantstate` is keepalived's "state we would be in disregarding
the group"; with `sync` set, a BACKUP whose timer expires asks `sync.can_goto_master(self)`
and otherwise waits another Master_Down_Interval; the group moves members with
`force_master` / `force_backup` / FaultChanged.

A deleted virtual address (AddressLost) makes a MASTER send priority 0, release and retry
after Skew_Time (keepalived's set_vrrp_backup).

Bad adverts (wrong version, TTL, auth, interval, address list, checksum form, unicast peer)
are counted in `stats` under keepalived's counter names and returned as RejectAdvert; the
state and timers do not change. Decode failures at the edge can be counted with
AdvertInvalid. Adverts in INIT, FAULT and STOP are ignored, as keepalived ignores them.

Receive-queue overflow (issue 15): a flood can fill the backup's socket queue so that the kernel
drops the master's adverts with the rest. `ReceiveLost` (the kernel's SO_RXQ_OVFL count rose)
marks the silence as unproven: the next expiry of the down timer waits one more advert interval,
once (`WarnReceiveLoss`), then the master is declared down. An accepted master advert clears
the mark; without any loss the timer is RFC 5798's.
"""
from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Protocol

from keepalived_py.config.model import VrrpState
from keepalived_py.record import Record
from keepalived_py.vrrp import stats as vrrp_stats
from keepalived_py.vrrp.packet import (
    AUTH_AH,
    AUTH_LEN,
    AUTH_NONE,
    AUTH_PASS,
    DROP_COUNTERS,
    MCAST4,
    MCAST6,
    PRIO_OWNER,
    PRIO_STOP,
    VRRP_TTL,
    Address,
    Advert,
    ChecksumForm,
    Reason,
)

if TYPE_CHECKING:
    from keepalived_py.config.model import (
        GlobalDefs,
        VirtualAddress,
        VirtualRoute,
        VirtualRule,
        VrrpInstance,
    )

OWNER = PRIO_OWNER
_EPS = 1e-6                     # a timer fired this early still counts (loop clock granularity)
_MAX_LOWER_GARPS = 16           # pending garp_lower_prio_delay bursts kept at most
_MIN_INTERVAL = 0.01            # one centisecond, the v3 wire resolution

#: every per-instance counter, in keepalived's dump order, then ours (vrrp/stats.py)
STATS_KEYS = vrrp_stats.KEYS
assert set(DROP_COUNTERS) <= set(STATS_KEYS)


#: the one VRRP state enum: the configuration's initial `state` and the machine's state
State = VrrpState


class Peer(Record, kw_only=False):
    """A unicast peer and the TTL range accepted from it (check_unicast_src)."""

    address: Address
    min_ttl: int = 0
    max_ttl: int = 255


def lower_prio_garp(g: GlobalDefs | None, inst: VrrpInstance) -> tuple[float, int]:
    """The effective garp_lower_prio_delay and _repeat: the instance's, else global_defs'
    vrrp_garp_lower_prio_*, else global_defs' vrrp_garp_master_* (keepalived 2.2.7's
    vrrp_complete_instance; its dump shows these), else the instance's garp_master_*."""
    delay, rep = inst.garp_lower_prio_delay, inst.garp_lower_prio_repeat
    if g is not None:
        if delay is None:
            delay = g.vrrp_garp_lower_prio_delay
            if delay is None:
                delay = g.vrrp_garp_master_delay
        if rep is None:
            rep = g.vrrp_garp_lower_prio_repeat
            if rep is None:
                rep = g.vrrp_garp_master_repeat
    return (inst.garp_master_delay if delay is None else delay,
            inst.garp_master_repeat if rep is None else rep)


class Params(Record):
    """What the state machine needs of a vrrp_instance. Build with `from_config`."""

    name: str = "VI"
    vrid: int
    priority: int = 100                 # configured (base) priority, 1..255
    advert_int: float = 1.0             # seconds
    version: int = 2
    family: int = 4
    primary: Address | None = None      # our source address: the equal-priority tie-break
    addresses: tuple[Address, ...] = ()  # virtual_ipaddress: sent in and checked against adverts
    initial_master: bool | None = None  # `state MASTER`; None: derived, priority 255 -> MASTER
    nopreempt: bool = False
    preempt_delay: float = 0.0
    down_timer_adverts: int = 3
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0    # 0: off
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay: float = 5.0
    garp_lower_prio_repeat: int = 5
    auth_type: int = AUTH_NONE          # v2: packet.AUTH_NONE / AUTH_PASS / AUTH_AH
    auth_pass: bytes = b""              # as on the wire: 8 bytes, NUL padded
    unicast: bool = False
    unicast_peers: tuple[Peer, ...] = ()
    check_unicast_src: bool = False
    skip_check_adv_addr: bool = False
    checksum: ChecksumForm = ChecksumForm.STANDARD   # what we send (and accept)
    checksum_auto: bool = True          # accept and switch to OLD_UNICAST when a peer uses it
    mcast_group: Address | None = None  # None: 224.0.0.18 / ff02::12
    # what becoming MASTER adds and leaving it removes (carried by the actions): the
    # virtual_ipaddress and virtual_ipaddress_excluded lines, virtual_routes, virtual_rules
    vips: tuple[VirtualAddress, ...] = ()
    routes: tuple[VirtualRoute, ...] = ()
    rules: tuple[VirtualRule, ...] = ()

    @property
    def owner(self) -> bool:
        return self.priority == OWNER

    @property
    def wants_master(self) -> bool:
        """keepalived's initial wantstate MASTER: `state MASTER`, or priority 255 without
        a state."""
        return self.owner if self.initial_master is None else self.initial_master

    @property
    def group(self) -> Address:
        if self.mcast_group is not None:
            return self.mcast_group
        return MCAST4 if self.family == 4 else MCAST6

    def advert(self, priority: int | None = None, checksum: ChecksumForm | None = None
               ) -> Advert:
        """Our advert (for packet.encode / packet.AdvertCache) at `priority`."""
        return Advert(self.version, self.vrid, self.priority if priority is None else priority,
                      self.addresses, self.advert_int,
                      self.auth_type if self.version == 2 else AUTH_NONE,
                      self.auth_pass if self.version == 2 and self.auth_type == AUTH_PASS else b"",
                      self.checksum if checksum is None else checksum)

    @classmethod
    def from_config(cls, inst: VrrpInstance, primary: Address | None = None,
                    global_defs: GlobalDefs | None = None) -> Params:
        """The parameters of a configured instance. `primary` is the source address the edge
        found (unicast_src_ip / mcast_src_ip win over it); `global_defs` supplies the
        garp_lower_prio_* defaults keepalived takes from vrrp_garp_lower_prio_* (else the
        instance's garp_master_* values)."""

        fam = inst.family
        src = inst.unicast_src_ip or inst.mcast_src_ip or primary
        if src is not None and src.version != fam:
            src = None
        lp_delay, lp_rep = lower_prio_garp(global_defs, inst)
        if inst.strict_mode:
            lp_delay, lp_rep = 0.0, 0
        auth = {"PASS": AUTH_PASS, "AH": AUTH_AH}.get(inst.auth_type or "", AUTH_NONE) \
            if inst.version == 2 else AUTH_NONE    # AH's ICV key: the edge (vrrp/ah.py)
        password = (inst.auth_pass or "").encode()[:AUTH_LEN].ljust(AUTH_LEN, b"\0") \
            if auth == AUTH_PASS else b""
        if inst.version == 3 and inst.v3_checksum_as_v2:
            form = ChecksumForm.AS_V2
        elif inst.version == 3 and fam == 4 and inst.old_unicast_checksum and inst.unicast_peer:
            form = ChecksumForm.OLD_UNICAST
        else:
            form = ChecksumForm.STANDARD
        mcast = inst.mcast_dst_ip
        if mcast is None and global_defs is not None:
            mcast = global_defs.vrrp_mcast_group4 if fam == 4 else global_defs.vrrp_mcast_group6
        return cls(
            name=inst.name, vrid=inst.virtual_router_id, priority=inst.priority,
            advert_int=max(_MIN_INTERVAL, inst.advert_int), version=inst.version, family=fam,
            primary=src,
            addresses=tuple(a.address.ip for a in inst.virtual_ipaddress
                            if a.address.version == fam),
            # build.py resolves the state: explicit, else MASTER exactly for priority 255
            initial_master=inst.state is VrrpState.MASTER,
            nopreempt=inst.nopreempt, preempt_delay=inst.preempt_delay,
            down_timer_adverts=max(1, inst.down_timer_adverts),
            lower_prio_no_advert=inst.lower_prio_no_advert,
            higher_prio_send_advert=inst.higher_prio_send_advert,
            garp_master_delay=inst.garp_master_delay, garp_master_repeat=inst.garp_master_repeat,
            garp_master_refresh=inst.garp_master_refresh,
            garp_master_refresh_repeat=inst.garp_master_refresh_repeat,
            garp_lower_prio_delay=lp_delay, garp_lower_prio_repeat=lp_rep,
            auth_type=auth, auth_pass=password,
            unicast=bool(inst.unicast_peer),
            unicast_peers=tuple(Peer(p.address, 0 if p.min_ttl is None else p.min_ttl,
                                     255 if p.max_ttl is None else p.max_ttl)
                                for p in inst.unicast_peer),
            check_unicast_src=inst.check_unicast_src or bool(
                global_defs is not None and global_defs.vrrp_check_unicast_src),
            skip_check_adv_addr=inst.skip_check_adv_addr or bool(
                global_defs is not None and global_defs.vrrp_skip_check_adv_addr),
            checksum=form, checksum_auto=True, mcast_group=mcast,
            vips=inst.virtual_ipaddress + inst.virtual_ipaddress_excluded,
            routes=inst.virtual_routes, rules=inst.virtual_rules)


# -- events (past tense) ---------------------------------------------------------------------
class Started(Record, kw_only=False):
    """The instance starts (keepalived's vrrp_init_state). `resume_master_since` is the older
    spelling of Resumed(True, at). `hold_until`: global_defs vrrp_startup_delay - no
    Master_Down timer expires before this monotonic time (keepalived's vrrp_delayed_start_time)."""

    resume_master_since: float | None = None
    hold_until: float = 0.0


class Resumed(Record, kw_only=False):
    """Start after a child restart: `was_master` at monotonic time `at` (CLOCK_MONOTONIC is
    system-wide, so the previous process's loop.time() is comparable)."""

    was_master: bool
    at: float


class AdvertReceived(Record, kw_only=False):
    """A decoded advert for our VRID. `ttl`: the IPv4 TTL / IPv6 hop limit if known;
    `multicast`: whether it was sent to a multicast group, if known."""

    advert: Advert
    source: Address
    ttl: int | None = None
    multicast: bool | None = None


class AdvertInvalid(Record, kw_only=False):
    """A packet for our VRID that packet.decode rejected: counted, nothing else."""

    reason: Reason
    detail: str = ""


class TimerExpired(Record, kw_only=False):
    pass


class ReceiveLost(Record, kw_only=False):
    """The kernel dropped `count` packets on the instance's receive socket (its queue was
    full: SO_RXQ_OVFL). A master's advert may have been among them."""

    count: int


class FaultChanged(Record, kw_only=False):
    fault: bool
    reason: str = ""
    # a fault of the configuration (keepalived's num_config_faults, e.g. unicast_fault_no_peer
    # without peers), not of a tracker: an instance starting in it still wants BACKUP/MASTER
    config: bool = False


class PriorityChanged(Record, kw_only=False):
    """The new effective priority (priority.effective_priority: clamped 1..254, owner 255)."""

    effective: int


class PrimaryChanged(Record, kw_only=False):
    """Our source address changed (the equal-priority tie-break and the v3 pseudo-header)."""

    address: Address | None


class AddressLost(Record, kw_only=False):
    """One of our virtual addresses was deleted behind our back (keepalived: to BACKUP)."""

    address: str


class Reconfigured(Record, kw_only=False):
    """Reload with changed parameters: state and timers are kept. A MASTER holding its
    addresses removes the lines the reload dropped and adds (and announces) the new ones.
    `sync`: the instance's sync group after the reload (None: none)."""

    params: Params
    sync: SyncVeto | None = None


class StatsReset(Record, kw_only=False):
    """Zero the counters (SIGUSR2 with a stats-clear request)."""


class Shutdown(Record, kw_only=False):
    pass


Event = (Started | Resumed | AdvertReceived | AdvertInvalid | TimerExpired | FaultChanged
         | PriorityChanged | PrimaryChanged | AddressLost | Reconfigured | StatsReset | Shutdown
         | ReceiveLost)


# -- actions (imperative) --------------------------------------------------------------------
class SendAdvert(Record, kw_only=False):
    priority: int


class AddAddresses(Record, kw_only=False):
    """Add these virtual addresses, routes and rules (EEXIST means done). `whole`: they are
    all of the instance's (its firewall entry follows), not a reload's additions."""

    addresses: tuple[VirtualAddress, ...] = ()
    routes: tuple[VirtualRoute, ...] = ()
    rules: tuple[VirtualRule, ...] = ()
    whole: bool = True


class RemoveAddresses(Record, kw_only=False):
    """Remove these virtual addresses, routes and rules (ENOENT/EADDRNOTAVAIL mean done)."""

    addresses: tuple[VirtualAddress, ...] = ()
    routes: tuple[VirtualRoute, ...] = ()
    rules: tuple[VirtualRule, ...] = ()
    whole: bool = True


class SendGratuitous(Record, kw_only=False):
    """One burst: `count` gratuitous ARPs/unsolicited NAs per address, spaced by
    vrrp_garp_interval / vrrp_gna_interval. `why`: master, master_delay, refresh,
    lower_prio, lower_prio_delay."""

    count: int
    why: str = "master"
    addresses: tuple[VirtualAddress, ...] = ()    # the lines to announce


class StateChanged(Record, kw_only=False):
    old: State
    new: State
    reason: str


class RejectAdvert(Record, kw_only=False):
    """An advert dropped by the instance's checks (already counted in `stats`)."""

    reason: Reason
    detail: str
    source: Address


class NotifyLowerPriority(Record, kw_only=False):
    """A MASTER heard a lower-priority advert (keepalived's notify_master_rx_lower_pri)."""

    source: Address
    priority: int


class WarnReceiveLoss(Record, kw_only=False):
    """Report that the master down timer ran out after the kernel dropped packets on our
    socket, and was given `extended_by` seconds more (once) instead of declaring the master
    down: its adverts may have been among the dropped packets."""

    dropped: int
    extended_by: float


class UseChecksum(Record, kw_only=False):
    """Send with this checksum form from now on (a peer uses keepalived <= 1.3.6's v3
    unicast checksum): rebuild the advert cache."""

    form: ChecksumForm


Action = (SendAdvert | AddAddresses | RemoveAddresses | SendGratuitous | StateChanged
          | RejectAdvert | NotifyLowerPriority | UseChecksum | WarnReceiveLoss)


def _compare(a: Address, b: Address | None) -> int:
    """keepalived's inet_sockaddrcmp: >0 when `a` is the higher address, 0 when unknown."""
    if b is None or a.version != b.version:
        return 0
    x, y = int(a), int(b)
    return (x > y) - (x < y)


class SyncVeto(Protocol):
    """A sync group's say on a member's wish to become MASTER (sync_group.SyncGroup)."""

    def can_goto_master(self, inst: Instance) -> bool: ...


class _Drop(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


class _Timers(Record, kw_only=False, frozen=False):
    down: float | None = None           # BACKUP: Master_Down timer
    advert: float | None = None         # MASTER: next advert
    garp_delay: float | None = None     # MASTER: second garp burst
    garp_refresh: float | None = None   # MASTER: refresh burst, checked at advert times
    lower_garps: list[float] = field(default_factory=list)   # MASTER: garp_lower_prio_delay


class Instance:
    """One VRRP instance's protocol state. Call `handle`; sleep until `next_deadline()`."""

    def __init__(self, params: Params, primary: Address | None = None,
                 sync: SyncVeto | None = None) -> None:
        self.p = params
        self.primary: Address | None = primary if primary is not None else params.primary
        self.state = State.INIT
        self.priority = params.priority          # effective priority
        self.master_adver_int = params.advert_int
        self.fault = False
        self.fault_reason = ""
        self.tx_checksum = params.checksum        # what we send; may switch to OLD_UNICAST
        self.stats: dict[str, int] = vrrp_stats.zeroed()
        self.master_source: Address | None = None    # last master heard (BACKUP)
        # the last router whose advert held us in BACKUP (a master, not a lower priority)
        self.master_heard: Address | None = None
        self.master_priority = 0
        self.last_master_advert: float | None = None  # when we last accepted a master's advert
        self.became_master_at: float | None = None
        self._t = _Timers()
        self._preempt_until: float | None = None  # keepalived's preempt_time (None: unset)
        self._owner_conflict = False              # another owner seen: we run at 254
        # keepalived's wantstate: the state we would be in disregarding any sync group
        self.wantstate = State.MASTER if params.wants_master else State.BACKUP
        self.sync: SyncVeto | None = sync      # the sync group's veto (Reconfigured changes it)
        # keepalived keeps ms_down_timer as a variable: an owner that starts MASTER sets it to
        # 1 us (vrrp_init_state) and one leaving FAULT to advert + skew (try_up_instance);
        # keepalived.data prints it (None: the computed Master_Down_Interval)
        self._down_timer_set: float | None = None
        self._config_fault = False
        # receive-queue overflow (BACKUP): packets lost by the kernel since the master's last
        # accepted advert, and whether this silence has had its one extension already
        self.rx_lost = 0
        self._down_extended = False
        self.down_extensions = 0
        # our addresses are (believed) on the interfaces: set by the AddAddresses we return,
        # cleared by the RemoveAddresses (the edge asks this, it keeps no flag of its own)
        self.holding = False
        # the fast path's key (advert_fast): the last advert that restarted the down timer
        # in BACKUP with nothing else to do, its source, TTL and multicast flag, and the
        # Master_Down_Interval it led to; None after any other event
        self._fast: tuple[Advert, Address, int | None, bool | None, float] | None = None

    # -- the actions that carry this instance's data -----------------------------------------
    def _add(self) -> AddAddresses:
        self.holding = True
        p = self.p
        return AddAddresses(p.vips, p.routes, p.rules)

    def _remove(self) -> RemoveAddresses:
        self.holding = False
        p = self.p
        return RemoveAddresses(p.vips, p.routes, p.rules)

    def release(self) -> RemoveAddresses:
        """The action that releases everything of ours, whatever we believe we hold (a clean
        start carries it out before Started, as keepalived: nothing of a previous run stays)."""
        p = self.p
        return RemoveAddresses(p.vips, p.routes, p.rules)

    def _garp(self, count: int, why: str) -> SendGratuitous:
        return SendGratuitous(count, why, self.p.vips)

    # -- timing ----------------------------------------------------------------------------
    _hold_until = 0.0       # vrrp_startup_delay: Started.hold_until (set once, at the start)

    def skew(self, priority: int | None = None) -> float:
        """Skew_Time (RFC 5798 §6.1) in keepalived's integer microseconds."""
        pri = 256 - (self.priority if priority is None else priority)
        if self.p.version == 3:
            centis = round(self.master_adver_int * 100)
            return (pri * centis * 625 // 16) / 1e6
        return (pri * 1_000_000 // 256) / 1e6

    @property
    def down_extended(self) -> bool:
        """The down timer has had its one extension for a receive-queue loss (ReceiveLost)."""
        return self._down_extended

    def master_down_interval(self) -> float:
        return self.p.down_timer_adverts * self.master_adver_int + self.skew()

    def down_timer_shown(self) -> float:
        """keepalived's ms_down_timer as its data dump prints it (seconds)."""
        if self._down_timer_set is not None:
            return self._down_timer_set
        return self.master_down_interval()

    def next_deadline(self) -> float | None:
        t = self._t
        best: float | None = None
        for d in (t.down, t.advert, t.garp_delay):
            if d is not None and (best is None or d < best):
                best = d
        if t.lower_garps and (best is None or t.lower_garps[0] < best):
            best = t.lower_garps[0]
        return best

    @property
    def fast_armed(self) -> bool:
        """The last event was an advert that only restarted the down timer: the same advert
        again would too (advert_fast)."""
        return self._fast is not None

    def advert_fast(self, advert: Advert, source: Address, ttl: int | None = None,
                    multicast: bool | None = None, now: float = 0.0) -> float | None:
        """The common case of a backup, without building an event: the same advert (the same
        decoded object: packet.decode memoises) from the same master, TTL and cast as the
        last one, which restarted the down timer and returned no action. Then handle() would
        count it, restart the timer and return []: done here, returning the new deadline
        (next_deadline()). None: not that case, call handle(AdvertReceived(...)).
        tests/unit/vrrp/test_machine.py checks this equals the slow path on random traffic."""
        f = self._fast
        if f is None or f[0] is not advert or f[2] != ttl or f[3] is not multicast \
                or (f[1] is not source and f[1] != source):
            return None
        self.stats["advert_rcvd"] += 1
        self.last_master_advert = now
        self.rx_lost, self._down_extended = 0, False
        self._t.down = deadline = now + f[4]
        return deadline

    def timer_fast(self, now: float) -> tuple[int, float] | None:
        """A master's common timer: only its advert is due (no gratuitous burst, refresh or
        lower-priority repeat). Then handle(TimerExpired()) would return [SendAdvert(priority)]
        and move the advert timer: done here, returning (priority, next_deadline()). None:
        not that case, call handle(TimerExpired()). Tested equal in test_machine.py."""
        if self.state is not State.MASTER:
            return None
        t = self._t
        due = now + _EPS
        if t.advert is None or t.advert > due or (t.garp_delay is not None and t.garp_delay
                                                  <= due) or \
                (t.garp_refresh is not None and t.garp_refresh <= due) or \
                (t.lower_garps and t.lower_garps[0] <= due):
            return None
        self._fast = None
        self.stats["advert_sent"] += 1
        t.advert += self.p.advert_int
        if t.advert <= due:
            t.advert = now + self.p.advert_int
        return self.priority, self.next_deadline()  # type: ignore[return-value]

    # -- the event handler -------------------------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply one event at monotonic time `now`; returns the actions, in order."""
        self._fast = None
        kind = type(event)
        if kind is TimerExpired:
            return self._timer(now)
        if kind is AdvertReceived:
            assert isinstance(event, AdvertReceived)
            return self._advert(event, now)
        if kind is Started:
            assert isinstance(event, Started)
            if event.resume_master_since is not None:
                return self._resume(True, event.resume_master_since, now)
            self._hold_until = event.hold_until
            actions = self._start(now)
            if self.state is State.BACKUP and now < self._hold_until and self.p.owner \
                    and self.p.wants_master:
                self._down_timer_set = 1e-6     # keepalived: the owner waits the delay too,
                self._t.down = self._hold_until + 1e-6      # then takes over at once
            return actions
        if kind is Resumed:
            assert isinstance(event, Resumed)
            return self._resume(event.was_master, event.at, now)
        if kind is AdvertInvalid:
            assert isinstance(event, AdvertInvalid)
            self.stats[event.reason.counter] = self.stats.get(event.reason.counter, 0) + 1
            return []
        if kind is FaultChanged:
            assert isinstance(event, FaultChanged)
            self._config_fault = event.fault and event.config
            return self._fault(event.fault, event.reason, now)
        if kind is PriorityChanged:
            assert isinstance(event, PriorityChanged)
            return self._priority(event.effective, now)
        if kind is PrimaryChanged:
            assert isinstance(event, PrimaryChanged)
            self.primary = event.address
            return []
        if kind is AddressLost:
            assert isinstance(event, AddressLost)
            return self._address_lost(event.address, now)
        if kind is Reconfigured:
            assert isinstance(event, Reconfigured)
            self.sync = event.sync
            return self._reconfigure(event.params, now)
        if kind is StatsReset:
            for k in self.stats:
                self.stats[k] = 0
            return []
        if kind is Shutdown:
            return self._shutdown()
        if kind is ReceiveLost:
            assert isinstance(event, ReceiveLost)
            if self.state is State.BACKUP:
                self.rx_lost += event.count
            return []
        return []

    # -- start -----------------------------------------------------------------------------
    def _start(self, now: float) -> list[Action]:
        if self.state is not State.INIT:
            return []
        self.master_adver_int = self.p.advert_int
        if self.fault:
            # keepalived's vrrp_init_state: an instance its trackers hold in FAULT wants FAULT
            self.state = State.FAULT
            if not self._config_fault:
                self.wantstate = State.FAULT
            return [self._remove(),
                    StateChanged(State.INIT, State.FAULT, self.fault_reason or "fault")]
        if self.p.wants_master and self.p.owner and self.priority == OWNER and (
                self.sync is None or self.sync.can_goto_master(self)) and now >= self._hold_until:
            self._down_timer_set = 1e-6
            return self._become_master(now, "address owner")
        if self.p.wants_master and self.sync is not None and not self.sync.can_goto_master(self):
            # keepalived: a member wanting MASTER in a group that is BACKUP allows one
            # interval to pass (SKEW_MIN) to be sure there is no other master
            down = self.master_adver_int + self.skew(255)
            reason = "initial state MASTER"
        else:
            # keepalived 2.2.7's vrrp_init_state: `state MASTER` below priority 255 waits a
            # whole Master_Down_Interval like any backup (checked with the binary)
            down = self.master_down_interval()
            reason = "initial state MASTER" if self.p.wants_master else "init"
        self.state = State.BACKUP
        self._t.down = now + down
        return [self._remove(), StateChanged(State.INIT, State.BACKUP, reason)]

    def _resume(self, was_master: bool, at: float, now: float) -> list[Action]:
        if self.state is not State.INIT:
            return []
        self.master_adver_int = self.p.advert_int
        if was_master and not self.fault and now - at < self.master_down_interval():
            self.state = self.wantstate = State.MASTER
            self.became_master_at = now
            self.stats["advert_sent"] += 1
            self._schedule_master(now, garp_delay=False)
            return [SendAdvert(self.priority), self._add(),
                    StateChanged(State.INIT, State.MASTER, "resumed after restart")]
        return self._start(now)

    # -- transitions -------------------------------------------------------------------------
    def _schedule_master(self, now: float, garp_delay: bool = True) -> None:
        p, t = self.p, self._t
        t.down = None
        t.advert = now + p.advert_int
        t.garp_delay = now + p.garp_master_delay if garp_delay and p.garp_master_delay > 0 \
            and p.garp_master_repeat > 0 else None
        t.garp_refresh = now + p.garp_master_refresh if p.garp_master_refresh > 0 else None
        t.lower_garps.clear()

    def _become_master(self, now: float, reason: str) -> list[Action]:
        old = self.state
        self.rx_lost, self._down_extended = 0, False
        self.state = self.wantstate = State.MASTER
        self.master_adver_int = self.p.advert_int
        self.became_master_at = now
        self._preempt_until = None
        self.stats["become_master"] += 1
        self.stats["advert_sent"] += 1
        self._schedule_master(now)
        # the old master must drop the addresses before our gratuitous ARPs: advert first
        actions: list[Action] = [SendAdvert(self.priority), self._add()]
        if self.p.garp_master_repeat > 0:
            actions.append(self._garp(self.p.garp_master_repeat, "master"))
        actions.append(StateChanged(old, State.MASTER, reason))
        return actions

    def _leave_master(self, now: float, reason: str) -> list[Action]:
        """MASTER -> BACKUP (keepalived's vrrp_state_leave_master with wantstate BACKUP)."""
        self.state = self.wantstate = State.BACKUP
        self.stats["release_master"] += 1
        self._preempt_until = None
        t = self._t
        t.advert = t.garp_delay = t.garp_refresh = None
        t.lower_garps.clear()
        t.down = now + self.master_down_interval()
        self._down_timer_set = None
        return [self._remove(), StateChanged(State.MASTER, State.BACKUP, reason)]

    def _address_lost(self, address: str, now: float) -> list[Action]:
        """keepalived's set_vrrp_backup: priority 0, release, and a quick try to come back
        after Skew_Time (re-adding the addresses) unless a better router answers."""
        if self.state is not State.MASTER:
            return []
        self.stats["pri_zero_sent"] += 1
        actions: list[Action] = [SendAdvert(PRIO_STOP)]
        actions += self._leave_master(now, f"virtual address {address} deleted")
        self._t.down = now + self.skew()
        return actions

    def _clear_timers(self) -> None:
        t = self._t
        t.down = t.advert = t.garp_delay = t.garp_refresh = None
        t.lower_garps.clear()

    def _fault(self, fault: bool, reason: str, now: float) -> list[Action]:
        self.fault = fault
        self.rx_lost, self._down_extended = 0, False
        if fault:
            self.fault_reason = reason or "fault"
            old = self.state
            if old in (State.INIT, State.STOP, State.FAULT):
                return []
            actions: list[Action] = []
            if old is State.MASTER:
                actions += [SendAdvert(PRIO_STOP), self._remove()]
                self.stats["pri_zero_sent"] += 1
                self.stats["release_master"] += 1
            self.state = self.wantstate = State.FAULT
            self._clear_timers()
            actions.append(StateChanged(old, State.FAULT, self.fault_reason))
            return actions
        self.fault_reason = ""
        if self.state is not State.FAULT:
            return []
        # keepalived's try_up_instance / vrrp_state_leave_fault
        self.master_adver_int = self.p.advert_int
        self._preempt_until = None
        self._down_timer_set = None
        if self.p.wants_master and self.p.owner:
            self._down_timer_set = self.master_adver_int + self.skew()
        if self.p.wants_master and self.p.owner and self.priority == OWNER and (
                self.sync is None or self.sync.can_goto_master(self)) and now >= self._hold_until:
            return self._become_master(now, reason or "fault cleared")
        self.wantstate = State.MASTER if self.p.wants_master and self.p.owner else State.BACKUP
        self.state = State.BACKUP
        self._t.down = now + self.master_down_interval()
        return [StateChanged(State.FAULT, State.BACKUP, reason or "fault cleared")]

    def _priority(self, effective: int, now: float) -> list[Action]:
        if self.p.owner and not self._owner_conflict:
            return []                            # the address owner never changes
        effective = max(1, min(OWNER - 1, effective))
        if effective == self.priority:
            return []
        old_down = self.master_down_interval()
        self.priority = effective
        if self.state is State.BACKUP and self._t.down is not None:
            # keepalived moves the running down timer by the change in Master_Down_Interval
            self._t.down += self.master_down_interval() - old_down
            if self._t.down <= now + _EPS:
                return self._timer(now)         # the shortened timer has already run out
        return []

    def _reconfigure(self, params: Params, now: float) -> list[Action]:
        old = self.p
        self.p = params
        if params.primary is not None and params.primary != old.primary:
            self.primary = params.primary
        if params.checksum is not old.checksum:
            self.tx_checksum = params.checksum
        if params.priority != old.priority:
            self._owner_conflict = False
            if params.owner or old.owner:
                self.priority = params.priority
        if self.state is State.MASTER:
            self.master_adver_int = params.advert_int
            if params.advert_int != old.advert_int and self._t.advert is not None:
                self._t.advert = min(self._t.advert, now + params.advert_int)
        if not self.holding:
            return []
        # a MASTER keeps what stays, drops what went, adds and announces what came
        actions: list[Action] = []
        gone = tuple(a for a in old.vips if a not in params.vips)
        added = tuple(a for a in params.vips if a not in old.vips)
        if gone:
            actions.append(RemoveAddresses(gone, whole=False))
        if added:
            actions.append(AddAddresses(added, whole=False))
            if params.garp_master_repeat > 0:
                actions.append(SendGratuitous(params.garp_master_repeat, "reconfigured", added))
        return actions

    # -- a sync group moving its members ----------------------------------------------------
    def force_master(self, now: float, reason: str) -> list[Action]:
        """Become MASTER now (a sync group member went MASTER): vrrp_sync_master."""
        self._fast = None
        if self.state not in (State.BACKUP, State.FAULT, State.INIT) or self.fault:
            return []
        self.wantstate = State.MASTER
        return self._become_master(now, reason)

    def force_backup(self, now: float, reason: str) -> list[Action]:
        """Go to BACKUP now (a sync group member went BACKUP): vrrp_sync_backup."""
        self._fast = None
        self.wantstate = State.BACKUP
        if self.state is State.MASTER:
            return self._leave_master(now, reason)
        if self.state is State.FAULT and not self.fault:
            self.master_adver_int = self.p.advert_int
            self.state = State.BACKUP
            self._t.down = now + self.master_down_interval()
            return [StateChanged(State.FAULT, State.BACKUP, reason)]
        return []

    def _shutdown(self) -> list[Action]:
        old = self.state
        if old is State.STOP:
            return []
        actions: list[Action] = []
        if old is State.MASTER:
            actions += [SendAdvert(PRIO_STOP), self._remove()]
            self.stats["pri_zero_sent"] += 1
        self.state = State.STOP
        self._clear_timers()
        actions.append(StateChanged(old, State.STOP, "shutdown"))
        return actions

    # -- timers ------------------------------------------------------------------------------
    def _timer(self, now: float) -> list[Action]:
        t = self._t
        due = now + _EPS
        if self.state is State.BACKUP:
            if t.down is not None and t.down <= due and now < self._hold_until:
                # vrrp_startup_delay: keepalived's down timers run from the end of the delay
                t.down = self._hold_until + self.down_timer_shown()
                return []
            if t.down is not None and t.down <= due:
                if self.rx_lost and not self._down_extended:
                    # The kernel dropped packets on our socket since the master's last advert
                    # (a flood filled the receive queue): its adverts may be among them, so
                    # this silence proves nothing yet. One more advert interval, once; a
                    # master really gone is then detected within Master_Down_Interval + one
                    # interval. Nothing dropped: RFC 5798 as it is.
                    lost, self.rx_lost = self.rx_lost, 0
                    self._down_extended = True
                    self.down_extensions += 1
                    t.down = now + self.master_adver_int
                    return [WarnReceiveLoss(lost, self.master_adver_int)]
                self.wantstate = State.MASTER
                if self.sync is not None and not self.sync.can_goto_master(self):
                    # held in BACKUP until every member of the group wants MASTER
                    t.down = now + self.master_down_interval()
                    return []
                return self._become_master(now, "master down timer")
            return []
        if self.state is not State.MASTER:
            return []
        p = self.p
        actions: list[Action] = []
        if t.advert is not None and t.advert <= due:
            actions.append(SendAdvert(self.priority))
            self.stats["advert_sent"] += 1
            # from the deadline, not from `now`, so adverts do not drift
            t.advert += p.advert_int
            if t.advert <= due:
                t.advert = now + p.advert_int
            if t.garp_refresh is not None and t.garp_refresh <= due:
                if p.garp_master_refresh_repeat > 0:
                    actions.append(self._garp(p.garp_master_refresh_repeat, "refresh"))
                t.garp_refresh = now + p.garp_master_refresh
        if t.garp_delay is not None and t.garp_delay <= due:
            t.garp_delay = None
            actions.append(self._garp(p.garp_master_repeat, "master_delay"))
        while t.lower_garps and t.lower_garps[0] <= due:
            t.lower_garps.pop(0)
            if p.garp_lower_prio_repeat > 0:
                actions.append(self._garp(p.garp_lower_prio_repeat, "lower_prio_delay"))
        return actions

    # -- adverts -----------------------------------------------------------------------------
    def _check(self, ev: AdvertReceived, check_addr: bool) -> list[Action]:
        """keepalived's vrrp_check_packet, for what decode could not know. Raises _Drop."""
        adv, p = ev.advert, self.p
        if not p.unicast and ev.ttl is not None and ev.ttl != VRRP_TTL:
            raise _Drop(Reason.BAD_TTL, f"TTL {ev.ttl}, expected {VRRP_TTL}")
        if adv.version != p.version:
            raise _Drop(Reason.BAD_VERSION, f"version {adv.version}, expected {p.version}")
        if adv.vrid != p.vrid:
            raise _Drop(Reason.BAD_VRID, f"VRID {adv.vrid}, expected {p.vrid}")
        if p.version == 2:
            if adv.auth_type != p.auth_type:
                raise _Drop(Reason.AUTH_TYPE_MISMATCH,
                            f"auth type {adv.auth_type}, expected {p.auth_type}")
            if p.auth_type == AUTH_PASS and \
                    adv.auth_data.ljust(AUTH_LEN, b"\0")[:AUTH_LEN] != p.auth_pass:
                raise _Drop(Reason.AUTH_FAILURE, "invalid password")
            if adv.interval != float(int(p.advert_int)):     # whole seconds on the wire
                raise _Drop(Reason.BAD_INTERVAL,
                            f"advert interval {adv.interval:g}s, ours {p.advert_int:g}s")
        actions: list[Action] = []
        form = adv.checksum_form
        if p.version == 3 and form is not ChecksumForm.STANDARD and form is not self.tx_checksum:
            if form is ChecksumForm.OLD_UNICAST and p.unicast and p.checksum_auto \
                    and self.tx_checksum is ChecksumForm.STANDARD:
                self.tx_checksum = ChecksumForm.OLD_UNICAST
                actions.append(UseChecksum(ChecksumForm.OLD_UNICAST))
            elif not (form is ChecksumForm.OLD_UNICAST and p.checksum is ChecksumForm.OLD_UNICAST):
                raise _Drop(Reason.BAD_CHECKSUM, f"{form.value} checksum not accepted")
        if check_addr and len(adv.addresses) != len(p.addresses):
            raise _Drop(Reason.BAD_ADDR_COUNT,
                        f"{len(adv.addresses)} addresses, expected {len(p.addresses)}")
        if ev.multicast is not None and ev.multicast == p.unicast:
            raise _Drop(Reason.BAD_CAST, "multicast advert on a unicast instance" if ev.multicast
                        else "unicast advert on a multicast instance")
        self.stats["advert_rcvd"] += 1
        if check_addr:
            if adv.addresses != p.addresses and not set(p.addresses) <= set(adv.addresses):
                missing = next(a for a in p.addresses if a not in adv.addresses)
                raise _Drop(Reason.BAD_ADDR_LIST, f"{missing} not in the advert")
            if p.unicast and p.check_unicast_src:
                peer = next((x for x in p.unicast_peers if x.address == ev.source), None)
                if peer is None:
                    raise _Drop(Reason.UNKNOWN_PEER, f"{ev.source} is not a unicast peer")
                if ev.ttl is not None and not peer.min_ttl <= ev.ttl <= peer.max_ttl:
                    raise _Drop(Reason.BAD_TTL,
                                f"TTL {ev.ttl} not in {peer.min_ttl}-{peer.max_ttl}")
        if adv.priority == PRIO_STOP:
            self.stats["pri_zero_rcvd"] += 1
        return actions

    def _advert(self, ev: AdvertReceived, now: float) -> list[Action]:
        if self.state is State.BACKUP:
            check_addr = not self.p.skip_check_adv_addr or ev.source != self.master_source
        elif self.state is State.MASTER:
            check_addr = True
        else:
            return []                 # INIT, FAULT, STOP: keepalived ignores the packet
        try:
            actions = self._check(ev, check_addr)
        except _Drop as d:
            self.stats[d.reason.counter] = self.stats.get(d.reason.counter, 0) + 1
            return [RejectAdvert(d.reason, d.detail, ev.source)]
        if self.state is State.BACKUP:
            self._backup_rx(ev, now)
            if actions or self.p.skip_check_adv_addr:
                self._fast = None       # UseChecksum once; skip_check_adv_addr: the check
            return actions              # depends on master_source (set just now)
        return actions + self._master_rx(ev, now)

    def _backup_rx(self, ev: AdvertReceived, now: float) -> None:
        adv, p = ev.advert, self.p
        if adv.priority == PRIO_STOP:
            self._t.down = now + self.skew()
            self.rx_lost, self._down_extended = 0, True    # the master said it is leaving
            return
        delaying = p.preempt_delay > 0 and (self._preempt_until is None
                                            or self._preempt_until > now)
        if p.nopreempt or adv.priority >= self.priority or delaying:
            self.wantstate = State.BACKUP
            if p.version == 3:
                self.master_adver_int = max(_MIN_INTERVAL, adv.interval)   # RFC 5798 §6.4.2
            down = self.master_down_interval()
            self._t.down = now + down
            self.rx_lost, self._down_extended = 0, False
            self.master_source = self.master_heard = ev.source
            self.master_priority = adv.priority
            self.last_master_advert = now
            if p.preempt_delay > 0:
                if adv.priority >= self.priority:
                    self._preempt_until = None
                elif self._preempt_until is None:
                    self._preempt_until = now + p.preempt_delay
            else:
                t = self._t
                if t.advert is None and t.garp_delay is None and not t.lower_garps:
                    self._fast = (adv, ev.source, ev.ttl, ev.multicast, down)
            return
        # a lower priority and we may preempt: ignored, the down timer keeps running
        self.master_source = ev.source

    def _master_rx(self, ev: AdvertReceived, now: float) -> list[Action]:
        adv, p = ev.advert, self.p
        cmp = _compare(ev.source, self.primary)
        actions: list[Action] = []
        if adv.priority == PRIO_STOP or (p.higher_prio_send_advert and (
                adv.priority > self.priority or (adv.priority == self.priority and cmp > 0))):
            actions.append(SendAdvert(self.priority))
            self.stats["advert_sent"] += 1
            if not p.lower_prio_no_advert:
                self._t.advert = now + p.advert_int
            if adv.priority == PRIO_STOP:
                return actions
        if adv.priority == self.priority and cmp != 0 and self.priority == OWNER:
            # two address owners: keepalived reports a configuration error and steps down
            self._owner_conflict = True
            self.priority = OWNER - 1
        if adv.priority < self.priority or (adv.priority == self.priority and cmp < 0):
            if not p.lower_prio_no_advert:
                actions.append(SendAdvert(self.priority))
                self.stats["advert_sent"] += 1
                self._t.advert = now + p.advert_int
            if p.garp_lower_prio_repeat > 0:
                actions.append(self._garp(p.garp_lower_prio_repeat, "lower_prio"))
                if p.garp_lower_prio_delay > 0 and len(self._t.lower_garps) < _MAX_LOWER_GARPS:
                    self._t.lower_garps.append(now + p.garp_lower_prio_delay)
                    self._t.lower_garps.sort()
            actions.append(NotifyLowerPriority(ev.source, adv.priority))
            return actions
        if adv.priority > self.priority or (adv.priority == self.priority and cmp > 0):
            if p.version == 3:
                self.master_adver_int = max(_MIN_INTERVAL, adv.interval)
            self.master_source = ev.source
            self.master_priority = adv.priority
            self.last_master_advert = now
            why = "higher priority" if adv.priority > self.priority else \
                "equal priority, higher address"
            return actions + self._leave_master(now, f"{why} advert from {ev.source}")
        return actions
