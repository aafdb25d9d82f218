"""A backup's takeover on its down timer (vrrp/takeover.py), through the daemon's real
`_fire_key`, `_apply` and TimerQueue with the fake netlink, socket and GARP of test_apply.py:
the advert first; with several instances taking over together, every advert before any
address change; held work carried out before anything else applied to the same instance."""
from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

from test_apply import Log, _daemon, _kinds, _runner

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.daemon import Runner, VrrpDaemon, params_of
from keepalived_py.vrrp.packet import Advert, decode
from keepalived_py.vrrp.takeover import HORIZON

IF = "kpra-nosuch0"


def _config(n: int) -> Any:
    text = "global_defs {\n}\n" + "".join(
        f"vrrp_instance VI_{i} {{\n interface {IF}\n virtual_router_id {i}\n priority 100\n"
        f" advert_int 1\n garp_master_repeat 1\n virtual_ipaddress {{ 192.0.2.{10 + i}/24 }}\n}}\n"
        for i in range(1, n + 1))
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)


def _backups(d: VrrpDaemon, log: Log, due_in: list[float]) -> list[Runner]:
    """BACKUP instances whose down timers run out `due_in` seconds from now."""
    out: list[Runner] = []
    for inst in d.config.vrrp_instances:
        if not out:
            r = _runner(d, inst, log)            # (the loop and one TimerQueue for all)
        else:
            r = Runner(inst, m.Instance(params_of(inst, d.config.global_defs), out[0].src),
                       src=out[0].src, sock=out[0].sock, dsts=out[0].dsts)
            d.runners[inst.name] = r
        out.append(r)
    assert d.loop is not None
    base = d.loop.time()
    for r, dt in zip(out, due_in, strict=True):
        d._apply(r, r.fsm.handle(m.Started(), base - r.fsm.master_down_interval() + dt))
        assert r.fsm.state is m.State.BACKUP
    return out


def _adverts(log: Log) -> list[tuple[int, int]]:
    out = []
    for e in log.events:
        if e[0] == "advert":
            a: Advert = decode(e[1], family=4)
            out.append((a.vrid, a.priority))
    return out


LEAD = 0.2            # the first down timer runs out this long after the set-up


async def _until(pred: Any, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred() and loop.time() < end:
        await asyncio.sleep(0)
    assert pred()


def test_one_instance_sends_its_advert_then_adds_its_address(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(1)
        (r,) = _backups(d, log, [LEAD])
        await d._settled(r)                          # (the start's release)
        log.events.clear()
        await _until(lambda: r.fsm.state is m.State.MASTER)   # the real TimerQueue fires
        # nothing held: one instance; its address add is one netlink request (acknowledged
        # when it returns), then its gratuitous ARP
        assert _kinds(log) == ["advert", "add", "ack", "garp"]
        assert _adverts(log) == [(1, 100)]
        await d._settled(r)
        await asyncio.sleep(0)
        assert _kinds(log) == ["advert", "add", "ack", "garp"]
        assert d.transitions[("VI_1", "MASTER")] == 1
        assert d.timers is not None and d.timers.deadline("VI_1") == r.fsm.next_deadline()
    asyncio.run(run())


def test_a_burst_sends_every_advert_before_any_address(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(3)
        rs = _backups(d, log, [LEAD, LEAD + HORIZON / 3, LEAD + HORIZON / 2])
        for r in rs:
            await d._settled(r)
        log.events.clear()
        await _until(lambda: rs[0].fsm.state is m.State.MASTER)
        if rs[1].fsm.state is m.State.BACKUP:      # (a loaded host may be later than that)
            assert _kinds(log) == ["advert"]           # the others are due within HORIZON
            assert d.transitions[("VI_1", "MASTER")] == 0     # not announced yet either
        await _until(lambda: all(r.fsm.state is m.State.MASTER for r in rs))
        for r in rs:
            await d._settled(r)
        await asyncio.sleep(0)
        kinds = _kinds(log)
        assert _adverts(log)[:3] == [(1, 100), (2, 100), (3, 100)]
        assert kinds[:3] == ["advert"] * 3 and kinds.count("add") == 3
        adds = [e[1] for e in log.events if e[0] == "add"]
        assert adds == [("192.0.2.11/24",), ("192.0.2.12/24",), ("192.0.2.13/24",)]
        assert all(d.transitions[(r.name, "MASTER")] == 1 for r in rs)
        assert not d.takeovers.pending and not d.takeovers.queue
    asyncio.run(run())


def test_an_instance_leaving_master_gets_its_held_addresses_first(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(2)
        r1, r2 = _backups(d, log, [LEAD, LEAD + HORIZON * 0.9])
        assert d.loop is not None
        await d._settled(r1)
        await d._settled(r2)
        log.events.clear()
        await _until(lambda: r1.fsm.state is m.State.MASTER)   # VI_1's work held for VI_2
        # a better master's advert before VI_2's timer: VI_1 goes back to BACKUP; its held
        # address add must come before the removal, not after it
        better = Advert(2, 1, 200, (ipaddress.IPv4Address("192.0.2.11"),), 1.0)
        actions = r1.fsm.handle(m.AdvertReceived(better, ipaddress.IPv4Address("192.0.2.9"), 255),
                                d.loop.time())
        assert r1.fsm.state is m.State.BACKUP
        d._apply(r1, actions)
        await d._settled(r1)
        ops = [e for e in log.events if e[0] in ("add", "del") and e[1] == ("192.0.2.11/24",)]
        assert ops == [("add", ("192.0.2.11/24",)), ("del", ("192.0.2.11/24",))]
        await _until(lambda: r2.fsm.state is m.State.MASTER)
        await asyncio.sleep(HORIZON)
        assert d.transitions[("VI_1", "MASTER")] == 1
        assert d.transitions[("VI_1", "BACKUP")] == 2            # (with the start's)
        assert not d.takeovers.pending
    asyncio.run(run())


def test_held_work_goes_when_an_expected_takeover_does_not_come(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(2)
        r1, r2 = _backups(d, log, [LEAD, LEAD + HORIZON * 0.9])
        assert d.loop is not None
        await d._settled(r1)
        await d._settled(r2)
        log.events.clear()
        await _until(lambda: r1.fsm.state is m.State.MASTER)
        # VI_2 hears a master: its down timer starts again, it will not take over now
        heard = Advert(2, 2, 200, (ipaddress.IPv4Address("192.0.2.12"),), 1.0)
        d._apply(r2, r2.fsm.handle(m.AdvertReceived(heard, ipaddress.IPv4Address("192.0.2.9"),
                                                    255), d.loop.time()))
        await _until(lambda: ("add", ("192.0.2.11/24",)) in log.events)   # VI_1's, all the same
        await d._settled(r1)
        assert r2.fsm.state is m.State.BACKUP and d.transitions[("VI_1", "MASTER")] == 1
        assert not d.takeovers.pending and d.takeovers._handle is None
    asyncio.run(run())


def test_a_master_advert_waiting_in_the_socket_is_read_before_a_takeover(tmp_path: Path) -> None:
    """The down timer and the socket ready in the same wake-up (a loaded host), the timer
    first: the queued advert is read before the backup is judged, so no false takeover."""
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(1)
        (r,) = _backups(d, log, [LEAD])
        assert d.loop is not None and d.timers is not None
        await d._settled(r)
        log.events.clear()
        loop = d.loop
        heard = Advert(2, 1, 200, (ipaddress.IPv4Address("192.0.2.11"),), 1.0)
        r.sock.queued = [lambda: d._apply(r, r.fsm.handle(        # type: ignore[union-attr]
            m.AdvertReceived(heard, ipaddress.IPv4Address("192.0.2.9"), 255), loop.time()))]
        await asyncio.sleep(LEAD + 0.05)              # the old deadline has passed
        assert r.fsm.state is m.State.BACKUP
        assert r.sock.drains == 1 and "advert" not in _kinds(log)     # type: ignore[union-attr]
        assert d.transitions[("VI_1", "MASTER")] == 0
        assert d.timers.deadline("VI_1") == r.fsm.next_deadline() > loop.time()
        # nothing queued the next time: the takeover goes ahead, its advert first
        await _until(lambda: r.fsm.state is m.State.MASTER, timeout=5.0)
        assert r.sock.drains == 2 and _kinds(log)[:1] == ["advert"]   # type: ignore[union-attr]
    asyncio.run(run())
