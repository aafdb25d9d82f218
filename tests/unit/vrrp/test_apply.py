"""The VRRP daemon's one place where actions become I/O (`VrrpDaemon._apply`), with fake
netlink, socket, GARP and firewall objects: what goes out, with which data, in which order."""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import VirtualAddress, VrrpInstance
from keepalived_py.config.tree import Diagnostics
from keepalived_py.options import Options
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.daemon import Runner, VrrpDaemon, params_of
from keepalived_py.vrrp.packet import Advert, ChecksumForm, decode
from keepalived_py.vrrp.statefile import StateFile
from keepalived_py.vrrp.timers import TimerQueue

IF = "kpra-nosuch0"         # an interface that does not exist: nothing reads the host's


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []


class FakeNetlink:
    ipr = None

    def __init__(self, log: Log) -> None:
        self.log = log

    async def set_addresses(self, add: bool, addrs: Iterable[VirtualAddress], dev: str,
                            who: str) -> None:
        # the requests written, then a netlink round trip for the acknowledgements
        self.log.events.append(("add" if add else "del", tuple(str(a.address) for a in addrs)))
        await asyncio.sleep(0)
        self.log.events.append(("ack", add))

    def set_addresses_many(self, add: bool, jobs: list[tuple[Iterable[VirtualAddress], str, str]]
                           ) -> list[int]:
        # one batch of requests (takeover.py), acknowledged when the call returns
        for addrs, _dev, _who in jobs:
            self.log.events.append(("add" if add else "del",
                                    tuple(str(a.address) for a in addrs)))
        self.log.events.append(("ack", add))
        return [0] * len(jobs)

    async def set_routes(self, add: bool, routes: Any, dev: str | None, who: str) -> None:
        self.log.events.append(("routes", add, len(tuple(routes))))

    async def set_rules(self, add: bool, rules: Any, who: str) -> None:
        self.log.events.append(("rules", add, len(tuple(rules))))

    def forget(self, ifname: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class FakeSocket:
    ifindex = 7
    rx_at: float | None = None      # (VrrpSocket: the read's wake-up time, None outside one)

    def __init__(self, log: Log) -> None:
        self.log = log

    def send(self, payload: bytes, dst: Any) -> None:
        self.log.events.append(("advert", payload, dst))

    def fileno(self) -> int:
        return -1

    queued: list[Any] | None = None      # callables run by drain(): packets waiting in it
    drains = 0

    def drain(self, seconds: float) -> None:
        self.drains += 1
        waiting, self.queued = self.queued or [], None
        for deliver in waiting:
            deliver()


class FakeGarp:
    def __init__(self, log: Log) -> None:
        self.log = log

    def frames(self, dev: str, addrs: list[Any], src6: Any, fact: Any = None) -> list[bytes]:
        return [str(a).encode() for a in addrs]

    def send(self, dev: str, frames: list[bytes]) -> None:
        self.log.events.append(("garp", tuple(f.decode() for f in frames)))

    def close(self) -> None:
        pass


class FakeFirewall:
    held: set[str] = set()

    def __init__(self, log: Log) -> None:
        self.log = log

    async def update(self, name: str, add: bool, addresses: Any) -> None:
        self.log.events.append(("firewall", add))


def _config(body: str, globals_: str = "") -> Any:
    text = (f"global_defs {{\n{globals_}}}\n"
            f"vrrp_instance VI_1 {{\n interface {IF}\n virtual_router_id 51\n{body}}}\n")
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)


def _daemon(tmp_path: Path, log: Log) -> VrrpDaemon:
    d = VrrpDaemon(Options(vrrp_pid_file=str(tmp_path / "vrrp.pid")))
    d.statefile = StateFile(str(tmp_path / "state"))
    d.netlink = FakeNetlink(log)  # type: ignore[assignment]
    d.garp = FakeGarp(log)  # type: ignore[assignment]
    d.firewall = FakeFirewall(log)  # type: ignore[assignment]
    return d


def _runner(d: VrrpDaemon, inst: VrrpInstance, log: Log) -> Runner:
    d.loop = asyncio.get_running_loop()
    d.timers = TimerQueue(d.loop, d._fire_key)
    src = ipaddress.ip_address("192.0.2.2")
    r = Runner(inst, m.Instance(params_of(inst, d.config.global_defs), src), src=src,
               sock=FakeSocket(log), dsts=(ipaddress.ip_address("224.0.0.18"),))  # type: ignore[arg-type]
    d.runners[inst.name] = r
    return r


def _kinds(log: Log) -> list[str]:
    return [e[0] for e in log.events]


def test_becoming_master_sends_the_advert_adds_the_action_addresses_then_garps(
        tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(" priority 255\n virtual_ipaddress {\n  192.0.2.10/24\n"
                           "  192.0.2.11/24\n }\n virtual_ipaddress_excluded { 192.0.2.12/24 }\n"
                           " garp_master_repeat 1\n")
        r = _runner(d, d.config.vrrp_instances[0], log)
        actions = r.fsm.handle(m.Started(), d.loop.time())   # the owner: MASTER at once
        add = next(a for a in actions if isinstance(a, m.AddAddresses))
        # the action carries the lines: the VIPs and the excluded ones
        assert [str(a.address) for a in add.addresses] == \
            ["192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24"]
        assert r.holding                     # the machine's word, not a flag of the daemon's
        d._apply(r, actions)
        # keepalived's order: the advert, the address requests written in the same step...
        assert _kinds(log) == ["advert", "add"]
        assert log.events[1] == ("add", ("192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24"))
        await d._settled(r)
        await asyncio.sleep(0)
        # ...and the first gratuitous burst only once the kernel acknowledged them
        assert _kinds(log) == ["advert", "add", "ack", "garp"]
        assert log.events[3][1] == ("192.0.2.10", "192.0.2.11", "192.0.2.12")
        assert d.transitions[("VI_1", "MASTER")] == 1
        # shutdown with release: priority 0 now, the addresses removed, STOP left to the caller
        log.events.clear()
        changes = d._apply(r, r.fsm.handle(m.Shutdown(), d.loop.time()), "release")
        assert [c.new for c in changes] == [m.State.STOP] and not r.holding
        await d._settled(r)
        adv = decode(log.events[0][1], family=4)
        assert adv.priority == 0
        assert log.events[1] == ("del", ("192.0.2.10/24", "192.0.2.11/24", "192.0.2.12/24"))
        assert log.events[2] == ("ack", False)
    asyncio.run(run())


def test_a_shutdown_that_keeps_the_addresses_removes_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(" priority 255\n virtual_ipaddress { 192.0.2.10/24 }\n")
        r = _runner(d, d.config.vrrp_instances[0], log)
        d._apply(r, r.fsm.handle(m.Started(), d.loop.time()))
        await d._settled(r)
        log.events.clear()
        d._apply(r, r.fsm.handle(m.Shutdown(), d.loop.time()), "stop")
        await d._settled(r)
        assert _kinds(log) == ["advert"]
    asyncio.run(run())


def test_reload_applies_the_address_difference_in_order(tmp_path: Path) -> None:
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(" priority 255\n virtual_ipaddress {\n  192.0.2.10/24\n"
                           "  192.0.2.11/24\n }\n accept\n")
        r = _runner(d, d.config.vrrp_instances[0], log)
        d._apply(r, r.fsm.handle(m.Started(), d.loop.time()))
        await d._settled(r)
        log.events.clear()
        new = _config(" priority 255\n virtual_ipaddress {\n  192.0.2.10/24\n"
                      "  192.0.2.13/24\n }\n accept\n garp_master_repeat 1\n")
        inst = new.vrrp_instances[0]
        # the unchanged line is the same object the old config had
        inst = VrrpInstance(**{**{k: getattr(inst, k) for k in inst.__slots__},  # type: ignore[arg-type]
                               "virtual_ipaddress": (r.cfg.virtual_ipaddress[0],
                                                     inst.virtual_ipaddress[1])})
        d.config = new
        r.cfg = inst
        actions = r.fsm.handle(m.Reconfigured(params_of(inst, new.global_defs)), d.loop.time())
        d._apply(r, actions, "reload")
        await d._settled(r)
        # the gone line first, then the new one, and only then its gratuitous ARP
        assert [e for e in log.events if e[0] != "ack"] == [
            ("del", ("192.0.2.11/24",)), ("add", ("192.0.2.13/24",)), ("garp", ("192.0.2.13",))]
        assert log.events.index(("ack", True)) < log.events.index(("garp", ("192.0.2.13",)))
        assert r.holding
    asyncio.run(run())


def test_adverts_use_the_configured_checksum_form(tmp_path: Path) -> None:
    """old_unicast_checksum: our v3 unicast adverts carry keepalived <= 1.3.6's checksum
    (the peer that needs it accepts only that); without it they stay standard."""
    async def run() -> None:
        for keyword, form in (("old_unicast_checksum\n", ChecksumForm.OLD_UNICAST),
                              ("", ChecksumForm.STANDARD)):
            log = Log()
            d = _daemon(tmp_path, log)
            d.config = _config(" priority 255\n version 3\n unicast_peer { 192.0.2.3 }\n"
                               f" {keyword} virtual_ipaddress {{ 192.0.2.10/24 }}\n")
            r = _runner(d, d.config.vrrp_instances[0], log)
            r.dsts = (ipaddress.ip_address("192.0.2.3"),)
            d._apply(r, r.fsm.handle(m.Started(), d.loop.time()))
            adv = decode(log.events[0][1], family=4, src=r.src, dst=r.dsts[0])
            assert adv.checksum_form is form, keyword
    asyncio.run(run())


def test_use_checksum_rebuilds_the_adverts(tmp_path: Path) -> None:
    """A peer using keepalived <= 1.3.6's v3 unicast checksum: we switch to it (UseChecksum)
    and the pre-encoded adverts are built again in that form."""
    async def run() -> None:
        log = Log()
        d = _daemon(tmp_path, log)
        d.config = _config(" priority 255\n version 3\n unicast_peer { 192.0.2.3 }\n"
                           " virtual_ipaddress { 192.0.2.10/24 }\n")
        r = _runner(d, d.config.vrrp_instances[0], log)
        r.dsts = (ipaddress.ip_address("192.0.2.3"),)
        d._apply(r, r.fsm.handle(m.Started(), d.loop.time()))
        first = decode(log.events[0][1], family=4, src=r.src, dst=r.dsts[0])
        assert first.checksum_form is ChecksumForm.STANDARD
        log.events.clear()
        peer = ipaddress.ip_address("192.0.2.3")
        theirs = Advert(3, 51, 100, (ipaddress.ip_address("192.0.2.10"),), 1.0,
                        checksum_form=ChecksumForm.OLD_UNICAST)
        actions = r.fsm.handle(m.AdvertReceived(theirs, peer), d.loop.time())
        assert m.UseChecksum(ChecksumForm.OLD_UNICAST) in actions
        d._apply(r, actions)                 # a lower priority: our advert at once
        again = decode(log.events[0][1], family=4, src=r.src, dst=r.dsts[0])
        assert again.checksum_form is ChecksumForm.OLD_UNICAST
    asyncio.run(run())


def test_a_failing_gratuitous_step_is_logged_not_swallowed(tmp_path: Path) -> None:
    """The address/ARP steps run as tasks that later steps only wait for: an error in one
    (here the GARP socket refusing) is logged with the instance's name."""
    from keepalived_py.obs import slog

    class BrokenGarp(FakeGarp):
        def send(self, dev: str, frames: list[bytes]) -> None:
            raise OSError(19, "No such device")

    async def run() -> list[dict[str, Any]]:
        log = Log()
        d = _daemon(tmp_path, log)
        d.garp = BrokenGarp(log)  # type: ignore[assignment]
        d.config = _config(" priority 255\n virtual_ipaddress { 192.0.2.10/24 }\n")
        r = _runner(d, d.config.vrrp_instances[0], log)
        with slog.capture() as seen:
            d._apply(r, r.fsm.handle(m.Started(), d.loop.time()))
            await d._settled(r)
            await asyncio.sleep(0)
        return seen
    seen = asyncio.run(run())
    failed = [e for e in seen if e["event"] == "vrrp.step.failed"]
    assert failed and failed[0]["instance"] == "VI_1" and "No such device" in failed[0]["error"]
