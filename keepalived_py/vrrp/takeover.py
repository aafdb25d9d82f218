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
their announcements. With one instance nothing is held beyond the timer's own wake-up.

Held actions are carried out before anything else is applied to the same instance
(daemon._apply calls `before`), so that a quick return to BACKUP cannot remove addresses
that the held AddAddresses would then put back.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from keepalived_py.vrrp import machine as m

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

HORIZON = 0.003          # other down timers this close to the first one join its burst
LATE = 0.0005            # an expected takeover that has not come by its deadline + this: go


class Takeovers:
    def __init__(self, daemon: VrrpDaemon) -> None:
        self.d = daemon
        self.held: list[tuple[Runner, list[m.Action]]] = []
        self.expect: set[str] = set()
        self._handle: asyncio.TimerHandle | None = None

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
            self._handle = d.loop.call_at(latest + LATE, self.flush)

    def _go_after_wakeup(self) -> None:
        timers = self.d.timers
        if timers is not None:
            timers.defer(self.flush)         # after every instance due in this wake-up
        else:
            self.flush()

    def before(self, r: Runner) -> None:
        """Something else is about to be applied to `r`: its held actions go first."""
        if any(x is r for x, _ in self.held):
            self.flush()

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        held, self.held = self.held, []
        self.expect.clear()
        if not held:
            return
        d = self.d
        later: list[tuple[Runner, list[m.Action]]] = []
        for r, actions in held:
            if d.runners.get(r.name) is not r:
                continue                     # removed meanwhile (its removal announced it)
            packets = [a for a in actions if not isinstance(a, m.StateChanged)]
            if packets:
                d._apply(r, packets)
            changes: list[Any] = [a for a in actions if isinstance(a, m.StateChanged)]
            if changes:
                later.append((r, changes))
        for r, changes in later:             # then logs, scripts, FIFO lines, state file
            d._apply(r, changes)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.held.clear()
        self.expect.clear()
