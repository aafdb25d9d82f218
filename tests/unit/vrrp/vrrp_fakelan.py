"""A fake LAN for machine.Instance scenarios: a manual clock, zero-latency multicast, and
every advert going through the real codec (encode -> decode)."""
from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Address, AdvertCache, DecodeError, decode
from keepalived_py.vrrp.sync_group import SyncGroup

VIP = ipaddress.IPv4Address("192.0.2.100")


def params(name: str, priority: int, ip: str, **kw: object) -> m.Params:
    kw.setdefault("vrid", 51)
    kw.setdefault("addresses", (VIP,))
    kw.setdefault("primary", ipaddress.ip_address(ip))
    return m.Params(name=name, priority=priority, **kw)  # type: ignore[arg-type]


@dataclass
class Node:
    inst: m.Instance
    up: bool = True                 # connected to the LAN
    holding: bool = False           # has the virtual addresses
    started: bool = False
    caches: dict[object, AdvertCache] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.inst.p.name

    def payload(self, priority: int, dst: Address) -> bytes:
        p, form = self.inst.p, self.inst.tx_checksum
        cache = self.caches.get((form, dst))
        if cache is None:
            cache = self.caches[form, dst] = AdvertCache(
                p.advert(checksum=form), self.inst.primary, dst, mcast_group=p.group)
        return cache.payload(priority)


class FakeLan:
    def __init__(self, *ps: m.Params) -> None:
        self.nodes = {p.name: Node(m.Instance(p)) for p in ps}
        self.now = 0.0
        self.log: list[tuple[float, str, object]] = []
        self._wire: deque[tuple[str, int]] = deque()
        self.groups: dict[str, SyncGroup] = {}        # member name -> its group
        self.group_log: list[tuple[float, object]] = []

    def sync_group(self, name: str, *members: str) -> SyncGroup:
        g = SyncGroup(name, [self.nodes[n].inst for n in members])
        for n in members:
            self.groups[n] = g
        return g

    def __getitem__(self, name: str) -> m.Instance:
        return self.nodes[name].inst

    # -- driving ----------------------------------------------------------------------------
    def event(self, name: str, event: m.Event) -> list[m.Action]:
        actions = self._handle(name, event)
        self._flush()
        return actions

    def _handle(self, name: str, event: m.Event) -> list[m.Action]:
        """One event to one node (through its sync group, if any); its own actions."""
        node = self.nodes[name]
        group = self.groups.get(name)
        if group is None:
            actions = node.inst.handle(event, self.now)
            self._apply(node, actions)
            return actions
        mine: list[m.Action] = []
        for who, a in group.handle(name, event, self.now):
            if who in self.nodes:
                self._apply(self.nodes[who], [a])  # type: ignore[list-item]
                if who == name:
                    mine.append(a)  # type: ignore[arg-type]
            else:
                self.group_log.append((self.now, a))
        return mine

    def start(self, *names: str) -> None:
        for name in names or tuple(self.nodes):
            self.nodes[name].started = True
            self.event(name, m.Started())

    def run_until(self, t: float) -> None:
        while True:
            due = [(d, n) for n in self.nodes.values() if n.started
                   and (d := n.inst.next_deadline()) is not None]
            if not due:
                break
            d, node = min(due, key=lambda x: x[0])
            if d > t:
                break
            self.now = max(self.now, d)
            self.event(node.name, m.TimerExpired())
        self.now = max(self.now, t)

    def run_for(self, dt: float) -> None:
        self.run_until(self.now + dt)

    # -- the wire ---------------------------------------------------------------------------
    def _apply(self, node: Node, actions: list[m.Action]) -> None:
        for a in actions:
            self.log.append((self.now, node.name, a))
            if isinstance(a, m.SendAdvert) and node.up:
                self._wire.append((node.name, a.priority))
            elif isinstance(a, m.AddAddresses):
                node.holding = True
            elif isinstance(a, m.RemoveAddresses):
                node.holding = False

    def _flush(self) -> None:
        hops = 0
        while self._wire:
            hops += 1
            assert hops < 10_000, "advert storm"
            sender, priority = self._wire.popleft()
            tx = self.nodes[sender]
            src = tx.inst.primary
            unicast = tx.inst.p.unicast
            for node in self.nodes.values():
                if node.name == sender or not node.up or not tx.up or not node.started:
                    continue
                p = node.inst.p
                dst = node.inst.primary if unicast else tx.inst.p.group
                assert dst is not None
                payload = tx.payload(priority, dst)
                try:
                    adv = decode(payload, family=p.family, src=src, dst=dst,
                                 mcast_group=p.group)
                except DecodeError as e:
                    ev: m.Event = m.AdvertInvalid(e.reason, e.detail)
                else:
                    if adv.vrid != p.vrid:
                        continue
                    ev = m.AdvertReceived(adv, src, ttl=255,  # type: ignore[arg-type]
                                          multicast=not unicast)
                self._handle(node.name, ev)

    # -- looking ----------------------------------------------------------------------------
    def masters(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.inst.state is m.State.MASTER]

    def holders(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.holding]

    def actions_of(self, name: str, kind: type, since: float = 0.0) -> list[tuple[float, object]]:
        return [(t, a) for t, n, a in self.log if n == name and isinstance(a, kind) and t >= since]

    def transitions(self, name: str) -> list[tuple[float, str, str]]:
        return [(t, a.old.value, a.new.value) for t, a in self.actions_of(name, m.StateChanged)]  # type: ignore[attr-defined]
