from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Advert

A = ipaddress.IPv4Address
VIP = (A("192.0.2.100"),)


def inst(prio: int, ip: str = "192.0.2.1", **kw: object) -> m.Instance:
    p = m.Params(name="VI_1", vrid=51, priority=prio, advert_int=kw.pop("advert_int", 1.0),  # type: ignore[arg-type]
                 **kw)  # type: ignore[arg-type]
    return m.Instance(p, A(ip))


class FakeLan:
    """Instances exchanging adverts instantly, driven by a manual clock."""

    def __init__(self, *nodes: m.Instance) -> None:
        self.nodes = list(nodes)
        self.now = 0.0
        self.log: list[tuple[float, str, m.Action]] = []
        self.down: set[int] = set()

    def start(self) -> None:
        for n in self.nodes:
            self._do(n, n.handle(m.Started(), self.now))

    def _do(self, n: m.Instance, actions: list[m.Action]) -> None:
        for a in actions:
            self.log.append((self.now, n.p.name + str(self.nodes.index(n)), a))
            if isinstance(a, m.SendAdvert) and self.nodes.index(n) not in self.down:
                adv = Advert(n.p.version, n.p.vrid, a.priority, VIP, n.p.advert_int)
                for other in self.nodes:
                    if other is not n and self.nodes.index(other) not in self.down:
                        self._do(other, other.handle(m.AdvertReceived(adv, n.primary),  # type: ignore[arg-type]
                                                     self.now))

    def run_until(self, t: float) -> None:
        while True:
            live = [(d, n) for n in self.nodes if self.nodes.index(n) not in self.down
                    and (d := n.next_deadline()) is not None]
            if not live:
                self.now = t
                return
            d, n = min(live, key=lambda x: x[0])
            if d > t:
                self.now = t
                return
            self.now = max(self.now, d)
            self._do(n, n.handle(m.TimerExpired(), self.now))

    def masters(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.state is m.State.MASTER]


def test_backup_takes_over_when_master_goes_silent() -> None:
    i = inst(100)
    i.handle(m.Started(), now=0.0)
    assert i.state is m.State.BACKUP
    deadline = i.next_deadline()
    assert deadline == pytest.approx(3 * 1.0 + (256 - 100) / 256)   # Master_Down_Interval
    actions = i.handle(m.TimerExpired(), now=deadline)
    assert i.state is m.State.MASTER
    assert actions[:3] == [m.SendAdvert(100), m.AddAddresses(), m.SendGratuitous(5)]


def test_address_owner_and_state_master_start() -> None:
    owner = inst(255)
    assert isinstance(owner.handle(m.Started(), 0.0)[0], m.SendAdvert)
    assert owner.state is m.State.MASTER
    sm = inst(100, initial_master=True)
    sm.handle(m.Started(), 0.0)
    assert sm.state is m.State.BACKUP
    assert sm.next_deadline() == pytest.approx(1.0 + (256 - 100) / 256)


def test_election_highest_priority_wins_and_exactly_one_master() -> None:
    lan = FakeLan(inst(100, "192.0.2.1"), inst(150, "192.0.2.2"), inst(120, "192.0.2.3"))
    lan.start()
    lan.run_until(10.0)
    assert lan.masters() == [1]


def test_equal_priority_tie_break_on_primary_address() -> None:
    """Two masters of equal priority (a healed partition): the higher address stays."""
    lan = FakeLan(inst(100, "192.0.2.5"), inst(100, "192.0.2.9"))
    lan.down = {0, 1}                       # partitioned: adverts reach nobody
    lan.start()
    for n in lan.nodes:                     # both time out and become master
        lan.now = n.next_deadline() or 0.0
        n.handle(m.TimerExpired(), lan.now)
    assert sorted(lan.masters()) == [0, 1]
    lan.down = set()
    lan.run_until(lan.now + 3.0)
    assert lan.masters() == [1]


def test_priority_zero_on_shutdown_hands_over_after_skew() -> None:
    lan = FakeLan(inst(150, "192.0.2.1"), inst(100, "192.0.2.2"))
    lan.start()
    lan.run_until(10.0)
    assert lan.masters() == [0]
    lan._do(lan.nodes[0], lan.nodes[0].handle(m.Shutdown(), lan.now))
    lan.down.add(0)
    t0 = lan.now
    lan.run_until(t0 + 0.5)
    assert lan.masters() == []
    lan.run_until(t0 + (256 - 100) / 256 + 0.01)
    assert lan.masters() == [1]


def test_nopreempt_keeps_the_lower_master() -> None:
    lan = FakeLan(inst(100, "192.0.2.1"))
    lan.start()
    lan.run_until(5.0)
    high = inst(200, "192.0.2.2", nopreempt=True)
    lan.nodes.append(high)
    lan._do(high, high.handle(m.Started(), lan.now))
    lan.run_until(20.0)
    assert lan.masters() == [0]


def test_preemption_by_a_higher_priority() -> None:
    lan = FakeLan(inst(100, "192.0.2.1"))
    lan.start()
    lan.run_until(5.0)
    high = inst(200, "192.0.2.2")
    lan.nodes.append(high)
    lan._do(high, high.handle(m.Started(), lan.now))
    lan.run_until(12.0)
    assert lan.masters() == [1]


def test_master_answers_a_lower_priority_advert() -> None:
    i = inst(200)
    i.handle(m.Started(), 0.0)
    i.handle(m.TimerExpired(), i.next_deadline() or 0)
    assert i.state is m.State.MASTER
    acts = i.handle(m.AdvertReceived(Advert(2, 51, 100, VIP, 1.0), A("192.0.2.9")), 5.0)
    assert acts == [m.SendAdvert(200)]
    quiet = inst(200, lower_prio_no_advert=True)
    quiet.handle(m.Started(), 0.0)
    quiet.handle(m.TimerExpired(), quiet.next_deadline() or 0)
    assert quiet.handle(m.AdvertReceived(Advert(2, 51, 100, VIP, 1.0), A("192.0.2.9")), 5.0) == []


def test_v3_backup_learns_the_master_interval() -> None:
    i = inst(100, version=3, advert_int=1.0)
    i.handle(m.Started(), 0.0)
    i.handle(m.AdvertReceived(Advert(3, 51, 200, VIP, 0.5), A("192.0.2.9")), 1.0)
    assert i.master_adver_int == 0.5
    assert i.next_deadline() == pytest.approx(1.0 + 3 * 0.5 + (256 - 100) * 0.5 / 256)


def test_fault_releases_and_recovers() -> None:
    i = inst(255)
    i.handle(m.Started(), 0.0)
    acts = i.handle(m.FaultChanged(True, "interface eth0 down"), 1.0)
    assert m.SendAdvert(0) in acts and m.RemoveAddresses() in acts
    assert i.state is m.State.FAULT and i.next_deadline() is None
    i.handle(m.FaultChanged(False), 2.0)
    assert i.state is m.State.MASTER


def test_resume_within_master_down_keeps_addresses() -> None:
    i = inst(100)
    acts = i.handle(m.Started(resume_master_since=9.0), 10.0)
    assert i.state is m.State.MASTER
    assert m.AddAddresses() not in acts and m.SendAdvert(100) in acts
    j = inst(100)
    j.handle(m.Started(resume_master_since=0.0), 10.0)
    assert j.state is m.State.BACKUP


def test_garp_schedule_delay_and_refresh() -> None:
    i = inst(255, garp_master_delay=5.0, garp_master_repeat=3, garp_master_refresh=60.0,
             garp_master_refresh_repeat=2)
    i.handle(m.Started(), 0.0)
    seen = []
    t = 0.0
    while t < 130:
        d = i.next_deadline()
        assert d is not None
        t = d
        seen += [(round(t, 3), a.count) for a in i.handle(m.TimerExpired(), t)
                 if isinstance(a, m.SendGratuitous)]
    assert seen[0] == (5.0, 3) and seen[1] == (65.0, 2) and seen[2] == (125.0, 2)


EVENTS = st.one_of(
    st.builds(m.TimerExpired),
    st.builds(lambda p, ip: m.AdvertReceived(Advert(2, 51, p, VIP, 1.0), A(ip)),
              st.integers(0, 255), st.sampled_from(["192.0.2.1", "192.0.2.2", "192.0.2.3"])),
    st.builds(m.FaultChanged, st.booleans()),
    st.builds(m.PriorityChanged, st.integers(1, 254)),
)


@settings(max_examples=200)
@given(st.integers(1, 255), st.lists(st.tuples(EVENTS, st.floats(0, 5)), max_size=50))
def test_machine_never_raises_and_deadlines_move_forward(prio: int, events: list) -> None:
    i = inst(prio, "192.0.2.2")
    now = 0.0
    i.handle(m.Started(), now)
    for ev, dt in events:
        now += dt
        i.handle(ev, now)
        d = i.next_deadline()
        if isinstance(ev, m.TimerExpired):
            assert d is None or d > now - 1e-9
        assert (i.state is m.State.FAULT) == i.fault or i.state is not m.State.FAULT
