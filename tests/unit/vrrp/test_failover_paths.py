"""Failover paths of issue 16.4, through the daemon's real code with the fakes of
test_apply.py: a backup's down timer anchored at the socket's wake-up (VrrpSocket.rx_at, not
its turn in the batch), and a stop that sends every master's priority-0 advert before any
address removal."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Any

from test_apply import Log, _daemon, _kinds
from test_takeover import _backups, _config

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Advert, decode, encode
from keepalived_py.vrrp.transport import VrrpSocket

SRC = ipaddress.IPv4Address("192.0.2.9")
GROUP = ipaddress.IPv4Address("224.0.0.18")


def _ipv4(payload: bytes, src: ipaddress.IPv4Address = SRC, ttl: int = 255) -> bytes:
    """An IPv4 VRRP packet as a raw socket reads it (header + payload)."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, 112, 0,
                      src.packed, GROUP.packed)
    return hdr + payload


def _udp_vrrp_socket(deliver: Any) -> tuple[VrrpSocket, socket.socket, socket.socket]:
    """A VrrpSocket reading a loopback UDP socket: its datagrams carry whole IPv4 VRRP
    packets, as the raw socket's reads do (no privilege, no namespace needed)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vs = VrrpSocket.__new__(VrrpSocket)
    vs.ifname, vs.family, vs.group, vs.deliver, vs.deliver_ah = "lo", 4, GROUP, deliver, None
    vs.drops, vs.received, vs.lane, vs.lane_received = Counter(), 0, None, 0
    vs.on_overflow, vs.kernel_drops, vs.lane_kernel_drops, vs._ovfl_seen = None, 0, 0, {}
    vs._seen, vs._current, vs._rb, vs._rb_lane, vs._in_batch = {}, None, None, None, False
    vs.rx_at = None
    vs.sock = rx
    return vs, rx, tx


def test_packets_of_one_wake_up_are_stamped_with_it() -> None:
    """Every packet read in one wake-up carries the time of the wake-up, however long the
    ones before it took; outside a read there is no stamp."""
    seen: list[tuple[int, float | None, float]] = []

    def deliver(adv: Advert, src: Any, dst: Any, ttl: int) -> None:
        seen.append((adv.vrid, vs.rx_at, time.monotonic()))
        time.sleep(0.003)                         # a slow delivery (a loaded host)
    vs, rx, tx = _udp_vrrp_socket(deliver)
    try:
        for vrid in (1, 2, 3):
            adv = Advert(2, vrid, 200, (ipaddress.IPv4Address("192.0.2.11"),), 1.0)
            tx.sendto(_ipv4(encode(adv, SRC, GROUP)), rx.getsockname())
        time.sleep(0.05)
        before = time.monotonic()
        vs.readable()
        assert [v for v, _at, _t in seen] == [1, 2, 3]
        stamps = {at for _v, at, _t in seen}
        assert len(stamps) == 1
        (at,) = stamps
        assert at is not None and before <= at <= seen[0][2]
        assert seen[2][2] - at >= 0.006                # delivered later, anchored at the wake-up
        assert vs.rx_at is None
    finally:
        rx.close()
        tx.close()


def test_a_later_read_of_the_same_wake_up_gets_a_later_stamp() -> None:
    """Packets read by a second recvmmsg of the same wake-up (they arrived while the first
    ones were handled) are stamped at that read, never earlier than they could have come."""
    seen: list[tuple[int, float | None]] = []
    sent = {"more": False}

    def deliver(adv: Advert, src: Any, dst: Any, ttl: int) -> None:
        seen.append((adv.vrid, vs.rx_at))
        if not sent["more"]:
            sent["more"] = True
            time.sleep(0.003)
            more = Advert(2, 9, 200, (ipaddress.IPv4Address("192.0.2.19"),), 1.0)
            tx.sendto(_ipv4(encode(more, SRC, GROUP)), rx.getsockname())
            time.sleep(0.01)
    vs, rx, tx = _udp_vrrp_socket(deliver)
    try:
        adv = Advert(2, 1, 200, (ipaddress.IPv4Address("192.0.2.11"),), 1.0)
        tx.sendto(_ipv4(encode(adv, SRC, GROUP)), rx.getsockname())
        time.sleep(0.05)
        vs.readable()
        assert [v for v, _ in seen] == [1, 9]
        first, second = seen[0][1], seen[1][1]
        assert first is not None and second is not None and second - first >= 0.003
    finally:
        rx.close()
        tx.close()


def test_the_down_timer_runs_from_the_wake_up_on_every_receive_path(tmp_path: Path) -> None:
    """daemon._deliver (the full path, the repeated advert's) and rxfast's hook restart the
    down timer from the socket's rx_at."""
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(1)
        (r,) = _backups(d, log, [5.0])
        assert d.loop is not None
        await d._settled(r)
        key = ("kpra-nosuch0", 4, "")
        sock = r.sock
        hooks: list[Any] = []
        sock.fast_hook = hooks.append               # type: ignore[union-attr]
        sock.prioritise = lambda sources, loop: None    # type: ignore[union-attr]
        d.sockets[key] = sock                       # type: ignore[assignment]
        adv = Advert(2, 1, 200, (ipaddress.IPv4Address("192.0.2.11"),), 1.0)
        mdi = r.fsm.master_down_interval()

        def check(at: float) -> None:
            assert r.fsm.state is m.State.BACKUP
            assert r.fsm.next_deadline() == at + mdi
            assert r.fsm.last_master_advert == at
        for lag in (0.004, 0.007):                  # the full path, then the repeat's
            at = d.loop.time() - lag
            sock.rx_at = at                         # type: ignore[union-attr]
            d._deliver(key, adv, SRC, GROUP, 255)
            sock.rx_at = None                       # type: ignore[union-attr]
            check(at)
        assert hooks                                 # rxfast armed on the first one
        at = d.loop.time() - 0.005
        sock.rx_at = at                             # type: ignore[union-attr]
        assert hooks[0](255)
        sock.rx_at = None                           # type: ignore[union-attr]
        check(at)
        now = d.loop.time()                         # outside a read: the loop's time
        assert hooks[0](255)
        assert r.fsm.last_master_advert is not None and r.fsm.last_master_advert >= now
        now = d.loop.time()
        d._deliver(key, adv, SRC, GROUP, 255)
        assert r.fsm.last_master_advert is not None and r.fsm.last_master_advert >= now
    asyncio.run(run())


class _With:
    """A fake of test_apply.py with what stop() also reads."""

    def __init__(self, inner: Any, **extra: Any) -> None:
        self.inner = inner
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _nothing() -> None:
    pass


def _stoppable(d: Any) -> None:
    d.netlink = _With(d.netlink, opened=False)
    d.firewall = _With(d.firewall, close=_nothing)


def test_stop_sends_every_priority_zero_before_any_address_removal(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        _stoppable(d)
        d.config = _config(3)
        rs = _backups(d, log, [0.05, 0.05, 0.05])
        for r in rs:
            await d._settled(r)
        await asyncio.sleep(0.2)
        assert all(r.fsm.state is m.State.MASTER for r in rs)
        for r in rs:
            await d._settled(r)
        await asyncio.sleep(0.01)
        log.events.clear()
        await d.stop(True)
        kinds = _kinds(log)
        adverts = [decode(e[1], family=4) for e in log.events if e[0] == "advert"]
        assert [(a.vrid, a.priority) for a in adverts] == [(1, 0), (2, 0), (3, 0)]
        assert kinds[:3] == ["advert"] * 3 and kinds.count("del") == 3
        assert all(r.fsm.state is m.State.STOP for r in rs)
        assert all(r.fsm.stats["pri_zero_sent"] == 1 for r in rs)
        assert all(d.transitions[(r.name, "STOP")] == 1 for r in rs)
        assert not d.runners
    asyncio.run(run())


def test_a_backup_stopping_sends_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        _stoppable(d)
        d.config = _config(2)
        rs = _backups(d, log, [30.0, 30.0])
        for r in rs:
            await d._settled(r)
        log.events.clear()
        await d.stop(False)
        assert "advert" not in _kinds(log)
        assert all(r.fsm.state is m.State.STOP for r in rs)
        assert all(d.transitions[(r.name, "STOP")] == 1 for r in rs)
    asyncio.run(run())



def test_a_bursts_address_adds_go_in_one_request_before_its_gratuitous_packets(
        tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        calls: list[int] = []
        many = d.netlink.set_addresses_many

        def counted(add: bool, jobs: list[Any]) -> list[int]:
            calls.append(len(jobs))
            return many(add, jobs)                  # type: ignore[no-any-return]
        d.netlink.set_addresses_many = counted      # type: ignore[method-assign]
        d.config = _config(4)
        rs = _backups(d, log, [0.2, 0.2002, 0.2004, 0.2006])
        for r in rs:
            await d._settled(r)
        log.events.clear()
        end = d.loop.time() + 2.0 if d.loop is not None else 0.0
        while d.loop is not None and d.loop.time() < end and (
                d.takeovers.pending or any(r.fsm.state is not m.State.MASTER for r in rs)):
            await asyncio.sleep(0.001)
        for r in rs:
            await d._settled(r)
        await asyncio.sleep(0)
        kinds = _kinds(log)
        assert kinds[:4] == ["advert"] * 4
        assert calls == [4]                         # one request for the four
        assert kinds[4:10] == ["add"] * 4 + ["ack", "garp"] and kinds.count("garp") == 4
        assert [e[1] for e in log.events if e[0] == "garp"] == [
            ("192.0.2.11",), ("192.0.2.12",), ("192.0.2.13",), ("192.0.2.14",)]
        assert all(d.transitions[(r.name, "MASTER")] == 1 for r in rs)
    asyncio.run(run())


def test_instances_taking_over_in_one_wake_up_read_their_socket_once(tmp_path: Path) -> None:
    """The queued packets are read before the first takeover of a timer wake-up, not before
    each one (each advert would wait behind the reads of the ones before); the next wake-up
    reads again."""
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(4)
        rs = _backups(d, log, [0.2, 0.2, 0.2, 0.6])
        for r in rs:
            await d._settled(r)
        sock = rs[0].sock
        assert sock is not None and all(r.sock is sock for r in rs)
        assert d.loop is not None
        end = d.loop.time() + 2.0
        while d.loop.time() < end and rs[2].fsm.state is not m.State.MASTER:
            await asyncio.sleep(0.001)
        assert [r.fsm.state for r in rs[:3]] == [m.State.MASTER] * 3
        assert sock.drains == 1                     # type: ignore[attr-defined]
        assert not d._drained
        while d.loop.time() < end and rs[3].fsm.state is not m.State.MASTER:
            await asyncio.sleep(0.001)
        assert rs[3].fsm.state is m.State.MASTER
        assert sock.drains == 2                     # type: ignore[attr-defined]
    asyncio.run(run())


def test_stop_removes_every_masters_addresses_in_one_request_after_the_adverts(
        tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        _stoppable(d)
        d.netlink.opened = True                     # type: ignore[misc]
        calls: list[tuple[bool, int]] = []
        many = d.netlink.set_addresses_many

        def counted(add: bool, jobs: list[Any]) -> list[int]:
            calls.append((add, len(jobs)))
            return many(add, jobs)                  # type: ignore[no-any-return]
        d.netlink.set_addresses_many = counted      # type: ignore[method-assign]
        d.config = _config(3)
        rs = _backups(d, log, [0.05, 0.05, 0.05])
        await asyncio.sleep(0.2)
        for r in rs:
            await d._settled(r)
        assert all(r.fsm.state is m.State.MASTER for r in rs)
        calls.clear()
        log.events.clear()
        await d.stop(True)
        assert calls == [(False, 3)]
        kinds = _kinds(log)
        assert kinds[:7] == ["advert"] * 3 + ["del"] * 3 + ["ack"]
        assert [e[1] for e in log.events if e[0] == "del"] == [
            ("192.0.2.11/24",), ("192.0.2.12/24",), ("192.0.2.13/24",)]
        assert all(d.transitions[(r.name, "STOP")] == 1 for r in rs)
    asyncio.run(run())
