"""After a stall (the daemon frozen by SIGSTOP, or its loop held), issue 15's soak takebacks:
what a socket's read wake-up does first (daemon._read -> TimerQueue.gather), through the
daemon's real _deliver, _apply, _fire_key and TimerQueue with the fake netlink, socket and GARP
of test_apply.py.

- A MASTER thawed with its advert timers overdue and a receive queue full of a lower-priority
  backup's adverts sends its overdue adverts before it works through the backlog (each of
  which keepalived answers with an advert and gratuitous ARPs): epoll may hand the socket over
  before the timer.
- A node demoted on many instances by one burst of a better master's adverts drops every
  address back to back; the logs, scripts and state file of those transitions come after the
  last packet of the read.
"""
from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_apply import FakeSocket, Log, _daemon, _kinds

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.daemon import Runner, VrrpDaemon, params_of
from keepalived_py.vrrp.packet import Advert, decode
from keepalived_py.vrrp.timers import TimerQueue

IF = "kpra-nosuch0"
KEY = (IF, 4, "")
PEER = ipaddress.ip_address("192.0.2.9")
GROUP = ipaddress.ip_address("224.0.0.18")
SRC = ipaddress.ip_address("192.0.2.2")


class QueueSocket(FakeSocket):
    """A fake VRRP socket with a receive queue: `readable()` hands every queued advert to the
    daemon's _deliver, as VrrpSocket.readable does."""

    def __init__(self, log: Log, d: VrrpDaemon, batch: int = 2) -> None:
        super().__init__(log)
        self.d = d
        self.backlog: list[Advert] = []
        self.reads = 0
        self.batch = batch          # packets one call reads at most (VrrpSocket: 64)

    def readable(self, lane: bool = False) -> bool:
        """True when it stopped at its bound with packets still queued."""
        self.reads += 1
        waiting, self.backlog = self.backlog[:self.batch], self.backlog[self.batch:]
        for adv in waiting:
            self.d._deliver(KEY, adv, PEER, GROUP, 255)
        return bool(self.backlog)

    def fast_hook(self, hook: Any) -> None:
        pass                        # (VrrpSocket's repeated-packet path: not modelled here)

    def prioritise(self, sources: Any, loop: Any) -> None:
        pass                        # (nor its priority lane)

    def drain(self, seconds: float) -> None:
        """As VrrpSocket.drain: one read, more while packets remain for `seconds`."""
        self.drains += 1
        end = time.monotonic() + seconds
        while self.readable() and time.monotonic() < end:
            pass


def _config(n: int, priority: int) -> Any:
    text = "global_defs {\n vrrp_version 3\n}\n" + "".join(
        f"vrrp_instance VI_{i} {{\n interface {IF}\n virtual_router_id {i}\n"
        f" priority {priority}\n advert_int 0.1\n garp_master_repeat 1\n"
        f" garp_lower_prio_repeat 1\n virtual_ipaddress {{ 198.51.100.{i}/24 }}\n}}\n"
        for i in range(1, n + 1))
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)


def _masters(tmp_path: Path, n: int, priority: int, since: float, backup: bool = False
             ) -> tuple[VrrpDaemon, Log, QueueSocket, list[Runner]]:
    """A daemon whose `n` instances became MASTER (`backup`: started as BACKUP) `since`
    seconds ago (their timers have been overdue since then: the loop did not run), on one
    QueueSocket."""
    log = Log()
    d = _daemon(tmp_path, log)
    d.config = _config(n, priority)
    d.loop = asyncio.get_running_loop()
    d.timers = TimerQueue(d.loop, d._fire_key)
    sock = QueueSocket(log, d)
    d.sockets[KEY] = sock  # type: ignore[assignment]
    src = SRC
    then = d.loop.time() - since
    rs = []
    for inst in d.config.vrrp_instances:
        r = Runner(inst, m.Instance(params_of(inst, d.config.global_defs), src), src=src,
                   sock=sock, dsts=(GROUP,))  # type: ignore[arg-type]
        d.runners[inst.name] = r
        started = r.fsm.handle(m.Started(), then)
        d._apply(r, started if backup else r.fsm.force_master(then, "test"))
        rs.append(r)
    return d, log, sock, rs


def _adverts(log: Log) -> list[tuple[int, int]]:
    return [(a.vrid, a.priority) for a in (decode(e[1], family=4, src=SRC, dst=e[2])
                                           for e in log.events if e[0] == "advert")]


def _announced(d: VrrpDaemon, log: Log) -> None:
    """Each transition's announcement logged in `log` too (after the packets, in order)."""
    announce: Callable[..., None] = d._announce

    def logged(r: Runner, a: m.StateChanged) -> None:
        log.events.append(("announce", r.name, a.new.value))
        announce(r, a)
    d._announce = logged  # type: ignore[method-assign]


def test_thawed_master_sends_its_overdue_adverts_before_the_backlog(tmp_path: Path) -> None:
    async def run() -> None:
        d, log, sock, rs = _masters(tmp_path, 3, 200, since=1.3)
        log.events.clear()          # (no yield to the loop: its timer has not run since)
        # the lower-priority backup's adverts queued while we were frozen, several rounds
        sock.backlog = [Advert(3, r.cfg.virtual_router_id, 150,
                               (r.cfg.virtual_ipaddress[0].address.ip,), 0.1)
                        for _ in range(4) for r in rs]
        d._read(sock, False)                 # epoll handed the socket over first
        adverts = _adverts(log)
        # every overdue advert first, one per instance, before any answer to the backlog
        assert _kinds(log)[:3] == ["advert"] * 3
        assert sorted(adverts[:3]) == [(1, 200), (2, 200), (3, 200)]
        # then the backlog, each lower-priority advert answered as keepalived answers it
        assert len(adverts) == 3 + 12
        assert all(r.fsm.state is m.State.MASTER for r in rs)
        # the timers moved on: the next adverts an interval after the answers, not overdue
        assert d.timers is not None
        now = d.loop.time()  # type: ignore[union-attr]
        assert all(now < (d.timers.deadline(r.name) or 0) <= now + 0.1 + 1e-3 for r in rs)
        for r in rs:
            await d._settled(r)
        d.timers.close()
    asyncio.run(run())


def test_a_read_with_nothing_overdue_reads_the_queue_only(tmp_path: Path) -> None:
    async def run() -> None:
        d, log, sock, rs = _masters(tmp_path, 2, 200, since=0.0)
        for r in rs:
            await d._settled(r)
        log.events.clear()
        sock.backlog = [Advert(3, 1, 150, (rs[0].cfg.virtual_ipaddress[0].address.ip,), 0.1)]
        d._read(sock, False)
        assert _adverts(log) == [(1, 200)]          # the answer only: no early advert
        assert sock.reads == 1
        assert d.timers is not None
        d.timers.close()
    asyncio.run(run())


def test_a_burst_of_better_adverts_drops_every_address_before_any_announcement(
        tmp_path: Path) -> None:
    async def run() -> None:
        d, log, sock, rs = _masters(tmp_path, 4, 150, since=0.0)
        for r in rs:
            await d._settled(r)
        _announced(d, log)
        log.events.clear()
        sock.backlog = [Advert(3, r.cfg.virtual_router_id, 200,
                               (r.cfg.virtual_ipaddress[0].address.ip,), 0.1) for r in rs]
        d._read(sock, False)
        assert all(r.fsm.state is m.State.BACKUP for r in rs)
        dels = [e for e in log.events if e[0] in ("del", "announce")]
        assert [e[0] for e in dels] == ["del"] * 4 + ["announce"] * 4
        assert [e[1] for e in dels[4:]] == ["VI_1", "VI_2", "VI_3", "VI_4"]
        assert sock.reads == 2                       # two reads (two packets each), one wake-up
        assert all(d.transitions[(r.name, "BACKUP")] == 1 for r in rs)
        for r in rs:
            await d._settled(r)
        assert d.timers is not None
        d.timers.close()
    asyncio.run(run())


def test_gather_inside_a_timer_wake_up_leaves_the_deferred_work_to_it(tmp_path: Path) -> None:
    """A read inside a timer wake-up (a backup's drain before it takes over) adds its deferred
    work to that wake-up's, which runs it once its own keys have fired."""
    async def run() -> None:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        timers: TimerQueue

        def fire(key: Any) -> None:
            order.append(f"fire {key}")
            timers.gather(lambda _lane: timers.defer(lambda: order.append("read's")))
            timers.defer(lambda: order.append(f"after {key}"))
        timers = TimerQueue(loop, fire)
        timers.set("a", loop.time() - 0.01)
        timers.set("b", loop.time() - 0.005)
        timers.gather(lambda _lane: False)      # an empty read: the due keys fire
        # every key fired, then the deferred work in the order it was deferred
        assert order == ["fire a", "fire b", "read's", "after a", "read's", "after b"]
        timers.gather(lambda _lane: False)      # nothing due: nothing fires
        assert len(order) == 6
        timers.close()
    asyncio.run(run())


def test_a_thawed_backup_reads_its_whole_queue_before_it_takes_over(tmp_path: Path) -> None:
    """A BACKUP frozen past its Master_Down_Interval: its down timers fire first (the timer
    came due before the packets), but the master's adverts are in the queue behind other
    traffic; a timer that late reads the whole queue before it judges, not one batch."""
    async def run() -> None:
        d, log, sock, rs = _masters(tmp_path, 3, 150, since=2.0, backup=True)
        assert all(r.fsm.state is m.State.BACKUP for r in rs)
        log.events.clear()
        other = [Advert(3, 99, 100, (ipaddress.ip_address("198.51.100.99"),), 0.1)] * 6
        sock.backlog = other + [Advert(3, r.cfg.virtual_router_id, 200,
                                       (r.cfg.virtual_ipaddress[0].address.ip,), 0.1)
                                for r in rs]
        d._read(sock, False)
        assert all(r.fsm.state is m.State.BACKUP for r in rs)
        assert _adverts(log) == [] and "add" not in _kinds(log)
        assert not sock.backlog and sock.drains >= 1
        assert d.timers is not None
        d.timers.close()
    asyncio.run(run())
