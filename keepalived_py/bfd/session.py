"""BFD sessions in asynchronous mode, RFC 5880 §6, as keepalived 2.2.7 runs them. Pure.

Theory of operation. A `Session` holds the state variables of RFC 5880 §6.8.1 for one
`bfd_instance` and three timers, all deadlines on the caller's monotonic clock:
  * transmit: the next periodic Control packet, `tx_interval` minus a 0-25 % jitter (at most
    90 % of it when the detect multiplier is 1, §6.8.7); none while Down in `passive` mode;
  * detect: Up or Init without a valid packet for the Detection Time (the remote multiplier
    times max(our required min RX, its desired min TX), §6.8.4) -> Down, diag "Control
    Detection Time Expired";
  * reset: a Down session forgets its peer (your discriminator, remote state) one Detection
    Time after going Down, as keepalived's bfd_reset_thread does.
While not Up we ask to send no faster than `idle_tx` (at least 1 s, §6.8.3); on going Up with
a faster `min_tx` we start a Poll Sequence (§6.5) and take the faster interval once the peer
answers with Final. The three-way handshake is §6.8.6's table: Down + peer Down -> Init,
Down + peer Init -> Up, Init + peer Init/Up -> Up, Up + peer Down -> Down; a peer AdminDown
takes us Down ("Neighbor Signaled Session Down") without reporting a failure (§6.8.16).

`SessionTable` demultiplexes received datagrams (your discriminator, or for your-discriminator
0 the neighbour/source addresses, §6.8.6), applies keepalived's TTL check (GTSM, RFC 5881 §5,
with `max_hops`) and counts every dropped packet by `Reason`; a dropped packet never touches a
session. Events in: `Started`, `ControlReceived`, `TimerExpired`. Actions out: `SendControl`
(to the session's neighbour), `StateChanged` (log it; `report` says whether keepalived tells
the VRRP/checker processes), `Dropped` (log and count).
"""
from __future__ import annotations

import random
from dataclasses import field

from keepalived_py.bfd.packet import (
    Control,
    DecodeError,
    Diag,
    Reason,
    State,
    decode,
    ttl_ok,
)
from keepalived_py.config.bfd import BfdInstance, IPAddress
from keepalived_py.record import Record

US = 1e-6


# -- events ---------------------------------------------------------------------------------
class Started(Record, kw_only=False):
    pass


class ControlReceived(Record, kw_only=False):
    packet: Control


class TimerExpired(Record, kw_only=False):
    pass


Event = Started | ControlReceived | TimerExpired


# -- actions --------------------------------------------------------------------------------
class SendControl(Record, kw_only=False):
    session: str
    packet: Control


class StateChanged(Record, kw_only=False):
    session: str
    old: State
    new: State
    diag: Diag
    remote_diag: Diag
    report: bool                 # an Up / Down event for the VRRP and checker processes
    detect_time: int             # us, when it happened
    silent_for: float | None = None   # s since the last valid packet (a Detection Time expiry)


class Dropped(Record, kw_only=False):
    reason: Reason
    detail: str
    source: str


Action = SendControl | StateChanged | Dropped


class Session(Record, kw_only=False, frozen=False):
    cfg: BfdInstance
    local_discr: int
    rand: random.Random = field(default_factory=random.Random, repr=False)
    state: State = State.DOWN
    remote_state: State = State.DOWN
    remote_discr: int = 0
    local_diag: Diag = Diag.NO_DIAG
    remote_diag: Diag = Diag.NO_DIAG
    remote_min_tx: int = 0           # us
    remote_min_rx: int = 0           # us
    remote_mult: int = 0
    remote_demand: bool = False
    poll: bool = False
    final: bool = False
    tx_interval: int = 0             # us, ours
    remote_tx_interval: int = 0      # us, the peer's (what we expect)
    detect_time: int = 0             # us, ours (remote mult x remote tx interval)
    remote_detect_time: int = 0      # us, the peer's (our mult x our tx interval)
    last_seen: float | None = None
    tx_due: float | None = None
    detect_due: float | None = None
    reset_due: float | None = None
    ups: int = 0
    downs: int = 0

    def __post_init__(self) -> None:
        self.tx_interval = self.cfg.idle_tx_us

    @property
    def name(self) -> str:
        return self.cfg.name

    def next_deadline(self) -> float | None:
        due = [t for t in (self.tx_due, self.detect_due, self.reset_due) if t is not None]
        return min(due) if due else None

    # -- input --------------------------------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        if isinstance(event, Started):
            if not self.cfg.passive:
                self.tx_due = now
        elif isinstance(event, ControlReceived):
            self._receive(event.packet, now, out)
        else:
            self._timers(now, out)
        return out

    def reconfigure(self, cfg: BfdInstance, now: float) -> None:
        """A reload changed the instance: keep the session, start a Poll Sequence when the
        timers changed (keepalived's bfd_complete_init)."""
        old = self.cfg
        self.cfg = cfg
        if (old.min_rx, old.min_tx) != (cfg.min_rx, cfg.min_tx) and not self.final:
            self.poll = True
        if cfg.passive and self.state is State.DOWN:
            self.tx_due = None
        elif self.tx_due is None and not cfg.passive:
            self.tx_due = now

    def _timers(self, now: float, out: list[Action]) -> None:
        if self.detect_due is not None and now >= self.detect_due:
            self.detect_due = None
            self.remote_discr = 0                    # §6.8.1 bfd.RemoteDiscr
            self._down(Diag.EXPIRED, now, out)
        if self.reset_due is not None and now >= self.reset_due:
            self.reset_due = None
            self._reset()
        if self.tx_due is not None and now >= self.tx_due:
            out.append(self._send())
            self._schedule_tx(now)

    def _receive(self, p: Control, now: float, out: list[Action]) -> None:
        old_tx = self.tx_interval
        self.remote_discr = p.my_discr
        self.remote_state = p.state
        self.remote_diag = p.diag
        self.remote_min_rx = p.required_min_rx
        self.remote_min_tx = p.desired_min_tx
        self.remote_demand = p.demand
        self.remote_mult = p.detect_mult
        if p.final:
            self.poll = False                        # §6.5 the Poll Sequence ends
        if self.state is not State.UP or p.poll or p.final:
            if self.remote_state is State.UP and self.state in (State.INIT, State.UP):
                self.tx_interval = max(self.cfg.min_tx_us, self.remote_min_rx)
            else:
                self.tx_interval = max(self.cfg.idle_tx_us, self.remote_min_rx)
            self.remote_tx_interval = max(self.cfg.min_rx_us, self.remote_min_tx)
        self.detect_time = self.remote_mult * self.remote_tx_interval     # §6.8.4
        self.remote_detect_time = self.cfg.multiplier * self.tx_interval
        if self.tx_interval < old_tx and self.tx_due is not None:
            self._schedule_tx(now)
        # §6.8.6 the state table
        if self.remote_state is State.ADMINDOWN:
            if self.state is not State.DOWN:
                self._down(Diag.NBR_SIGNALLED_DOWN, now, out)
        elif self.state is State.DOWN:
            if self.remote_state is State.DOWN:
                self._init(now, out)
            elif self.remote_state is State.INIT:
                self._up(now, out)
        elif self.state is State.INIT:
            if self.remote_state in (State.INIT, State.UP):
                self._up(now, out)
        elif self.state is State.UP and self.remote_state is State.DOWN:
            self._down(Diag.NBR_SIGNALLED_DOWN, now, out)
        both_up = self.state is State.UP and self.remote_state is State.UP
        if self.remote_demand and both_up:
            self.tx_due = None                       # §6.6 demand mode: the peer polls us
        elif self.tx_due is None and not (self.cfg.passive and self.state is State.DOWN):
            self._schedule_tx(now)
        if p.poll:                                   # §6.5 answer a Poll at once with Final
            self.final = True
            out.append(self._send())
        self.last_seen = now
        if self.state in (State.INIT, State.UP):
            self.detect_due = now + self.detect_time * US

    # -- transitions --------------------------------------------------------------------
    def _change(self, new: State, diag: Diag, now: float, out: list[Action], report: bool) -> None:
        old = self.state
        self.state = new
        self.local_diag = diag
        silent = now - self.last_seen if diag is Diag.EXPIRED and self.last_seen is not None \
            else None
        out.append(StateChanged(self.name, old, new, diag, self.remote_diag, report,
                                self.detect_time, silent))

    def _down(self, diag: Diag, now: float, out: list[Action]) -> None:
        was_up = self.state is State.UP
        self._change(State.DOWN, diag, now, out,
                     report=was_up and self.remote_state is not State.ADMINDOWN)
        if was_up:
            self.downs += 1
        self.reset_due = now + self.detect_time * US
        if self.cfg.passive:
            self.tx_due = None
        self.tx_interval = max(self.cfg.idle_tx_us, self.remote_min_rx)       # §6.8.3
        self.detect_due = None

    def _rise(self, now: float) -> None:
        self.reset_due = None
        if self.detect_due is None:
            self.detect_due = now + self.detect_time * US

    def _up(self, now: float, out: list[Action]) -> None:
        self._change(State.UP, Diag.NO_DIAG, now, out, report=True)
        self.ups += 1
        self._rise(now)
        if self.cfg.idle_tx_us != self.cfg.min_tx_us and not self.final:
            self.poll = True                         # §6.8.3 a faster rate needs a Poll

    def _init(self, now: float, out: list[Action]) -> None:
        self._change(State.INIT, Diag.NO_DIAG, now, out, report=False)
        self._rise(now)
        if self.cfg.passive and self.tx_due is None:
            self._schedule_tx(now)

    def _reset(self) -> None:
        self.remote_state = State.DOWN
        self.remote_discr = 0
        self.remote_diag = Diag.NO_DIAG
        self.remote_demand = False
        self.poll = self.final = False
        self.tx_interval = max(self.cfg.idle_tx_us, self.remote_min_rx)

    # -- output -------------------------------------------------------------------------
    def packet(self) -> Control:
        """The Control packet we would send now (§6.8.7)."""
        if self.poll and self.final:
            self.poll = False                        # the Final carries our new parameters
        return Control(state=self.state, my_discr=self.local_discr, your_discr=self.remote_discr,
                       diag=self.local_diag, poll=self.poll, final=self.final,
                       detect_mult=self.cfg.multiplier,
                       desired_min_tx=self.cfg.min_tx_us if self.state is State.UP
                       else self.cfg.idle_tx_us,
                       required_min_rx=self.cfg.min_rx_us)

    def _send(self) -> SendControl:
        p = self.packet()
        self.final = False
        return SendControl(self.name, p)

    def _schedule_tx(self, now: float) -> None:
        lo = 0.1 if self.cfg.multiplier == 1 else 0.0            # §6.8.7 jitter
        jitter = self.rand.uniform(lo, 0.25)
        self.tx_due = now + self.tx_interval * (1.0 - jitter) * US


class SessionTable:
    """Every session of the configuration, with the receive-side checks and drop counters."""

    def __init__(self, configs: tuple[BfdInstance, ...] = (), rand: random.Random | None = None
                 ) -> None:
        self.rand = rand or random.Random()
        self.sessions: dict[str, Session] = {}
        self.by_discr: dict[int, Session] = {}
        self.drops: dict[Reason, int] = dict.fromkeys(Reason, 0)
        self.received = 0
        for cfg in configs:
            self._add(cfg)

    def _add(self, cfg: BfdInstance) -> Session:
        used = {s.local_discr for s in self.sessions.values()}
        discr = 0
        while discr == 0 or discr in used:
            discr = self.rand.getrandbits(32)
        s = Session(cfg, discr, rand=self.rand)
        self.sessions[cfg.name] = s
        self.by_discr[discr] = s
        return s

    def _remove(self, name: str) -> None:
        s = self.sessions.pop(name)
        self.by_discr.pop(s.local_discr, None)

    def start(self, now: float) -> list[Action]:
        out: list[Action] = []
        for s in self.sessions.values():
            out += s.handle(Started(), now)
        return out

    def next_deadline(self) -> float | None:
        due = [d for s in self.sessions.values() if (d := s.next_deadline()) is not None]
        return min(due) if due else None

    def expire(self, now: float) -> list[Action]:
        out: list[Action] = []
        for s in list(self.sessions.values()):
            d = s.next_deadline()
            if d is not None and d <= now:
                out += s.handle(TimerExpired(), now)
        return out

    def _drop(self, reason: Reason, detail: str, source: IPAddress) -> list[Action]:
        self.drops[reason] += 1
        return [Dropped(reason, detail, str(source))]

    def receive(self, data: bytes, source: IPAddress, dest: IPAddress | None, ttl: int,
                now: float) -> list[Action]:
        """One datagram from `source` to `dest` received with TTL/hop limit `ttl` (0: unknown)."""
        self.received += 1
        try:
            p = decode(data)
        except DecodeError as e:
            return self._drop(e.reason, e.detail, source)
        if p.your_discr:
            s = self.by_discr.get(p.your_discr)
        else:
            s = next((x for x in self.sessions.values() if x.cfg.neighbor_ip == source and
                      (x.cfg.source_ip is None or dest is None or x.cfg.source_ip == dest)), None)
        if s is None:
            return self._drop(Reason.UNKNOWN_SESSION, f"your discriminator {p.your_discr:#x}",
                              source)
        if not ttl_ok(ttl, s.cfg.ttl, s.cfg.max_hops):
            return self._drop(Reason.BAD_TTL, f"ttl {ttl} < {s.cfg.ttl - s.cfg.max_hops}", source)
        if p.auth:
            return self._drop(Reason.AUTH, "authentication is not configured", source)
        if s.state is State.ADMINDOWN:
            return self._drop(Reason.ADMIN_DOWN, "", source)
        return s.handle(ControlReceived(p), now)

    def reconfigure(self, configs: tuple[BfdInstance, ...], now: float) -> list[Action]:
        """A reload: sessions of unchanged instances keep running untouched, changed ones
        keep their state (a Poll Sequence announces new timers), removed ones stop, new ones
        start."""
        out: list[Action] = []
        wanted = {c.name: c for c in configs}
        for name in list(self.sessions):
            if name not in wanted:
                self._remove(name)
        for cfg in configs:
            s = self.sessions.get(cfg.name)
            if s is None:
                out += self._add(cfg).handle(Started(), now)
            elif s.cfg != cfg:
                if (s.cfg.neighbor_ip, s.cfg.source_ip) != (cfg.neighbor_ip, cfg.source_ip):
                    self._remove(cfg.name)
                    out += self._add(cfg).handle(Started(), now)
                else:
                    s.reconfigure(cfg, now)
        return out
