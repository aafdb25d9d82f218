"""One VRRP instance: RFC 5798 §6.4 plus keepalived's FAULT state and start-up rules. No I/O.

Theory of operation. `handle(event, now)` returns actions; `next_deadline()` says when to
call again with TimerExpired. Times are monotonic seconds.
  * Start: the address owner (priority 255, which `state MASTER` without a priority is)
    becomes MASTER at once; `state MASTER` otherwise waits one advert interval plus the skew
    for a better master; anything else waits Master_Down_Interval = 3 x Master_Adver_Interval
    + Skew_Time (keepalived's down_timer_adverts replaces the 3). Skew_Time is
    (256 - priority) / 256 s for v2 and (256 - priority) x Master_Adver_Interval / 256 for v3.
  * BACKUP: an advert of priority 0 sets the timer to Skew_Time; an advert from a better or
    equal master, or any advert when preemption is off (nopreempt, or within preempt_delay),
    restarts the Master_Down timer (v3 learns the master's interval); a lower one is ignored so
    the timer runs out and we preempt. The timer running out makes us MASTER.
  * MASTER: adverts every advert_int; a higher-priority advert (or an equal one from a higher
    primary address) makes us BACKUP; a lower one is answered with an advert at once unless
    lower_prio_no_advert. Becoming MASTER adds the addresses and sends gratuitous ARP/NA
    (garp_master_repeat now, again after garp_master_delay, then every garp_master_refresh).
  * FAULT (interface down, tracked object failed): a MASTER sends priority 0 and releases; no
    adverts, no timers; when the fault clears the instance starts again as from BACKUP.
  * Shutdown: a MASTER sends priority 0 (so backups take over after Skew_Time) and releases.
  * Resume (the VRRP child was restarted): an instance that was MASTER less than one
    Master_Down_Interval ago keeps its addresses and advertises at once.
"""
from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from keepalived_py.vrrp.packet import Advert

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
OWNER = 255


class State(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


@dataclass(frozen=True, slots=True)
class Params:
    name: str
    vrid: int
    priority: int                   # configured (base) priority
    advert_int: float
    version: int = 2
    initial_master: bool = False    # `state MASTER`
    nopreempt: bool = False
    preempt_delay: float = 0.0
    down_timer_adverts: int = 3
    lower_prio_no_advert: bool = False
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1


# -- events (past tense) ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Started:
    resume_master_since: float | None = None   # last time we were MASTER (child restart)


@dataclass(frozen=True, slots=True)
class AdvertReceived:
    advert: Advert
    source: Address


@dataclass(frozen=True, slots=True)
class TimerExpired:
    pass


@dataclass(frozen=True, slots=True)
class FaultChanged:
    fault: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    priority: int                   # the new effective priority (already clamped)


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


@dataclass(frozen=True, slots=True)
class AddressLost:
    """One of our virtual addresses was deleted behind our back (keepalived: to BACKUP)."""

    address: str


Event = (Started | AdvertReceived | TimerExpired | FaultChanged | PriorityChanged | Shutdown
         | AddressLost)


# -- actions (imperative) --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class AddAddresses:
    pass


@dataclass(frozen=True, slots=True)
class RemoveAddresses:
    pass


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    count: int


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    reason: str


Action = SendAdvert | AddAddresses | RemoveAddresses | SendGratuitous | StateChanged


class Instance:
    """One VRRP instance's protocol state. Call `handle`; sleep until `next_deadline()`."""

    def __init__(self, params: Params, primary: Address | None = None) -> None:
        self.p = params
        self.primary = primary                 # our source address (tie-break)
        self.state = State.INIT
        self.priority = params.priority        # effective priority
        self.master_adver_int = params.advert_int
        self.fault = False
        self.fault_reason = ""
        self._down_at: float | None = None
        self._advert_at: float | None = None
        self._garp_at: float | None = None
        self._garp_refresh = False
        self._preempt_until = 0.0
        self.became_master_at: float | None = None
        self.last_master_advert: float | None = None
        self.stats = {"advert_rcvd": 0, "advert_sent": 0, "become_master": 0,
                      "release_master": 0, "pri_zero_rcvd": 0, "pri_zero_sent": 0}

    # -- timing ----------------------------------------------------------------------------
    def skew(self) -> float:
        if self.p.version == 3:
            return (256 - self.priority) * self.master_adver_int / 256
        return (256 - self.priority) / 256

    def master_down_interval(self) -> float:
        return self.p.down_timer_adverts * self.master_adver_int + self.skew()

    def next_deadline(self) -> float | None:
        times = [t for t in (self._down_at, self._advert_at, self._garp_at) if t is not None]
        return min(times) if times else None

    # -- transitions -----------------------------------------------------------------------
    def _to_backup(self, now: float, reason: str, down: float | None = None) -> list[Action]:
        actions: list[Action] = []
        old = self.state
        if old is State.MASTER:
            actions.append(RemoveAddresses())
            self.stats["release_master"] += 1
        self.state = State.BACKUP
        self._advert_at = self._garp_at = None
        self._down_at = now + (self.master_down_interval() if down is None else down)
        if old is not State.BACKUP:
            actions.append(StateChanged(old, State.BACKUP, reason))
            self._preempt_until = now + self.p.preempt_delay
        return actions

    def _to_master(self, now: float, reason: str, keep_addresses: bool = False) -> list[Action]:
        old = self.state
        self.state = State.MASTER
        self.master_adver_int = self.p.advert_int
        self._down_at = None
        self._advert_at = now + self.p.advert_int
        self.became_master_at = now
        self.stats["become_master"] += 1
        self.stats["advert_sent"] += 1
        # the decision's packets first: the advert, the addresses, the gratuitous ARPs
        actions: list[Action] = [SendAdvert(self.priority)]
        if not keep_addresses:
            actions.append(AddAddresses())
        actions.append(SendGratuitous(self.p.garp_master_repeat))
        actions.append(StateChanged(old, State.MASTER, reason))
        self._garp_refresh = False
        self._garp_at = now + self.p.garp_master_delay if self.p.garp_master_delay > 0 else (
            now + self.p.garp_master_refresh if self.p.garp_master_refresh > 0 else None)
        if self.p.garp_master_delay <= 0 and self.p.garp_master_refresh > 0:
            self._garp_refresh = True
        return actions

    def _to_fault(self, reason: str) -> list[Action]:
        old = self.state
        actions: list[Action] = []
        if old is State.MASTER:
            actions += [SendAdvert(0), RemoveAddresses()]
            self.stats["pri_zero_sent"] += 1
            self.stats["release_master"] += 1
        self.state = State.FAULT
        self._down_at = self._advert_at = self._garp_at = None
        if old is not State.FAULT:
            actions.append(StateChanged(old, State.FAULT, reason))
        return actions

    def _start(self, now: float, resume_since: float | None) -> list[Action]:
        if self.fault:
            return self._to_fault(self.fault_reason or "fault at start")
        if resume_since is not None and now - resume_since < self.master_down_interval():
            return self._to_master(now, "resumed after restart", keep_addresses=True)
        if self.p.priority == OWNER and self.priority == OWNER:
            return self._to_master(now, "address owner")
        if self.p.initial_master:
            return self._to_backup(now, "initial state MASTER",
                                   down=self.p.advert_int + self.skew())
        return self._to_backup(now, "start")

    # -- the event handler -------------------------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Action]:
        if isinstance(event, TimerExpired):
            return self._timer(now)
        if isinstance(event, AdvertReceived):
            return self._advert(event.advert, event.source, now)
        if isinstance(event, Started):
            return self._start(now, event.resume_master_since)
        if isinstance(event, FaultChanged):
            self.fault, self.fault_reason = event.fault, event.reason
            if event.fault:
                return self._to_fault(event.reason or "fault")
            if self.state is State.FAULT:
                self.state = State.INIT
                return self._start(now, None)
            return []
        if isinstance(event, PriorityChanged):
            self.priority = event.priority       # the skew follows at the next timer reset
            return []
        if isinstance(event, AddressLost):
            if self.state is State.MASTER:
                return self._to_backup(now, f"virtual address {event.address} deleted")
            return []
        if isinstance(event, Shutdown):
            old = self.state
            actions: list[Action] = []
            if old is State.MASTER:
                actions += [SendAdvert(0), RemoveAddresses()]
                self.stats["pri_zero_sent"] += 1
            self.state = State.STOP
            self._down_at = self._advert_at = self._garp_at = None
            actions.append(StateChanged(old, State.STOP, "shutdown"))
            return actions
        return []

    def _timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.state is State.BACKUP and self._down_at is not None and now >= self._down_at:
            return self._to_master(now, "master down timer")
        if self.state is State.MASTER:
            if self._advert_at is not None and now >= self._advert_at:
                actions.append(SendAdvert(self.priority))
                self.stats["advert_sent"] += 1
                # schedule from the deadline, not from `now`, so adverts do not drift
                self._advert_at += self.p.advert_int
                if self._advert_at <= now:
                    self._advert_at = now + self.p.advert_int
            if self._garp_at is not None and now >= self._garp_at:
                if self._garp_refresh:
                    actions.append(SendGratuitous(self.p.garp_master_refresh_repeat))
                else:
                    actions.append(SendGratuitous(self.p.garp_master_repeat))
                if self.p.garp_master_refresh > 0:
                    self._garp_refresh = True
                    self._garp_at = now + self.p.garp_master_refresh
                else:
                    self._garp_at = None
        return actions

    def _better(self, adv: Advert, source: Address) -> bool:
        """Is the sender's claim better than ours (RFC 5798 §6.4.3)?"""
        if adv.priority != self.priority:
            return adv.priority > self.priority
        if self.primary is None:
            return True
        try:
            return int(source) > int(self.primary)
        except TypeError:
            return False

    def _advert(self, adv: Advert, source: Address, now: float) -> list[Action]:
        self.stats["advert_rcvd"] += 1
        if adv.priority == 0:
            self.stats["pri_zero_rcvd"] += 1
        if self.state is State.BACKUP:
            if adv.priority == 0:
                self._down_at = now + self.skew()
                return []
            if self.p.version == 3:
                self.master_adver_int = adv.interval      # RFC 5798 §6.4.2: learn it
            preempting = not self.p.nopreempt and now >= self._preempt_until
            if not preempting or adv.priority >= self.priority:
                self.last_master_advert = now
                self._down_at = now + self.master_down_interval()
            return []
        if self.state is State.MASTER:
            if adv.priority == 0:
                actions: list[Action] = [SendAdvert(self.priority)]
                self.stats["advert_sent"] += 1
                self._advert_at = now + self.p.advert_int
                return actions
            if self._better(adv, source):
                if self.p.version == 3:
                    self.master_adver_int = adv.interval
                self.last_master_advert = now
                return self._to_backup(now, f"higher priority advert from {source}")
            if not self.p.lower_prio_no_advert:
                self.stats["advert_sent"] += 1
                self._advert_at = now + self.p.advert_int
                return [SendAdvert(self.priority)]
        return []
