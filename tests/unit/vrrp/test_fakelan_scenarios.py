"""Several instances on a fake LAN with a manual clock; adverts go through the real codec."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vrrp_fakelan import FakeLan, params

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import ChecksumForm
from keepalived_py.vrrp.sync_group import GroupStateChanged, SyncGroup


def three(**kw: object) -> FakeLan:
    return FakeLan(params("A", 100, "192.0.2.1", **kw), params("B", 150, "192.0.2.2", **kw),
                   params("C", 200, "192.0.2.3", **kw))


@pytest.mark.parametrize("version", [2, 3])
def test_highest_priority_becomes_the_only_master(version: int) -> None:
    lan = three(version=version)
    lan.start()
    lan.run_until(10.0)
    assert lan.masters() == ["C"] and lan.holders() == ["C"]
    # C took over at its own Master_Down_Interval (the shortest, highest priority)
    assert lan.transitions("C")[-1][0] == pytest.approx(3 + 56 / 256, abs=1e-6)
    assert [s for _, _, s in lan.transitions("A")] == ["BACKUP"]


def test_master_stop_backup_takes_over_after_skew() -> None:
    lan = three()
    lan.start()
    lan.run_until(10.0)
    lan.event("C", m.Shutdown())
    stop = lan.now
    lan.run_for(0.5)
    assert lan.masters() == ["B"] and lan.holders() == ["B"]
    assert lan.transitions("B")[-1][0] == pytest.approx(stop + 106 / 256, abs=1e-6)


def test_silent_master_backup_takes_over_after_master_down() -> None:
    lan = three()
    lan.start()
    lan.run_until(10.0)
    lan.nodes["C"].up = False             # unplugged: no priority 0
    last_advert = max(t for t, _ in lan.actions_of("C", m.SendAdvert))
    lan.run_for(10.0)
    assert "B" in lan.masters()
    took = lan.transitions("B")[-1][0]
    assert took == pytest.approx(last_advert + 3 + 106 / 256, abs=1e-6)
    # plugged back: the higher priority preempts, B releases
    lan.nodes["C"].up = True
    lan.run_for(3.0)
    assert lan.masters() == ["C"] and lan.holders() == ["C"]


def test_restarted_higher_priority_preempts() -> None:
    lan = three()
    lan.start()
    lan.run_until(10.0)
    lan.event("C", m.Shutdown())
    lan.run_for(5.0)
    assert lan.masters() == ["B"]
    lan.nodes["C"].inst = m.Instance(lan["C"].p)
    lan.start("C")
    lan.run_for(10.0)
    assert lan.masters() == ["C"] and lan.holders() == ["C"]


def test_nopreempt_keeps_the_current_master() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1", nopreempt=True),
                  params("C", 200, "192.0.2.3", nopreempt=True))
    lan.start("A")
    lan.run_until(10.0)
    assert lan.masters() == ["A"]
    lan.start("C")
    lan.run_for(30.0)
    assert lan.masters() == ["A"]


def test_preempt_delay_scenario() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1"), params("C", 200, "192.0.2.3",
                                                          preempt_delay=8.0))
    lan.start("A")
    lan.run_until(10.0)
    lan.start("C")
    lan.run_for(7.0)
    assert lan.masters() == ["A"]
    lan.run_for(10.0)
    assert lan.masters() == ["C"]
    took = lan.transitions("C")[-1][0]
    assert 10.0 + 8.0 <= took <= 10.0 + 8.0 + 1 + 3 + 56 / 256 + 1e-6


def test_equal_priorities_backups_accept_the_first_master() -> None:
    # RFC 5798 §6.4.2 and keepalived: a BACKUP accepts an equal priority from any address
    lan = FakeLan(params("A", 100, "192.0.2.1"), params("B", 100, "192.0.2.9"))
    lan.start("A")
    lan.run_for(10.0)
    lan.start("B")
    lan.run_for(20.0)
    assert lan.masters() == ["A"] and lan.holders() == ["A"]


def test_equal_priority_masters_higher_address_wins() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1"), params("B", 100, "192.0.2.9"),
                  params("C", 100, "192.0.2.5"))
    for n in lan.nodes.values():
        n.up = False                        # partitioned: everyone becomes MASTER
    lan.start()
    lan.run_for(10.0)
    assert sorted(lan.masters()) == ["A", "B", "C"]
    for n in lan.nodes.values():
        n.up = True
    lan.run_for(3.0)
    assert lan.masters() == ["B"] and lan.holders() == ["B"]


def test_state_master_non_owner_takes_over_after_the_down_timer_and_yields_to_better() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1", initial_master=True),
                  params("C", 200, "192.0.2.3"))
    lan.start("A")
    lan.run_for(4.0)
    assert lan.masters() == ["A"]
    # keepalived 2.2.7: a whole Master_Down_Interval, as any backup (not one advert)
    assert lan.transitions("A")[-1][0] == pytest.approx(3 + 156 / 256, abs=1e-5)
    lan.start("C")
    lan.run_for(10.0)
    assert lan.masters() == ["C"]


def test_owner_starts_master_and_backups_follow() -> None:
    lan = FakeLan(params("O", 255, "192.0.2.1"), params("B", 200, "192.0.2.9"))
    lan.start()
    assert lan.masters() == ["O"]
    lan.run_for(20.0)
    assert lan.masters() == ["O"] and [s for _, _, s in lan.transitions("B")] == ["BACKUP"]


def test_v3_backups_learn_a_faster_master_interval() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1", version=3, advert_int=1.0),
                  params("C", 200, "192.0.2.3", version=3, advert_int=0.1))
    lan.start()
    lan.run_for(5.0)
    assert lan.masters() == ["C"]
    assert lan["A"].master_adver_int == pytest.approx(0.1)
    lan.event("C", m.Shutdown())
    lan.run_for(0.1)                        # priority 0: A takes over after its skew
    stop = lan.transitions("C")[-1][0]
    assert lan.masters() == ["A"]
    assert lan.transitions("A")[-1][0] == pytest.approx(stop + 156 * 0.1 / 256, abs=1e-6)


def test_lower_priority_master_forced_to_backup_after_partition() -> None:
    lan = FakeLan(params("A", 100, "192.0.2.1"), params("C", 200, "192.0.2.3"))
    lan.start()
    lan.run_for(10.0)
    assert lan.masters() == ["C"]
    lan.nodes["A"].up = False                # A cannot hear C: A becomes master too
    lan.run_for(5.0)
    assert sorted(lan.masters()) == ["A", "C"]
    lan.nodes["A"].up = True                 # the first advert heard settles it
    lan.run_for(2.0)
    assert lan.masters() == ["C"] and lan.holders() == ["C"]


def test_old_unicast_checksum_peer_is_followed() -> None:
    old = params("O", 200, "192.0.2.3", version=3, unicast=True,
                 checksum=ChecksumForm.OLD_UNICAST)
    new = params("N", 100, "192.0.2.1", version=3, unicast=True)
    lan = FakeLan(old, new)
    lan.start()
    lan.run_for(10.0)
    assert lan.masters() == ["O"]
    assert lan["N"].tx_checksum is ChecksumForm.OLD_UNICAST
    assert lan["N"].stats["chk_err"] == 0


def test_pass_auth_mismatch_two_masters() -> None:
    from keepalived_py.vrrp.packet import AUTH_PASS
    lan = FakeLan(params("A", 100, "192.0.2.1", auth_type=AUTH_PASS, auth_pass=b"one\0\0\0\0\0"),
                  params("C", 200, "192.0.2.3", auth_type=AUTH_PASS, auth_pass=b"two\0\0\0\0\0"))
    lan.start()
    lan.run_for(10.0)
    assert sorted(lan.masters()) == ["A", "C"]
    assert lan["A"].stats["auth_failure"] > 0 and lan["C"].stats["auth_failure"] > 0


def test_two_hundred_instances_at_a_tenth_of_a_second() -> None:
    """The core's share of the 200-instance bench: 10 s of 0.1 s adverts."""
    import time
    ps = [params(f"VI_{k}", 200, "192.0.2.1", vrid=k % 255 + 1, version=3, advert_int=0.1)
          for k in range(200)]
    insts = [m.Instance(p) for p in ps]
    for i in insts:
        i.handle(m.Resumed(True, 0.0), 0.0)
    t0 = time.process_time()
    sent = 0
    now = 0.0
    while now < 10.0:
        now = round(now + 0.1, 6)
        for i in insts:
            for a in i.handle(m.TimerExpired(), now):
                sent += a.__class__ is m.SendAdvert
    cpu = time.process_time() - t0
    assert sent == 200 * 100
    assert cpu < 1.0, f"{cpu:.3f} s of CPU for 20000 adverts"


# -- sync groups --------------------------------------------------------------------------------
def _group_lan() -> tuple[FakeLan, SyncGroup]:
    lan = FakeLan(params("I1", 100, "192.0.2.1", vrid=1), params("I2", 100, "192.0.2.1", vrid=2),
                  params("P1", 200, "192.0.2.3", vrid=1), params("P2", 200, "192.0.2.3", vrid=2))
    return lan, lan.sync_group("G", "I1", "I2")


def test_sync_group_members_fail_over_together() -> None:
    lan, g = _group_lan()
    lan.start()
    lan.run_for(10.0)
    assert sorted(lan.masters()) == ["P1", "P2"]
    assert g.state is m.State.BACKUP
    # only P1 dies: I1 wants MASTER but I2 still hears P2 - the group prefers BACKUP
    lan.nodes["P1"].up = False
    lan.run_for(20.0)
    assert lan["I1"].state is m.State.BACKUP and lan["I1"].wantstate is m.State.MASTER
    # P2 goes too: both members want MASTER and go together
    lan.nodes["P2"].up = False
    lan.run_for(10.0)
    assert lan["I1"].state is m.State.MASTER and lan["I2"].state is m.State.MASTER
    assert g.state is m.State.MASTER
    assert any(isinstance(a, GroupStateChanged) and a.new is m.State.MASTER
               for _, a in lan.group_log)


def test_sync_group_fault_takes_every_member_down() -> None:
    lan, g = _group_lan()
    lan.start("I1", "I2")
    lan.run_for(10.0)
    assert lan["I1"].state is m.State.MASTER and lan["I2"].state is m.State.MASTER
    assert g.state is m.State.MASTER
    lan.event("I1", m.FaultChanged(True, "eth1 down"))
    assert lan["I1"].state is m.State.FAULT and lan["I2"].state is m.State.FAULT
    assert lan.actions_of("I2", m.SendAdvert)[-1][1] == m.SendAdvert(0)
    assert g.state is m.State.FAULT and lan.holders() == []
    # I2's own fault comes and goes: the group stays down while I1 is faulty
    lan.event("I2", m.FaultChanged(True, "x"))
    lan.event("I2", m.FaultChanged(False))
    assert lan["I2"].state is m.State.FAULT
    lan.event("I1", m.FaultChanged(False))
    assert lan["I1"].state is m.State.BACKUP and lan["I2"].state is m.State.BACKUP
    assert g.state is m.State.BACKUP
    lan.run_for(10.0)
    assert g.state is m.State.MASTER and sorted(lan.holders()) == ["I1", "I2"]


def test_sync_group_master_yielding_takes_the_others_to_backup() -> None:
    lan, g = _group_lan()
    lan.start("I1", "I2")
    lan.run_for(10.0)
    assert g.state is m.State.MASTER
    lan.start("P1")                         # a better router for VRID 1 only
    lan.run_for(5.0)
    assert lan["I1"].state is m.State.BACKUP and lan["I2"].state is m.State.BACKUP
    assert g.state is m.State.BACKUP
    assert lan.masters() == ["P1"]          # nobody serves VRID 2: the group prefers BACKUP
    lan.run_for(30.0)
    assert lan["I2"].state is m.State.BACKUP


@settings(max_examples=40, deadline=None)
@given(prios=st.lists(st.integers(1, 254), min_size=2, max_size=4, unique=True),
       version=st.sampled_from([2, 3]), stop_at=st.floats(5.0, 20.0))
def test_random_lans_converge_to_one_master(prios: list[int], version: int,
                                            stop_at: float) -> None:
    lan = FakeLan(*[params(f"N{k}", p, f"192.0.2.{k + 1}", version=version)
                    for k, p in enumerate(prios)])
    lan.start()
    lan.run_until(stop_at)
    best = f"N{prios.index(max(prios))}"
    assert lan.masters() == [best] and lan.holders() == [best]
    lan.event(best, m.Shutdown())
    lan.run_for(5.0)
    rest = [p for p in prios if p != max(prios)]
    second = f"N{prios.index(max(rest))}"
    assert lan.masters() == [second] and lan.holders() == [second]


group_events = st.tuples(
    st.sampled_from(["I1", "I2", "I3"]),
    st.one_of(st.just("timer"), st.builds(lambda f: ("fault", f), st.booleans()),
              st.builds(lambda p: ("advert", p), st.integers(0, 255)), st.just("lost"),
              st.builds(lambda p: ("prio", p), st.integers(1, 254))),
    st.floats(0.0, 2.0))


@settings(max_examples=150, deadline=None)
@given(st.lists(group_events, max_size=50), st.booleans())
def test_random_sync_group_events_never_raise(script: list[tuple[str, object, float]],
                                              owner: bool) -> None:
    from ipaddress import IPv4Address

    from keepalived_py.vrrp.packet import Advert
    ps = [params(f"I{k}", 255 if owner and k == 1 else 100, "192.0.2.1", vrid=k)
          for k in (1, 2, 3)]
    insts = {p.name: m.Instance(p) for p in ps}
    g = SyncGroup("G", list(insts.values()))
    own_fault = dict.fromkeys(insts, False)
    now = 0.0
    for name in insts:
        g.handle(name, m.Started(), now)
    for name, ev, dt in script:
        target = now + dt
        while True:
            due = [(d, n) for n, i in insts.items() if (d := i.next_deadline()) is not None
                   and d <= target]
            if not due:
                break
            d, n = min(due)
            now = max(now, d)
            g.handle(n, m.TimerExpired(), now)
        now = target
        if ev == "timer":
            e: m.Event = m.TimerExpired()
        elif ev == "lost":
            e = m.AddressLost("192.0.2.100")
        elif isinstance(ev, tuple) and ev[0] == "fault":
            e = m.FaultChanged(ev[1], "t")
            own_fault[name] = ev[1]
        elif isinstance(ev, tuple) and ev[0] == "advert":
            e = m.AdvertReceived(Advert(2, insts[name].p.vrid, ev[1],
                                        (IPv4Address("192.0.2.100"),), 1.0),
                                 IPv4Address("192.0.2.7"), ttl=255)
        else:
            assert isinstance(ev, tuple)
            e = m.PriorityChanged(ev[1])
        g.handle(name, e, now)
        for i in insts.values():
            d = i.next_deadline()
            assert d is None or d > now
            assert (d is None) == (i.state in (m.State.FAULT, m.State.INIT, m.State.STOP))
        if any(own_fault.values()):
            assert all(i.state is m.State.FAULT for i in insts.values())
        else:
            assert not any(i.state is m.State.FAULT for i in insts.values())


def test_sync_group_owner_waits_for_the_group() -> None:
    lan = FakeLan(params("O", 255, "192.0.2.1", vrid=1), params("I2", 100, "192.0.2.1", vrid=2),
                  params("P2", 200, "192.0.2.3", vrid=2))
    lan.sync_group("G", "O", "I2")
    lan.start("P2")
    lan.run_for(5.0)
    lan.start("O", "I2")
    assert lan["O"].state is m.State.BACKUP     # the owner is held: I2 hears a better master
    lan.run_for(10.0)
    assert lan["O"].state is m.State.BACKUP and lan.masters() == ["P2"]
