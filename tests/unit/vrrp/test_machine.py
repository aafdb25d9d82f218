"""machine.Instance on its own: timers, start-up, transitions, bad adverts, properties."""
from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from keepalived_py.config.model import (
    GlobalDefs,
    UnicastPeer,
    VirtualAddress,
    VrrpInstance,
    VrrpState,
)
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import AUTH_NONE, AUTH_PASS, Advert, ChecksumForm, Reason
from keepalived_py.vrrp.priority import effective_priority

A = ipaddress.IPv4Address
ME, PEER_HI, PEER_LO = A("192.0.2.10"), A("192.0.2.20"), A("192.0.2.5")
VIP = (A("192.0.2.100"),)


def inst(prio: int = 100, **kw: object) -> m.Instance:
    kw.setdefault("advert_int", 1.0)
    kw.setdefault("addresses", VIP)
    kw.setdefault("primary", ME)
    return m.Instance(m.Params(name="VI_1", vrid=51, priority=prio, **kw))  # type: ignore[arg-type]


def adv(prio: int, version: int = 2, interval: float = 1.0, **kw: object) -> Advert:
    kw.setdefault("addresses", VIP)
    return Advert(version, kw.pop("vrid", 51), prio, interval=interval, **kw)  # type: ignore[arg-type]


def rx(i: m.Instance, a: Advert, now: float, src: A = PEER_HI, **kw: object) -> list[m.Action]:
    return i.handle(m.AdvertReceived(a, src, **kw), now)  # type: ignore[arg-type]


def started(prio: int = 100, **kw: object) -> m.Instance:
    i = inst(prio, **kw)
    i.handle(m.Started(), 0.0)
    return i


def master(prio: int = 100, **kw: object) -> m.Instance:
    i = started(prio, **kw)
    d = i.next_deadline()
    assert d is not None
    i.handle(m.TimerExpired(), d)
    assert i.state is m.State.MASTER
    return i


# -- timing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version,prio,interval,skew", [
    (2, 100, 1.0, 156 / 256), (2, 254, 1.0, 2 / 256), (2, 1, 3.0, 255 / 256),
    (3, 100, 1.0, 156 / 256), (3, 100, 0.5, 156 * 0.5 / 256), (3, 200, 2.0, 56 * 2 / 256),
])
def test_skew_and_master_down_interval(version: int, prio: int, interval: float,
                                       skew: float) -> None:
    i = inst(prio, version=version, advert_int=interval)
    assert i.skew() == pytest.approx(skew, abs=1e-6)
    assert i.master_down_interval() == pytest.approx(3 * interval + skew, abs=1e-6)
    j = inst(prio, version=version, advert_int=interval, down_timer_adverts=5)
    assert j.master_down_interval() == pytest.approx(5 * interval + skew, abs=1e-6)


def test_backup_start_waits_master_down_then_takes_over() -> None:
    i = inst(100)
    actions = i.handle(m.Started(), 10.0)
    assert i.state is m.State.BACKUP
    assert actions == [m.RemoveAddresses(), m.StateChanged(m.State.INIT, m.State.BACKUP, "init")]
    deadline = i.next_deadline()
    assert deadline == pytest.approx(10.0 + 3 + 156 / 256, abs=1e-6)
    assert i.handle(m.TimerExpired(), deadline - 0.01) == []
    actions = i.handle(m.TimerExpired(), deadline)
    assert i.state is m.State.MASTER
    assert actions[:3] == [m.SendAdvert(100), m.AddAddresses(), m.SendGratuitous(5, "master")]
    assert actions[3] == m.StateChanged(m.State.BACKUP, m.State.MASTER, "master down timer")
    assert i.stats["become_master"] == 1 and i.stats["advert_sent"] == 1


def test_address_owner_starts_master_at_once() -> None:
    i = inst(255)
    actions = i.handle(m.Started(), 0.0)
    assert i.state is m.State.MASTER
    assert actions[0] == m.SendAdvert(255) and actions[1] == m.AddAddresses()
    assert i.next_deadline() == pytest.approx(1.0)


def test_address_owner_down_timer_as_keepalived_stores_it() -> None:
    # keepalived.data prints ms_down_timer: 1 us after the owner's start as MASTER, advert +
    # skew after it leaves FAULT (try_up_instance), computed again once it leaves MASTER
    i = inst(255)
    i.handle(m.Started(), 0.0)
    assert i.down_timer_shown() == pytest.approx(1e-6)
    i.handle(m.FaultChanged(True, "x"), 1.0)
    assert i.wantstate is m.State.FAULT
    i.handle(m.FaultChanged(False), 2.0)
    assert i.down_timer_shown() == pytest.approx(1 + 1 / 256, abs=1e-6)


def test_started_in_fault_wants_fault() -> None:
    i = inst(100)
    i.handle(m.FaultChanged(True, "script chk"), 0.0)
    i.handle(m.Started(), 0.0)
    assert (i.state, i.wantstate) == (m.State.FAULT, m.State.FAULT)     # vrrp_init_state


def test_owner_with_state_backup_waits_like_a_backup() -> None:
    i = inst(255, initial_master=False)
    i.handle(m.Started(), 0.0)
    assert i.state is m.State.BACKUP
    assert i.next_deadline() == pytest.approx(3 + 1 / 256, abs=1e-6)


@pytest.mark.parametrize("version,interval,wait", [(2, 1.0, 3 + 106 / 256),
                                                   (3, 2.0, 6 + 106 * 2 / 256)])
def test_state_master_below_owner_waits_a_master_down_interval(version: int, interval: float,
                                                               wait: float) -> None:
    # keepalived 2.2.7's vrrp_init_state: only the address owner skips the down timer
    i = inst(150, initial_master=True, version=version, advert_int=interval)
    i.handle(m.Started(), 0.0)
    assert i.state is m.State.BACKUP
    assert i.next_deadline() == pytest.approx(wait, abs=1e-5)
    i.handle(m.TimerExpired(), wait)
    assert i.state is m.State.MASTER


def test_state_master_stays_backup_when_a_better_master_speaks() -> None:
    i = inst(150, initial_master=True)
    i.handle(m.Started(), 0.0)
    rx(i, adv(200), 0.5)
    assert i.state is m.State.BACKUP
    assert i.next_deadline() == pytest.approx(0.5 + 3 + 106 / 256, abs=1e-6)


def test_started_in_fault() -> None:
    i = inst(100)
    i.handle(m.FaultChanged(True, "eth0 down"), 0.0)
    actions = i.handle(m.Started(), 0.0)
    assert i.state is m.State.FAULT
    assert m.StateChanged(m.State.INIT, m.State.FAULT, "eth0 down") in actions
    assert i.next_deadline() is None
    i.handle(m.FaultChanged(False), 2.0)
    assert i.state is m.State.BACKUP
    assert i.next_deadline() == pytest.approx(2 + 3 + 156 / 256, abs=1e-6)


# -- BACKUP -----------------------------------------------------------------------------------
def test_backup_priority_zero_shortens_to_skew() -> None:
    i = started(100)
    assert rx(i, adv(0), 1.0) == []
    assert i.next_deadline() == pytest.approx(1.0 + 156 / 256, abs=1e-6)
    assert i.stats["pri_zero_rcvd"] == 1


def test_backup_restarts_timer_on_higher_or_equal_advert() -> None:
    i = started(100)
    rx(i, adv(200), 2.0)
    assert i.next_deadline() == pytest.approx(2.0 + 3 + 156 / 256, abs=1e-6)
    rx(i, adv(100), 4.0, src=PEER_LO)     # equal priority from a lower address: still a master
    assert i.next_deadline() == pytest.approx(4.0 + 3 + 156 / 256, abs=1e-6)
    assert i.master_source == PEER_LO and i.last_master_advert == 4.0


def test_backup_ignores_lower_priority_and_preempts() -> None:
    i = started(100)
    rx(i, adv(200), 0.0)
    d = i.next_deadline()
    rx(i, adv(50), 1.0)
    assert i.next_deadline() == d            # ignored: the timer keeps running
    i.handle(m.TimerExpired(), d)
    assert i.state is m.State.MASTER


def test_nopreempt_backup_accepts_a_lower_master() -> None:
    i = started(200, nopreempt=True)
    for t in range(0, 30, 1):
        rx(i, adv(50), float(t))
        i.handle(m.TimerExpired(), float(t) + 0.5)
    assert i.state is m.State.BACKUP


def test_preempt_delay_accepts_a_lower_master_for_the_delay() -> None:
    i = started(200, preempt_delay=10.0)
    t = 0.0
    while t < 9.5:
        rx(i, adv(50), t)
        i.handle(m.TimerExpired(), t + 0.5)
        assert i.state is m.State.BACKUP
        t += 1.0
    # past the delay the lower adverts are ignored: take over one Master_Down later
    last_reset = i.next_deadline()
    assert last_reset == pytest.approx(9.0 + 3 + 56 / 256, abs=1e-6)
    while i.state is m.State.BACKUP:
        rx(i, adv(50), t)
        assert t < 20
        d = i.next_deadline()
        assert d is not None
        if d <= t + 1.0:
            i.handle(m.TimerExpired(), d)
        t += 1.0
    assert i.became_master_at == pytest.approx(last_reset)


def test_preempt_delay_stops_when_a_higher_master_speaks() -> None:
    i = started(200, preempt_delay=5.0)
    rx(i, adv(50), 0.0)
    rx(i, adv(250), 1.0)                    # clears the running delay
    for t in (2.0, 3.0, 4.0, 5.0, 6.0, 7.0):
        rx(i, adv(50), t)                   # a new delay from 2.0
    assert i.state is m.State.BACKUP
    rx(i, adv(50), 7.5)
    d = i.next_deadline()
    assert d == pytest.approx(6.0 + 3 + 56 / 256, abs=1e-6)   # 7.0 and 7.5 were ignored


def test_v3_backup_learns_the_masters_interval() -> None:
    i = started(100, version=3, advert_int=1.0)
    rx(i, adv(200, version=3, interval=0.2), 1.0)
    assert i.master_adver_int == pytest.approx(0.2)
    assert i.next_deadline() == pytest.approx(1.0 + 3 * 0.2 + 156 * 0.2 / 256, abs=1e-6)
    d = i.next_deadline()
    i.handle(m.TimerExpired(), d)
    assert i.state is m.State.MASTER
    assert i.master_adver_int == 1.0          # a master advertises at its own interval
    assert i.next_deadline() == pytest.approx(d + 1.0)


def test_v2_backup_does_not_learn_the_interval() -> None:
    i = started(100, version=2, advert_int=1.0)
    assert rx(i, adv(200, interval=2.0), 1.0)[0].reason is Reason.BAD_INTERVAL  # type: ignore[attr-defined]
    assert i.master_adver_int == 1.0


# -- MASTER -----------------------------------------------------------------------------------
def test_master_adverts_every_interval_without_drift() -> None:
    i = master(100)
    start = i.became_master_at
    assert start is not None
    sent = 0
    for k in range(1, 101):
        d = i.next_deadline()
        assert d == pytest.approx(start + k, abs=1e-6)
        actions = i.handle(m.TimerExpired(), d + 0.003)       # the loop wakes a bit late
        sent += sum(isinstance(a, m.SendAdvert) for a in actions)
    assert sent == 100


def test_master_answers_a_lower_priority_advert() -> None:
    i = master(100)
    t = i.became_master_at + 0.3  # type: ignore[operator]
    actions = rx(i, adv(50), t, src=PEER_LO)
    assert actions[0] == m.SendAdvert(100)
    assert m.SendGratuitous(5, "lower_prio") in actions
    assert m.NotifyLowerPriority(PEER_LO, 50) in actions
    assert i.state is m.State.MASTER
    assert i.next_deadline() == pytest.approx(t + 1.0)      # the advert timer restarts


def test_master_lower_prio_no_advert_and_garp_lower_prio_delay() -> None:
    i = master(100, lower_prio_no_advert=True, garp_lower_prio_delay=2.0,
               garp_lower_prio_repeat=3, garp_master_delay=0)
    t0 = i.became_master_at
    assert t0 is not None
    actions = rx(i, adv(50), t0 + 0.5, src=PEER_LO)
    assert not any(isinstance(a, m.SendAdvert) for a in actions)
    assert m.SendGratuitous(3, "lower_prio") in actions
    assert i.next_deadline() == pytest.approx(t0 + 1.0)      # advert timer not reset
    i.handle(m.TimerExpired(), t0 + 1.0)
    i.handle(m.TimerExpired(), t0 + 2.0)
    assert i.next_deadline() == pytest.approx(t0 + 2.5)
    assert i.handle(m.TimerExpired(), t0 + 2.5) == [m.SendGratuitous(3, "lower_prio_delay")]


def test_master_priority_zero_answered_at_once() -> None:
    i = master(100)
    actions = rx(i, adv(0), 50.0)
    assert actions == [m.SendAdvert(100)]
    assert i.state is m.State.MASTER and i.stats["pri_zero_rcvd"] == 1


def test_master_yields_to_higher_priority() -> None:
    i = master(100, version=3)
    actions = rx(i, adv(200, version=3, interval=0.5), 20.0)
    assert i.state is m.State.BACKUP
    assert actions == [m.RemoveAddresses(), m.StateChanged(
        m.State.MASTER, m.State.BACKUP, f"higher priority advert from {PEER_HI}")]
    assert i.master_adver_int == 0.5
    assert i.next_deadline() == pytest.approx(20.0 + 1.5 + 156 * 0.5 / 256, abs=1e-6)
    assert i.stats["release_master"] == 1


def test_master_equal_priority_tie_break_on_primary_address() -> None:
    i = master(100)
    actions = rx(i, adv(100), 20.0, src=PEER_LO)         # lower address: we stay
    assert i.state is m.State.MASTER and actions[0] == m.SendAdvert(100)
    rx(i, adv(100), 21.0, src=PEER_HI)                   # higher address: we yield
    assert i.state is m.State.BACKUP


def test_higher_prio_send_advert_sends_before_yielding() -> None:
    i = master(100, higher_prio_send_advert=True)
    actions = rx(i, adv(200), 20.0)
    assert actions[0] == m.SendAdvert(100)
    assert i.state is m.State.BACKUP


def test_two_address_owners_the_master_steps_down_to_254() -> None:
    i = inst(255)
    i.handle(m.Started(), 0.0)
    rx(i, adv(255), 0.5, src=PEER_HI)
    assert i.priority == 254 and i.state is m.State.BACKUP


def test_garp_bursts_on_becoming_master_delay_and_refresh() -> None:
    i = master(100, garp_master_delay=5.0, garp_master_repeat=2, garp_master_refresh=10.0,
               garp_master_refresh_repeat=3)
    t0 = i.became_master_at
    assert t0 is not None
    garps: list[tuple[float, m.SendGratuitous]] = []
    t = t0
    while t < t0 + 25:
        d = i.next_deadline()
        assert d is not None and d > t
        t = d
        garps += [(t - t0, a) for a in i.handle(m.TimerExpired(), t)
                  if isinstance(a, m.SendGratuitous)]
    assert [(round(dt, 3), a.count, a.why) for dt, a in garps] == [
        (5.0, 2, "master_delay"), (10.0, 3, "refresh"), (20.0, 3, "refresh")]


def test_garp_master_delay_zero_sends_one_burst() -> None:
    i = master(100, garp_master_delay=0)
    for _ in range(1, 10):
        actions = i.handle(m.TimerExpired(), i.next_deadline())  # type: ignore[arg-type]
        assert actions == [m.SendAdvert(100)]


def test_garp_master_repeat_zero_sends_none() -> None:
    i = started(100, garp_master_repeat=0)
    actions = i.handle(m.TimerExpired(), i.next_deadline())  # type: ignore[arg-type]
    assert not any(isinstance(a, m.SendGratuitous) for a in actions)


# -- FAULT, stop, resume ----------------------------------------------------------------------
def test_master_fault_sends_priority_zero_and_releases() -> None:
    i = master(100)
    actions = i.handle(m.FaultChanged(True, "track_script chk down"), 30.0)
    assert actions == [m.SendAdvert(0), m.RemoveAddresses(),
                       m.StateChanged(m.State.MASTER, m.State.FAULT, "track_script chk down")]
    assert i.next_deadline() is None
    assert rx(i, adv(200), 31.0) == [] and i.stats["advert_rcvd"] == 0
    assert i.handle(m.TimerExpired(), 40.0) == []
    actions = i.handle(m.FaultChanged(False), 50.0)
    assert i.state is m.State.BACKUP
    assert i.next_deadline() == pytest.approx(50 + 3 + 156 / 256, abs=1e-6)


def test_owner_leaves_fault_as_master() -> None:
    i = inst(255)
    i.handle(m.Started(), 0.0)
    i.handle(m.FaultChanged(True, "down"), 1.0)
    assert i.state is m.State.FAULT
    i.handle(m.FaultChanged(False), 2.0)
    assert i.state is m.State.MASTER


def test_shutdown_master_sends_priority_zero() -> None:
    i = master(100)
    actions = i.handle(m.Shutdown(), 9.0)
    assert actions == [m.SendAdvert(0), m.RemoveAddresses(),
                       m.StateChanged(m.State.MASTER, m.State.STOP, "shutdown")]
    assert i.stats["pri_zero_sent"] == 1
    assert i.next_deadline() is None
    assert i.handle(m.TimerExpired(), 20.0) == [] and rx(i, adv(200), 20.0) == []
    assert i.handle(m.Shutdown(), 21.0) == []


def test_shutdown_backup() -> None:
    i = started(100)
    assert i.handle(m.Shutdown(), 1.0) == [m.StateChanged(m.State.BACKUP, m.State.STOP,
                                                          "shutdown")]


def test_resumed_master_within_master_down_advertises_at_once() -> None:
    i = inst(100)
    actions = i.handle(m.Resumed(True, 98.0), 100.0)
    assert i.state is m.State.MASTER
    assert actions[0] == m.SendAdvert(100) and m.AddAddresses() in actions
    assert not any(isinstance(a, (m.SendGratuitous, m.RemoveAddresses)) for a in actions)
    assert i.next_deadline() == pytest.approx(101.0)


def test_resumed_too_late_starts_as_keepalived() -> None:
    i = inst(100)
    i.handle(m.Resumed(True, 90.0), 100.0)
    assert i.state is m.State.BACKUP
    j = inst(100)
    j.handle(m.Resumed(False, 99.9), 100.0)
    assert j.state is m.State.BACKUP
    k = inst(100)
    k.handle(m.Started(resume_master_since=99.0), 100.0)       # the older spelling
    assert k.state is m.State.MASTER


def test_address_lost_sends_master_to_backup() -> None:
    i = master(100)
    actions = i.handle(m.AddressLost("192.0.2.100"), 10.0)
    assert i.state is m.State.BACKUP and actions[:2] == [m.SendAdvert(0), m.RemoveAddresses()]
    assert i.next_deadline() == pytest.approx(10.0 + 156 / 256, abs=1e-6)   # back quickly
    actions = i.handle(m.TimerExpired(), i.next_deadline())  # type: ignore[arg-type]
    assert i.state is m.State.MASTER and m.AddAddresses() in actions


def test_priority_change_moves_the_running_down_timer() -> None:
    i = started(100)
    d = i.next_deadline()
    i.handle(m.PriorityChanged(200), 1.0)
    assert i.priority == 200
    assert i.next_deadline() == pytest.approx(d - 100 / 256, abs=1e-6)   # type: ignore[operator]
    i.handle(m.PriorityChanged(500), 1.0)
    assert i.priority == 254
    owner = inst(255)
    owner.handle(m.PriorityChanged(10), 0.0)
    assert owner.priority == 255


def test_effective_priority_clamps_as_keepalived() -> None:
    assert effective_priority(100, [50, -20]) == 130
    assert effective_priority(100, 500) == 254
    assert effective_priority(100, -500) == 1
    assert effective_priority(255, -100) == 255


# -- bad adverts: dropped, counted, nothing changes ------------------------------------------
BAD: list[tuple[str, dict[str, object], dict[str, object], dict[str, object], str]] = [
    # name, instance params, advert fields, AdvertReceived extras, counter
    ("ttl 64", {}, {}, {"ttl": 64}, "ip_ttl_err"),
    ("version 3 on v2", {}, {"version": 3}, {}, "vers_err"),
    ("other vrid", {}, {"vrid": 52}, {}, "vrid_err"),
    ("auth on no-auth", {}, {"auth_type": AUTH_PASS, "auth_data": b"x"}, {}, "authtype_mismatch"),
    ("no auth on PASS", {"auth_type": AUTH_PASS, "auth_pass": b"secret\0\0"},
     {"auth_type": AUTH_NONE, "auth_data": b""}, {},
     "authtype_mismatch"),
    ("wrong password", {"auth_type": AUTH_PASS, "auth_pass": b"secret\0\0"},
     {"auth_type": AUTH_PASS, "auth_data": b"guess\0\0\0"}, {}, "auth_failure"),
    ("v2 interval", {}, {"interval": 3.0}, {}, "advert_interval_err"),
    ("address count", {}, {"addresses": VIP + (A("192.0.2.101"),)}, {}, "addr_list_err"),
    ("address list", {}, {"addresses": (A("192.0.2.99"),)}, {}, "addr_list_err"),
    ("multicast on unicast", {"unicast": True}, {}, {"multicast": True}, "addr_list_err"),
    ("unicast on multicast", {}, {}, {"multicast": False}, "addr_list_err"),
    ("unknown peer", {"unicast": True, "check_unicast_src": True,
                      "unicast_peers": (m.Peer(A("192.0.2.77")),)}, {}, {}, "unicast_src_err"),
    ("peer ttl", {"unicast": True, "check_unicast_src": True,
                  "unicast_peers": (m.Peer(PEER_HI, 250, 255),)}, {}, {"ttl": 64}, "ip_ttl_err"),
    ("v3 as_v2 checksum", {"version": 3}, {"version": 3, "checksum_form": ChecksumForm.AS_V2}, {},
     "chk_err"),
    ("v3 old unicast on multicast", {"version": 3},
     {"version": 3, "checksum_form": ChecksumForm.OLD_UNICAST}, {}, "chk_err"),
]


@pytest.mark.parametrize("state", ["BACKUP", "MASTER"])
@pytest.mark.parametrize("name,pkw,akw,ekw,counter", BAD, ids=[b[0] for b in BAD])
def test_bad_advert_dropped_counted_state_unchanged(state: str, name: str, pkw: dict[str, object],
                                                    akw: dict[str, object],
                                                    ekw: dict[str, object], counter: str) -> None:
    i = master(100, **pkw) if state == "MASTER" else started(100, **pkw)
    before = (i.state, i.next_deadline(), i.priority, i.master_adver_int)
    good = {"version": i.p.version, "auth_type": i.p.auth_type, "auth_data": i.p.auth_pass}
    good.update(akw)
    version = good.pop("version")
    a = adv(250, version=version, **good)  # type: ignore[arg-type]
    actions = rx(i, a, 2.0, **ekw)
    assert len(actions) == 1 and isinstance(actions[0], m.RejectAdvert)
    assert actions[0].reason.counter == counter
    assert i.stats[counter] == 1
    assert (i.state, i.next_deadline(), i.priority, i.master_adver_int) == before
    # and the same advert without the fault is accepted
    if state == "BACKUP":
        ok = adv(250, version=i.p.version, auth_type=i.p.auth_type, auth_data=i.p.auth_pass)
        src = PEER_HI
        rx(i, ok, 2.0, src=src)
        assert i.next_deadline() != before[1] or i.p.unicast


def test_decode_failures_counted_per_instance() -> None:
    i = started(100)
    assert i.handle(m.AdvertInvalid(Reason.PACKET_TOO_SHORT, "7 bytes"), 1.0) == []
    assert i.handle(m.AdvertInvalid(Reason.BAD_CHECKSUM), 1.0) == []
    assert i.stats["packet_len_err"] == 1 and i.stats["chk_err"] == 1
    assert i.state is m.State.BACKUP


def test_skip_check_adv_addr_only_for_the_same_master() -> None:
    i = started(100, skip_check_adv_addr=True)
    rx(i, adv(200), 1.0)                                     # checked, accepted
    wrong = adv(200, addresses=(A("192.0.2.99"),))
    assert rx(i, wrong, 2.0) == []                           # same master: not checked
    assert i.next_deadline() == pytest.approx(2 + 3 + 156 / 256, abs=1e-6)
    assert isinstance(rx(i, wrong, 3.0, src=PEER_LO)[0], m.RejectAdvert)


def test_old_unicast_checksum_is_learned_by_a_unicast_instance() -> None:
    i = started(100, version=3, unicast=True)
    actions = rx(i, adv(200, version=3, checksum_form=ChecksumForm.OLD_UNICAST), 1.0)
    assert actions == [m.UseChecksum(ChecksumForm.OLD_UNICAST)]
    assert i.tx_checksum is ChecksumForm.OLD_UNICAST
    assert rx(i, adv(200, version=3, checksum_form=ChecksumForm.OLD_UNICAST), 2.0) == []
    never = started(100, version=3, unicast=True, checksum_auto=False)
    assert isinstance(rx(never, adv(200, version=3, checksum_form=ChecksumForm.OLD_UNICAST),
                         1.0)[0], m.RejectAdvert)


def test_pass_authentication_accepted() -> None:
    i = started(100, auth_type=AUTH_PASS, auth_pass=b"secret\0\0")
    assert rx(i, adv(200, auth_type=AUTH_PASS, auth_data=b"secret"), 1.0) == []
    assert i.stats["advert_rcvd"] == 1 and i.master_source == PEER_HI


# -- from the configuration -------------------------------------------------------------------
def test_params_from_config() -> None:
    vi = VrrpInstance(
        name="VI_1", interface="eth0", virtual_router_id=51, state=VrrpState.MASTER,
        priority=150, advert_int=2.0, version=2, auth_type="PASS", auth_pass="pw",
        virtual_ipaddress=(VirtualAddress(address=ipaddress.ip_interface("192.0.2.100/24")),),
        unicast_peer=(UnicastPeer(address=A("192.0.2.2"), min_ttl=200),),
        unicast_src_ip=A("192.0.2.1"), garp_master_repeat=3, check_unicast_src=True)
    p = m.Params.from_config(vi, primary=A("192.0.2.9"),
                             global_defs=GlobalDefs(vrrp_garp_lower_prio_repeat=2))
    assert (p.name, p.vrid, p.priority, p.advert_int, p.version) == ("VI_1", 51, 150, 2.0, 2)
    assert p.primary == A("192.0.2.1")                        # unicast_src_ip wins
    assert p.addresses == (A("192.0.2.100"),)
    assert p.wants_master and p.unicast and p.check_unicast_src
    assert p.unicast_peers == (m.Peer(A("192.0.2.2"), 200, 255),)
    assert (p.auth_type, p.auth_pass) == (AUTH_PASS, b"pw\0\0\0\0\0\0")
    assert (p.garp_master_repeat, p.garp_lower_prio_repeat, p.garp_lower_prio_delay) == (3, 2, 5.0)
    assert p.advert(100) == Advert(2, 51, 100, (A("192.0.2.100"),), 2.0, AUTH_PASS,
                                   b"pw\0\0\0\0\0\0")
    v3 = VrrpInstance(name="VI_6", interface="eth0", virtual_router_id=9, version=3, family=6,
                      priority=255, state=VrrpState.MASTER,   # as build.py resolves it
                      virtual_ipaddress=(VirtualAddress(
                          address=ipaddress.ip_interface("2001:db8::1/64")),))
    p6 = m.Params.from_config(v3, primary=ipaddress.ip_address("fe80::1"))
    assert p6.family == 6 and p6.wants_master and p6.auth_type == AUTH_NONE
    assert str(p6.group) == "ff02::12"
    i = m.Instance(p6)
    i.handle(m.Started(), 0.0)
    assert i.state is m.State.MASTER


# -- properties ---------------------------------------------------------------------------------
PEERS = [A("192.0.2.5"), A("192.0.2.10"), A("192.0.2.20")]

events = st.one_of(
    st.just("timer"),
    st.builds(lambda p, s, v, iv: ("advert", p, s, v, iv), st.integers(0, 255),
              st.sampled_from(PEERS), st.sampled_from([2, 3]), st.sampled_from([0.1, 1.0, 2.5])),
    st.builds(lambda f: ("fault", f), st.booleans()),
    st.builds(lambda p: ("prio", p), st.integers(-10, 300)),
    st.just("lost"), st.just("shutdown"), st.just("resumed"), st.just("started"),
)


@settings(max_examples=300, deadline=None)
@given(prio=st.integers(1, 255), version=st.sampled_from([2, 3]),
       opts=st.fixed_dictionaries({
           "nopreempt": st.booleans(), "preempt_delay": st.sampled_from([0.0, 2.0]),
           "lower_prio_no_advert": st.booleans(), "higher_prio_send_advert": st.booleans(),
           "garp_master_delay": st.sampled_from([0.0, 0.5]),
           "garp_master_refresh": st.sampled_from([0.0, 1.5]),
           "initial_master": st.sampled_from([None, True, False]),
           "skip_check_adv_addr": st.booleans()}),
       script=st.lists(st.tuples(st.floats(0.0, 3.0), events), max_size=60))
def test_random_event_sequences_never_raise_and_deadlines_are_future(
        prio: int, version: int, opts: dict[str, object],
        script: list[tuple[float, object]]) -> None:
    i = inst(prio, version=version, **opts)
    now = 0.0
    holding = _check(i, i.handle(m.Started(), now), now, False)
    for dt, ev in script:
        target = now + dt
        # the edge fires every due timer before the next event
        while (d := i.next_deadline()) is not None and d <= target:
            now = max(now, d)
            holding = _check(i, i.handle(m.TimerExpired(), now), now, holding)
        now = target
        if ev == "timer":
            e: m.Event = m.TimerExpired()
        elif ev == "lost":
            e = m.AddressLost("192.0.2.100")
        elif ev == "shutdown":
            e = m.Shutdown()
        elif ev == "resumed":
            e = m.Resumed(True, now - 0.5)
        elif ev == "started":
            e = m.Started()
        elif isinstance(ev, tuple) and ev[0] == "advert":
            _, p, s, v, iv = ev
            e = m.AdvertReceived(adv(p, version=v, interval=iv), s, ttl=255)
        elif isinstance(ev, tuple) and ev[0] == "fault":
            e = m.FaultChanged(ev[1], "test")
        else:
            assert isinstance(ev, tuple)
            e = m.PriorityChanged(ev[1])
        holding = _check(i, i.handle(e, now), now, holding)


def _check(i: m.Instance, actions: list[m.Action], now: float, holding: bool) -> bool:
    d = i.next_deadline()
    if d is not None:
        assert d > now and math.isfinite(d)
    if i.state is m.State.MASTER:
        assert d is not None
        assert 1 <= i.priority <= 255
    elif i.state is m.State.BACKUP:
        assert d is not None
    else:
        assert d is None
    for a in actions:
        if isinstance(a, m.AddAddresses):
            holding = True
        elif isinstance(a, m.RemoveAddresses):
            holding = False
        elif isinstance(a, m.SendAdvert):
            assert 0 <= a.priority <= 255
    if i.state is m.State.MASTER:
        assert holding
    elif i.state in (m.State.BACKUP, m.State.FAULT, m.State.STOP):
        assert not holding
    return holding


def test_primary_changed_moves_the_tie_break() -> None:
    i = master(100)
    i.handle(m.PrimaryChanged(A("192.0.2.30")), 20.0)          # now above PEER_HI
    rx(i, adv(100), 20.5, src=PEER_HI)
    assert i.state is m.State.MASTER


def test_reconfigured_keeps_state_and_timers() -> None:
    i = master(100)
    d = i.next_deadline()
    new = m.Params(name="VI_1", vrid=51, priority=120, advert_int=1.0, addresses=VIP,
                   primary=ME, garp_master_repeat=1)
    assert i.handle(m.Reconfigured(new), 20.0) == []
    assert i.state is m.State.MASTER and i.next_deadline() == d and i.p is new
    faster = m.Params(name="VI_1", vrid=51, priority=120, advert_int=0.5, addresses=VIP,
                      primary=ME)
    i.handle(m.Reconfigured(faster), 20.0)
    assert i.next_deadline() == pytest.approx(min(d, 20.5))  # type: ignore[type-var]


def test_params_from_config_checksum_forms_and_strict() -> None:
    base = {"name": "VI", "interface": "eth0", "virtual_router_id": 1, "version": 3,
            "virtual_ipaddress": (VirtualAddress(address=ipaddress.ip_interface("192.0.2.1/32")),)}
    assert m.Params.from_config(VrrpInstance(**base)).checksum is ChecksumForm.STANDARD  # type: ignore[arg-type]
    old = VrrpInstance(**base, old_unicast_checksum=True,  # type: ignore[arg-type]
                       unicast_peer=(UnicastPeer(address=A("192.0.2.2")),))
    assert m.Params.from_config(old).checksum is ChecksumForm.OLD_UNICAST
    as_v2 = VrrpInstance(**base, v3_checksum_as_v2=True)  # type: ignore[arg-type]
    assert m.Params.from_config(as_v2).checksum is ChecksumForm.AS_V2
    strict = m.Params.from_config(VrrpInstance(**base, strict_mode=True))  # type: ignore[arg-type]
    assert (strict.garp_lower_prio_repeat, strict.garp_lower_prio_delay) == (0, 0.0)
    mixed = VrrpInstance(**{**base, "virtual_ipaddress": base["virtual_ipaddress"] + (  # type: ignore[arg-type, operator]
        VirtualAddress(address=ipaddress.ip_interface("2001:db8::1/128")),)})
    assert m.Params.from_config(mixed, primary=ipaddress.ip_address("2001:db8::9")).primary \
        is None                                              # a source of the wrong family
    assert m.Params.from_config(mixed).addresses == (A("192.0.2.1"),)


def test_advert_cache_of_params_matches_what_the_instance_accepts() -> None:
    from keepalived_py.vrrp.packet import AdvertCache, decode
    p = m.Params(name="VI_1", vrid=51, priority=100, version=3, addresses=VIP, primary=PEER_HI)
    wire = AdvertCache(p.advert(), PEER_HI, p.group).payload(200)
    got = decode(wire, family=4, src=PEER_HI, dst=p.group)
    i = started(100, version=3)
    assert rx(i, got, 1.0, ttl=255, multicast=True) == []
    assert i.master_source == PEER_HI


# -- the fast path (issue 16): advert_fast must be exactly handle(AdvertReceived) ---------------
_FAST_ADVERTS = [adv(p) for p in (150, 200, 0, 50, 100, 255)] + [adv(150, interval=2.0)]
_FAST_SOURCES = [PEER_HI, PEER_LO, ME]


def _fast_view(i: m.Instance) -> tuple[object, ...]:
    t = i._t
    return (i.state, i.wantstate, i.priority, dict(i.stats), i.master_source, i.master_priority,
            i.last_master_advert, i.master_adver_int, t.down, t.advert, t.garp_delay,
            t.garp_refresh, tuple(t.lower_garps), i.next_deadline(), i._preempt_until,
            i.rx_lost, i._down_extended, i.master_heard)


@settings(max_examples=300, deadline=None)
@given(prio=st.sampled_from([50, 100, 150, 254]),
       preempt_delay=st.sampled_from([0.0, 0.0, 2.0]), nopreempt=st.booleans(),
       skip=st.sampled_from([False, False, True]),
       steps=st.lists(st.tuples(
           st.sampled_from(["advert", "again", "again", "again", "timer", "priority",
                            "fault"]),
           st.integers(0, len(_FAST_ADVERTS) - 1), st.integers(0, len(_FAST_SOURCES) - 1),
           st.sampled_from([255, 255, 255, 254]), st.floats(0.01, 1.0)),
           min_size=1, max_size=40))
def test_advert_fast_equals_the_slow_path(prio: int, preempt_delay: float, nopreempt: bool,
                                          skip: bool, steps: list[tuple[str, int, int, int,
                                                                        float]]) -> None:
    """Two instances fed the same events, one trying advert_fast before handle(): the same
    actions, state, statistics and timers after every step."""
    kw = dict(preempt_delay=preempt_delay, nopreempt=nopreempt, skip_check_adv_addr=skip)
    slow, fast = started(prio, **kw), started(prio, **kw)
    now = 0.0
    last = (0, 0, 255)                          # adv(150) from PEER_HI
    hits = 0
    for kind, ai, si, ttl, dt in steps:
        now += dt
        if kind == "again":                     # the master's same advert again
            kind, (ai, si, ttl) = "advert", last
        if kind == "advert":
            last = (ai, si, ttl)
            a, src = _FAST_ADVERTS[ai], _FAST_SOURCES[si]
            expect = slow.handle(m.AdvertReceived(a, src, ttl), now)
            deadline = fast.advert_fast(a, src, ttl, None, now)
            if deadline is None:
                got = fast.handle(m.AdvertReceived(a, src, ttl), now)
            else:
                got = []
                hits += 1
                assert deadline == fast.next_deadline()
        elif kind == "timer":
            d = slow.next_deadline()
            if d is None or d > now + 5:
                continue
            now = max(now, d)
            expect, got = slow.handle(m.TimerExpired(), now), fast.handle(m.TimerExpired(), now)
        elif kind == "priority":
            ev = m.PriorityChanged(effective=max(1, prio - 60 + ai * 20))
            expect, got = slow.handle(ev, now), fast.handle(ev, now)
        else:
            ev = m.FaultChanged(fault=bool(ai % 2), reason="link")
            expect, got = slow.handle(ev, now), fast.handle(ev, now)
        assert got == expect
        assert _fast_view(fast) == _fast_view(slow)
    event(f"fast path taken: {min(hits, 3)}+ times")


def test_advert_fast_is_taken_in_the_steady_state() -> None:
    i = started(100)
    a = adv(150)
    assert i.advert_fast(a, PEER_HI, 255, None, 0.5) is None       # first: the slow path
    rx(i, a, 0.5, ttl=255)
    d = i.advert_fast(a, PEER_HI, 255, None, 1.5)
    assert d == pytest.approx(1.5 + i.master_down_interval())
    assert i.stats["advert_rcvd"] == 2 and i.last_master_advert == 1.5
    assert i.advert_fast(adv(150), PEER_HI, 255, None, 2.0) is None   # another object
    assert i.advert_fast(a, PEER_LO, 255, None, 2.0) is None           # another source
    i.handle(m.PriorityChanged(effective=120), 2.0)                    # any event: off
    assert i.advert_fast(a, PEER_HI, 255, None, 2.5) is None


@settings(max_examples=200, deadline=None)
@given(refresh=st.sampled_from([0.0, 2.5]), delay=st.sampled_from([0.0, 1.5]),
       lower=st.sampled_from([0, 2]),
       steps=st.lists(st.tuples(st.sampled_from(["timer", "timer", "timer", "lower", "higher",
                                                 "zero"]),
                                st.floats(0.0, 1.5)), min_size=1, max_size=40))
def test_timer_fast_equals_the_slow_path(refresh: float, delay: float, lower: int,
                                         steps: list[tuple[str, float]]) -> None:
    """A master's timer_fast against handle(TimerExpired()): same actions, state, timers."""
    kw = dict(garp_master_refresh=refresh, garp_master_delay=delay, garp_master_repeat=1,
              garp_lower_prio_repeat=lower, garp_lower_prio_delay=1.0 if lower else 0.0)
    slow, fast = master(150, **kw), master(150, **kw)
    now = 10.0
    hits = 0
    for kind, dt in steps:
        if kind == "timer":
            d = slow.next_deadline()
            if d is None:
                continue
            now = max(now, d)
            expect = slow.handle(m.TimerExpired(), now)
            got_fast = fast.timer_fast(now)
            if got_fast is None:
                got = fast.handle(m.TimerExpired(), now)
            else:
                hits += 1
                got = [m.SendAdvert(got_fast[0])]
                assert got_fast[1] == fast.next_deadline()
        else:
            now += dt
            prio = {"lower": 100, "higher": 200, "zero": 0}[kind]
            ev = m.AdvertReceived(adv(prio), PEER_HI, 255)
            expect, got = slow.handle(ev, now), fast.handle(ev, now)
        assert got == expect
        assert _fast_view(fast) == _fast_view(slow)
    event(f"timer_fast taken: {min(hits, 3)}+ times")


# -- the takeover fast path (issue 16.4): takeover_due predicts handle(TimerExpired) ---------------
@settings(max_examples=300, deadline=None)
@given(prio=st.sampled_from([50, 100, 150, 254]), hold=st.sampled_from([0.0, 0.0, 3.0]),
       steps=st.lists(st.tuples(
           st.sampled_from(["advert", "zero", "lower", "timer", "timer", "lost", "early",
                            "fault", "unfault"]),
           st.floats(0.01, 2.0)), min_size=1, max_size=30))
def test_takeover_due_predicts_the_timer(prio: int, hold: float,
                                         steps: list[tuple[str, float]]) -> None:
    """takeover_due(now) changes nothing and is the priority of handle(TimerExpired(), now)'s
    first action exactly when that call is a BACKUP's takeover led by SendAdvert; None
    otherwise (startup delay, receive-loss extension, not due, not BACKUP)."""
    i = inst(prio, garp_master_repeat=1)
    i.handle(m.Started(hold_until=hold), 0.0)
    now, hits = 0.0, 0
    for kind, dt in steps:
        if kind in ("timer", "early"):
            d = i.next_deadline()
            if d is None:
                continue
            now = max(now, d - (dt / 100 if kind == "early" else 0.0))
            before = _fast_view(i)
            due = i.takeover_due(now)
            assert _fast_view(i) == before                      # nothing changed
            was = i.state
            got = i.handle(m.TimerExpired(), now)
            led = bool(got) and got[0] == m.SendAdvert(i.priority) and \
                was is m.State.BACKUP and i.state is m.State.MASTER
            assert (due is not None) == led
            if due is not None:
                hits += 1
                assert got[0] == m.SendAdvert(due)
            continue
        now += dt
        if kind == "advert":
            i.handle(m.AdvertReceived(adv(200), PEER_HI, 255), now)
        elif kind == "zero":
            i.handle(m.AdvertReceived(adv(0), PEER_HI, 255), now)
        elif kind == "lower":
            i.handle(m.AdvertReceived(adv(10), PEER_LO, 255), now)
        elif kind == "lost":
            i.handle(m.ReceiveLost(3), now)
        else:
            i.handle(m.FaultChanged(kind == "fault", "test"), now)
    event(f"takeover_due taken: {min(hits, 3)}+ times")
