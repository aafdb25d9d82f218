"""sync_follow: keepalived 2.2.7's sync-group moves (vrrp_sync.c) on members' own machines."""
from __future__ import annotations

import ipaddress

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Advert
from keepalived_py.vrrp.sync_group import GroupVeto, follow

A = ipaddress.IPv4Address
VIP = (A("192.0.2.100"),)


def _group() -> tuple[GroupVeto, dict[str, m.Instance]]:
    members = {n: m.Instance(m.Params(name=n, vrid=vrid, priority=150, advert_int=1.0,
                                      addresses=VIP, primary=A("192.0.2.10")))
               for n, vrid in (("VI_1", 51), ("VI_2", 52))}
    veto = GroupVeto("G", lambda: members)
    for i in members.values():
        i.sync = veto
        i.handle(m.Started(), 0.0)
    veto.state = m.State.BACKUP
    return veto, members


def _apply(veto: GroupVeto, name: str, actions: list[m.Action], now: float) -> None:
    """What the daemon does: each transition goes through follow(), recursively."""
    for a in actions:
        if isinstance(a, m.StateChanged):
            for other, acts in follow(veto, name, a, now):
                _apply(veto, other, acts, now)


def test_sync_member_waits_until_every_member_wants_master() -> None:
    veto, ms = _group()
    one, two = ms["VI_1"], ms["VI_2"]
    two.handle(m.AdvertReceived(Advert(2, 52, 200, interval=1.0, addresses=VIP), A("192.0.2.20")), 1.0)
    d = one.next_deadline()
    assert d is not None
    _apply(veto, "VI_1", one.handle(m.TimerExpired(), d), d)
    # VI_2 hears a master: VI_1 is held in BACKUP ("prefer backup state to avoid thrashing")
    assert (one.state, one.wantstate, two.state) == (m.State.BACKUP, m.State.MASTER, m.State.BACKUP)


def test_sync_member_becoming_master_takes_the_group_along() -> None:
    veto, ms = _group()
    one, two = ms["VI_1"], ms["VI_2"]
    d2 = two.next_deadline()
    assert d2 is not None
    two.handle(m.TimerExpired(), d2)          # VI_2 wants MASTER but VI_1 does not yet: held
    assert two.state is m.State.BACKUP
    d = one.next_deadline()
    assert d is not None
    _apply(veto, "VI_1", one.handle(m.TimerExpired(), d), d)
    assert (one.state, two.state, veto.state) == (m.State.MASTER, m.State.MASTER, m.State.MASTER)


def test_sync_master_going_backup_takes_the_group_to_backup() -> None:
    veto, ms = _group()
    one, two = ms["VI_1"], ms["VI_2"]
    for i in (two, one):
        d = i.next_deadline()
        assert d is not None
        _apply(veto, i.p.name, i.handle(m.TimerExpired(), d), d)
    assert (one.state, two.state) == (m.State.MASTER, m.State.MASTER)
    now = 10.0
    acts = one.handle(m.AdvertReceived(Advert(2, 51, 200, interval=1.0, addresses=VIP), A("192.0.2.20")), now)
    _apply(veto, "VI_1", acts, now)
    assert (one.state, two.state, veto.state) == (m.State.BACKUP, m.State.BACKUP, m.State.BACKUP)
