"""vrrp/links.py's RTM_DELADDR: only the instances the address is a tracked VIP (or the source)
of are touched, through an index that follows the instances and their configurations."""
from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from typing import Any

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.links import Links


class Msg(dict[str, Any]):
    def get_attr(self, name: str) -> Any:
        return self.get(name)


def vip(text: str, no_track: bool = False) -> Any:
    return SimpleNamespace(address=ipaddress.ip_interface(text), no_track=no_track, dev=None)


def runner(name: str, *vips: Any) -> Any:
    cfg = SimpleNamespace(interface="eth0", virtual_ipaddress=list(vips),
                          virtual_ipaddress_excluded=[], unicast_src_ip=None, mcast_src_ip=None)
    fsm = SimpleNamespace(state=m.State.MASTER, handle=lambda ev, now: ("lost", name, ev))
    return SimpleNamespace(name=name, cfg=cfg, ifname="eth0", fsm=fsm, holding=True,
                           src=ipaddress.ip_address("192.0.2.1"))


def daemon(runners: dict[str, Any]) -> Any:
    applied: list[Any] = []
    d = SimpleNamespace(runners=runners, loop=SimpleNamespace(time=lambda: 0.0),
                        netlink=SimpleNamespace(ifindex=lambda name: 2), applied=applied)
    d._apply = lambda r, out: applied.append(out[1])
    return d


def deleted(addr: str) -> Msg:
    return Msg(event="RTM_DELADDR", index=2, IFA_LOCAL=addr)


def test_a_deleted_vip_takes_only_its_master_to_backup() -> None:
    rs = {f"VI_{k}": runner(f"VI_{k}", vip(f"198.51.100.{k}/24")) for k in range(1, 201)}
    rs["VI_7"].cfg.virtual_ipaddress.append(vip("198.51.100.250/24", no_track=True))
    d = daemon(rs)
    links = Links(d)
    links.event(deleted("198.51.100.42"))
    links.event(deleted("203.0.113.9"))             # nobody's
    links.event(deleted("198.51.100.250"))          # no_track
    assert d.applied == ["VI_42"]
    # a reload: VI_42 gets another address, VI_43 is a new runner with VI_42's old one
    rs["VI_42"].cfg = SimpleNamespace(**{**vars(rs["VI_42"].cfg),
                                         "virtual_ipaddress": [vip("198.51.100.242/24")]})
    rs["VI_43"] = runner("VI_43", vip("198.51.100.42/24"))
    links.event(deleted("198.51.100.42"))
    links.event(deleted("198.51.100.242"))
    assert d.applied == ["VI_42", "VI_43", "VI_42"]


def test_a_deleted_source_address_is_looked_for_again() -> None:
    r = runner("VI_1", vip("198.51.100.1/24"))
    d = daemon({"VI_1": r})
    refreshed: list[str] = []
    d._refresh_tracking = lambda x: refreshed.append(x.name)
    links = Links(d)
    links.primary_of = lambda x: None                        # type: ignore[method-assign]
    links.set_primary = lambda x, src: setattr(x, "src", src)  # type: ignore[method-assign]
    links.event(deleted("192.0.2.1"))
    assert r.src is None and refreshed == ["VI_1"] and d.applied == []
