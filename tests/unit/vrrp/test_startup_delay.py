"""vrrp_startup_delay in the machine (Started.hold_until): no instance leaves BACKUP before
the delay ends, and its Master_Down timer runs from there (keepalived 2.2.7
vrrp_init_instance_sands)."""
from __future__ import annotations

import ipaddress

from keepalived_py.vrrp import machine as m

A = ipaddress.IPv4Address


def inst(prio: int = 100, **kw: object) -> m.Instance:
    return m.Instance(m.Params(name="VI_1", vrid=51, priority=prio, advert_int=1.0,  # type: ignore[arg-type]
                               addresses=(A("192.0.2.100"),), primary=A("192.0.2.10"), **kw))


def run_until_master(i: m.Instance, limit: float = 60.0) -> float:
    while i.state is not m.State.MASTER:
        d = i.next_deadline()
        assert d is not None and d < limit
        i.handle(m.TimerExpired(), d)
    assert i.became_master_at is not None
    return i.became_master_at


def test_a_backup_waits_the_delay_then_its_master_down_interval() -> None:
    i = inst(100)
    i.handle(m.Started(hold_until=10.0), 0.0)
    assert i.state is m.State.BACKUP
    down = i.master_down_interval()
    assert abs(run_until_master(i) - (10.0 + down)) < 1e-6


def test_the_address_owner_waits_the_delay_too() -> None:
    i = inst(255)
    acts = i.handle(m.Started(hold_until=4.0), 0.0)
    assert i.state is m.State.BACKUP and not any(isinstance(a, m.SendAdvert) for a in acts)
    assert abs(run_until_master(i) - 4.0) < 1e-3


def test_no_delay_is_the_usual_start() -> None:
    i = inst(100)
    i.handle(m.Started(), 0.0)
    assert abs(run_until_master(i) - i.master_down_interval()) < 1e-6
    o = inst(255)
    o.handle(m.Started(), 0.0)
    assert o.state is m.State.MASTER


def test_an_advert_during_the_delay_keeps_the_instance_backup() -> None:
    from keepalived_py.vrrp.packet import Advert
    i = inst(100)
    i.handle(m.Started(hold_until=10.0), 0.0)
    i.handle(m.AdvertReceived(Advert(2, 51, 200, interval=1.0,  # type: ignore[arg-type]
                                     addresses=(A("192.0.2.100"),)), A("192.0.2.20")), 5.0)
    d = i.next_deadline()
    assert d is not None
    i.handle(m.TimerExpired(), d)
    assert i.state is m.State.BACKUP
