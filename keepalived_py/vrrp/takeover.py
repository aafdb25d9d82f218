"""A backup's takeover on its down timer: the advert on the wire first, everything else after
(issue 16.4: failover overhead above the protocol bound).

When a BACKUP's Master_Down timer (or the Skew_Time after a priority-0 advert) runs out and
`Instance.takeover_due` says it takes over, its pre-built advert (daemon._prebuild) is sent
at once, before the state machine runs: every instance due in the same timer wake-up sends
its advert first (`fire`), then their machines make the transition (`_after_wake`, deferred
to the end of the wake-up). The rest of their actions - the address add (a netlink round
trip), the gratuitous ARP/NA, the log lines, notify scripts, FIFO lines and state file of
StateChanged - are held.

Many instances usually lose the same master together: their down timers run out within a
millisecond or two of each other (the master's adverts arrived in one burst). So the held
work waits while the timer queue's next wake-up is within HORIZON (at most MAX_HOLD after
the first takeover held), then is carried out: first the address changes and gratuitous
packets of every instance, in the order they took over (the plain address adds of the
takeovers queued together in one netlink request, `_add_together`: one send instead of a
round trip each, all acknowledged before the first gratuitous packet), then their
announcements, back to back until a timer is about to wake: then the loop gets a turn (the
next takeovers' adverts) and the rest follows. With one instance nothing is held beyond the
timer's own wake-up.

Held actions are carried out before anything else is applied to the same instance
(daemon._apply calls `before`), so that a quick return to BACKUP cannot remove addresses
that the held AddAddresses would then put back.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, cast

from keepalived_py.obs import slog
from keepalived_py.vrrp import fotrace
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.firewall import firewalled

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

HORIZON = 0.002          # held work waits for a timer wake-up this close (another takeover?)
MAX_HOLD = 0.004         # ... but not longer than this after the first takeover it holds
LATE = 0.0003            # a wake-up waited for that did not take anyone over: go this after
YIELD_BEFORE = 0.0003    # held work stops for the loop this long before a timer wakes
BATCH = 64               # takeovers whose address adds go in one netlink request

log = slog.get_logger("keepalived_py.vrrp")


class Takeovers:
    def __init__(self, daemon: VrrpDaemon) -> None:
        self.d = daemon
        self.sent: list[tuple[Runner, int, float]] = []      # adverts out, machines to run
        self.held: list[tuple[Runner, list[m.Action]]] = []   # the burst being gathered
        self._since = 0.0                                     # the first held takeover
        self._handle: asyncio.Handle | None = None
        self.queue: deque[tuple[Runner, list[m.Action]]] = deque()   # ready to carry out
        self.pending: Counter[str] = Counter()       # sent, held or queued items per instance
        self._pumping = False

    def fire(self, r: Runner, priority: int, now: float) -> None:
        """`r`'s down timer ran out and it takes over (takeover_due gave `priority`)."""
        if fotrace.ON:
            fotrace.stamp("due", r.name, r.fsm.next_deadline() or 0.0,
                          r.fsm.last_master_advert or 0.0)
        self.d._send_advert(r, priority)                # first, pre-built
        if fotrace.ON:
            fotrace.stamp("sent", r.name, now)
        if not self.sent:
            timers = self.d.timers
            if timers is not None:
                timers.defer(self._after_wake)          # once every due instance has sent
        self.sent.append((r, priority, now))
        self.pending[r.name] += 1
        if self.d.timers is None:
            self._after_wake()

    def _after_wake(self) -> None:
        """The machines of the instances whose adverts went out in this wake-up."""
        d = self.d
        sent, self.sent = self.sent, []
        began = time.monotonic() if fotrace.ON else 0.0
        for r, priority, now in sent:
            self._done(r)
            if d.runners.get(r.name) is not r:
                continue
            actions = r.fsm.handle(m.TimerExpired(), now)
            if actions and actions[0] == m.SendAdvert(priority):
                actions = actions[1:]
            else:                                       # (takeover_due promised it: never)
                actions = [a for a in actions if not isinstance(a, m.SendAdvert)]
            d._arm(r)                                   # its next advert
            if not self.held and d.loop is not None:
                self._since = d.loop.time()
            self.held.append((r, actions))
            self.pending[r.name] += 1
        if fotrace.ON:
            fotrace.stamp("wake", "", len(sent), began)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        """Carry the held work out, unless a timer wakes within HORIZON (maybe the next
        takeovers: their adverts first), for MAX_HOLD at most."""
        d = self.d
        if not self.held:
            return
        if d.loop is not None and d.timers is not None:
            now = d.loop.time()
            nxt = d.timers.next_due()
            if nxt is not None and nxt <= now + HORIZON and now < self._since + MAX_HOLD:
                if self._handle is None:
                    self._handle = d.loop.call_at(min(nxt + LATE, self._since + MAX_HOLD),
                                                  self._waited)
                return
        self.flush()

    def _waited(self) -> None:
        self._handle = None
        self._maybe_flush()

    def flush(self) -> None:
        """Queue the held work: the address changes and gratuitous packets in the order the
        instances took over, then their announcements (_pump carries them out)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        held, self.held = self.held, []
        if not held:
            return
        if fotrace.ON:
            fotrace.stamp("flush", "", len(held))
        for r, actions in held:
            packets: list[m.Action] = [a for a in actions if not isinstance(a, m.StateChanged)]
            if packets:
                self.queue.append((r, packets))
                self.pending[r.name] += 1
        for r, actions in held:
            changes: list[m.Action] = [a for a in actions if isinstance(a, m.StateChanged)]
            if changes:
                self.queue.append((r, changes))
                self.pending[r.name] += 1
            self._done(r)                    # (the held entry itself)
        if not self._pumping:                # (else the running chain gets to them)
            self._pump()

    def _pump(self) -> None:
        """Queued items back to back, until a timer is about to wake: then the loop gets a
        turn (a down timer fires: its advert), and the rest follows."""
        self._pumping = False
        d = self.d
        if not self.queue or d.loop is None:
            return
        nxt = d.timers.next_due() if d.timers is not None else None
        soon = math.inf if nxt is None else nxt - YIELD_BEFORE
        while self.queue:
            r, actions = self.queue.popleft()
            if self._batchable(r, actions):
                actions = self._add_together(r, actions)
            self._run(r, actions)
            if self.queue and d.loop.time() >= soon:
                self._pumping = True
                d.loop.call_soon(self._pump)
                return

    def _batchable(self, r: Runner, actions: list[m.Action]) -> bool:
        """`actions` start with a plain address add that can join a batch (`plain`), the
        instance still running."""
        return bool(actions) and type(actions[0]) is m.AddAddresses and \
            plain(r, actions[0]) and self.d.runners.get(r.name) is r

    def _add_together(self, r: Runner, actions: list[m.Action]) -> list[m.Action]:
        """The address adds of `r` and of the takeovers queued right behind it, in one
        netlink request (acknowledged when it returns); their gratuitous packets follow, in
        the same order. Returns the rest of `r`'s actions."""
        jobs: list[tuple[Runner, m.Action]] = [(r, actions[0])]
        rest: list[tuple[Runner, list[m.Action]]] = []
        while self.queue and len(jobs) < BATCH:
            r2, a2 = self.queue[0]
            if not self._batchable(r2, a2):
                break
            self.queue.popleft()
            jobs.append((r2, a2[0]))
            rest.append((r2, a2[1:]))
        try:
            self.d.netlink.set_addresses_many(
                True, [(cast(m.AddAddresses, a).addresses, x.vip_dev, x.name) for x, a in jobs])
        except Exception as e:                  # (as _then's steps: logged, the rest goes on)
            log.error("vrrp.step.failed", instance=r.name, error=repr(e),
                      compat=f"({r.name}) address/ARP step failed: {e!r}")
        self.queue.extendleft(reversed(rest))
        return actions[1:]

    def _run(self, r: Runner, actions: list[m.Action]) -> None:
        self._done(r)
        if self.d.runners.get(r.name) is r:   # (removed meanwhile: its removal announced it)
            began = time.monotonic() if fotrace.ON else 0.0
            self.d._apply(r, actions)
            if fotrace.ON:
                fotrace.stamp("run", r.name, len(actions), began)

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
        if any(x is r for x, _p, _n in self.sent):
            self._after_wake()               # (its machine first; the others' with it)
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
        self.sent.clear()
        self.held.clear()
        self.queue.clear()
        self.pending.clear()


def plain(r: Runner, a: m.Action) -> bool:
    """`a` is an address change that can join other instances' in one netlink request:
    addresses only (routes, rules and firewall entries take the instance's own step, after
    its earlier ones), nothing of the instance's in flight."""
    if not isinstance(a, (m.AddAddresses, m.RemoveAddresses)) or not r.vip_dev or \
            a.routes or a.rules:
        return False
    if a.whole and firewalled(r.cfg):
        return False
    return r.addr_task is None or r.addr_task.done()
