"""A backup's takeover on its down timer: the advert on the wire first, everything else after
(issue 16.4: failover overhead above the protocol bound).

When a BACKUP's Master_Down timer (or the Skew_Time after a priority-0 advert) runs out and
`Instance.takeover_due` says it takes over, its pre-built advert (daemon._prebuild) is sent
before the state machine even runs; then the machine makes the transition, and the rest of
its actions - the address add (a netlink round trip), the gratuitous ARP/NA, the log lines,
notify scripts, FIFO lines and state file of StateChanged - are held.

Many instances usually lose the same master together: their down timers run out within a
millisecond or two of each other (the master's adverts arrived in one burst). So the first
takeover of such a burst looks at which other BACKUPs' down timers run out within HORIZON, and
the held work of every instance is carried out once they have all sent their adverts (or
their time has passed: an advert that arrived meanwhile keeps one a BACKUP): first the
address changes and gratuitous packets of every instance, in the order they took over, then
their announcements, back to back until another BACKUP's down timer is about to run out:
then the loop gets a turn, the timer fires (the next burst's adverts) and the rest follows. With one instance nothing
is held beyond the timer's own wake-up.

Held actions are carried out before anything else is applied to the same instance
(daemon._apply calls `before`), so that a quick return to BACKUP cannot remove addresses
that the held AddAddresses would then put back.
"""
from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from keepalived_py.vrrp import machine as m

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

HORIZON = 0.003          # other down timers this close to the first one join its burst
LATE = 0.0005            # an expected takeover that has not come by its deadline + this: go
MAX_WAITS = 100          # loop turns _timeout waits for an expected timer that is due
YIELD_BEFORE = 0.0005    # held work stops for the loop this long before a down timer runs out


class Takeovers:
    def __init__(self, daemon: VrrpDaemon) -> None:
        self.d = daemon
        self.held: list[tuple[Runner, list[m.Action]]] = []   # the burst being gathered
        self.expect: set[str] = set()
        self._handle: asyncio.Handle | None = None
        self._waits = 0
        self.queue: deque[tuple[Runner, list[m.Action]]] = deque()   # ready, one a loop turn
        self.pending: Counter[str] = Counter()       # held or queued items per instance
        self._pumping = False

    def fire(self, r: Runner, priority: int, now: float) -> None:
        """`r`'s down timer ran out and it takes over (takeover_due gave `priority`)."""
        d = self.d
        d._send_advert(r, priority)                     # first, pre-built
        actions = r.fsm.handle(m.TimerExpired(), now)
        if actions and actions[0] == m.SendAdvert(priority):
            actions = actions[1:]
        else:                                           # (takeover_due promised it: never)
            actions = [a for a in actions if not isinstance(a, m.SendAdvert)]
        d._arm(r)                                       # its next advert
        first = not self.held
        self.held.append((r, actions))
        self.pending[r.name] += 1
        self.expect.discard(r.name)
        if first:
            self._burst(r, now)
        if not self.expect:
            self._go_after_wakeup()

    def _burst(self, r: Runner, now: float) -> None:
        """The other BACKUPs whose down timers run out within HORIZON of this one."""
        d = self.d
        timers, until = d.timers, now + HORIZON
        if timers is None:
            return
        latest = 0.0
        for other in d.runners.values():
            if other is r or other.fsm.state is not m.State.BACKUP:
                continue
            when = timers.deadline(other.name)
            if when is not None and when <= until and other.fsm.takeover_due(when) is not None:
                self.expect.add(other.name)
                latest = max(latest, when)
        if self.expect and d.loop is not None:
            self._waits = 0
            self._handle = d.loop.call_at(latest + LATE, self._timeout)

    def _timeout(self) -> None:
        """The last expected down timer is past: go, unless one of them is due and still to
        fire (a busy host: its timer's turn comes after this callback's) - then one more
        loop turn (a bounded number)."""
        self._handle = None
        d = self.d
        if d.loop is not None and self._waits < MAX_WAITS:
            now = d.loop.time()
            for name in self.expect:
                r = d.runners.get(name)
                if r is not None and r.fsm.takeover_due(now) is not None:
                    self._waits += 1
                    self._handle = d.loop.call_soon(self._timeout)
                    return
        self.flush()

    def _go_after_wakeup(self) -> None:
        timers = self.d.timers
        if timers is not None:
            timers.defer(self.flush)         # after every instance due in this wake-up
        else:
            self.flush()

    def flush(self) -> None:
        """The burst is complete: its instances' address changes and gratuitous packets, in
        the order they took over, then their announcements (_pump)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        held, self.held = self.held, []
        self.expect.clear()
        if not held:
            return
        for r, actions in held:
            packets = [a for a in actions if not isinstance(a, m.StateChanged)]
            if packets:
                self.queue.append((r, packets))
                self.pending[r.name] += 1
        for r, actions in held:
            changes = [a for a in actions if isinstance(a, m.StateChanged)]
            if changes:
                self.queue.append((r, changes))
                self.pending[r.name] += 1
            self._done(r)                    # (the held entry itself)
        if not self._pumping:                # (else the running chain gets to them)
            self._pump()

    def _pump(self) -> None:
        """Queued items back to back, until a down timer is about to run out: then the loop
        gets a turn (the timer fires), and the rest follows."""
        self._pumping = False
        d = self.d
        if not self.queue or d.loop is None:
            return
        soon = self._next_takeover() - YIELD_BEFORE
        while self.queue:
            r, actions = self.queue.popleft()
            self._run(r, actions)
            if self.queue and d.loop.time() >= soon:
                self._pumping = True
                d.loop.call_soon(self._pump)
                return

    def _next_takeover(self) -> float:
        """When the next BACKUP's down timer runs out (inf: none)."""
        timers = self.d.timers
        if timers is None:
            return math.inf
        best = math.inf
        for r in self.d.runners.values():
            if r.fsm.state is m.State.BACKUP:
                when = timers.deadline(r.name)
                if when is not None and when < best:
                    best = when
        return best

    def _run(self, r: Runner, actions: list[m.Action]) -> None:
        self._done(r)
        if self.d.runners.get(r.name) is r:   # (removed meanwhile: its removal announced it)
            self.d._apply(r, actions)

    def _done(self, r: Runner) -> None:
        left = self.pending[r.name] - 1
        if left > 0:
            self.pending[r.name] = left
        else:
            del self.pending[r.name]

    def before(self, r: Runner) -> None:
        """Something else is about to be applied to `r`: its held and queued actions first."""
        if r.name not in self.pending:
            return
        if any(x is r for x, _ in self.held):
            self.flush()
        mine = [item for item in self.queue if item[0] is r]
        if not mine:
            return
        self.queue = deque(item for item in self.queue if item[0] is not r)
        for item in mine:
            self._run(*item)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.held.clear()
        self.queue.clear()
        self.pending.clear()
        self.expect.clear()
