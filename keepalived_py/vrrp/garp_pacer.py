"""Gratuitous ARP / unsolicited NA pacing per interface group, as keepalived 2.2.7 does it
(vrrp_arp.c, vrrp_ndisc.c, vrrp_if.c set_default_garp_delay):

- a `garp_group` gives its interfaces one shared delay: two ARP frames (for any address, of
  any instance) leave the group's interfaces at least `garp_interval` apart, two NA frames at
  least `gna_interval` apart;
- every other interface an instance uses gets global_defs' vrrp_garp_interval /
  vrrp_gna_interval, each interface its own;
- a frame that may not leave yet waits and goes when its turn comes (the first waiting one in
  the order of instances and addresses in the configuration, as keepalived), unless its
  instance has stopped being MASTER meanwhile (keepalived: the address is no longer set);
  a frame already waiting is not queued twice (keepalived marks an address "pending", so the
  repeats of a burst collapse while it waits).

A VMAC's frames are paced on its parent. With no interval the frames leave at once (the
daemon's fast path does not come here).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import field

from keepalived_py.config.model import Config
from keepalived_py.record import Record

Alive = Callable[[], bool]
ETH_P_ARP = b"\x08\x06"


class _Lane(Record, kw_only=False, frozen=False):
    """One kind of frame (ARP or NA) of one delay: its spacing, next slot and queue."""

    interval: float
    next_at: float = 0.0
    queue: list[tuple[tuple[int, int], str, bytes, Alive]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    sent: int = 0
    dropped: int = 0


class Delay(Record, kw_only=False, frozen=False):
    arp: _Lane
    na: _Lane


class GarpPacer:
    def __init__(self, send: Callable[[str, list[bytes]], None]) -> None:
        self.send = send
        self.delays: dict[str, Delay] = {}      # interface -> its (maybe shared) delay
        self._default = (0.0, 0.0)
        self.loop: asyncio.AbstractEventLoop | None = None

    def configure(self, config: Config) -> None:
        """The delays of `config`; lanes of unchanged intervals keep their queues."""
        g = config.global_defs
        self._default = (g.vrrp_garp_interval, g.vrrp_gna_interval)
        old, self.delays = self.delays, {}
        for grp in config.garp_groups:
            shared = _keep(old, grp.interfaces, (grp.garp_interval, grp.gna_interval))
            for name in grp.interfaces:
                self.delays[name] = shared

    def intervals(self, dev: str) -> tuple[float, float]:
        d = self.delays.get(dev)
        return (d.arp.interval, d.na.interval) if d is not None else self._default

    def paced(self, dev: str) -> bool:
        return any(self.intervals(dev))

    def _delay(self, dev: str) -> Delay:
        d = self.delays.get(dev)
        if d is None:                 # a default delay, made when the interface is first used
            d = self.delays[dev] = Delay(_Lane(self._default[0]), _Lane(self._default[1]))
        return d

    def submit(self, base: str, dev: str, frames: list[bytes], alive: Alive, rank: int = 0
               ) -> None:
        """Frames for `dev` (whose delay is `base`'s: a VMAC's parent), one per address in
        the instance's address order; `rank`: the instance's place in the configuration."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        d = self._delay(base)
        for i, fr in enumerate(frames):
            lane = d.arp if fr[12:14] == ETH_P_ARP else d.na
            if not lane.interval:
                self.send(dev, [fr])
                continue
            if any(q[1] == dev and q[2] == fr for q in lane.queue):
                continue          # keepalived keeps one "pending" flag per address, no queue
            lane.queue.append(((rank, i), dev, fr, alive))
            self._drain(lane)

    def _drain(self, lane: _Lane) -> None:
        assert self.loop is not None
        now = self.loop.time()
        while lane.queue and now >= lane.next_at:
            # keepalived's vrrp_arp_thread: the first pending address in configuration order
            first = min(range(len(lane.queue)), key=lambda j: lane.queue[j][0])
            _, dev, fr, alive = lane.queue.pop(first)
            if not alive():
                lane.dropped += 1
                continue                         # no slot used: the next one may go now
            self.send(dev, [fr])
            lane.sent += 1
            lane.next_at = now + lane.interval
        if lane.queue and lane.timer is None:
            lane.timer = self.loop.call_at(lane.next_at, self._fire, lane)

    def _fire(self, lane: _Lane) -> None:
        lane.timer = None
        self._drain(lane)

    def close(self) -> None:
        for d in self.delays.values():
            for lane in (d.arp, d.na):
                if lane.timer is not None:
                    lane.timer.cancel()
                    lane.timer = None
                lane.queue.clear()


def _keep(old: dict[str, Delay], names: tuple[str, ...], iv: tuple[float, float]) -> Delay:
    """The delay the group had before a reload if its intervals are the same, else a new one."""
    for n in names:
        d = old.get(n)
        if d is not None and (d.arp.interval, d.na.interval) == iv:
            return d
    return Delay(_Lane(iv[0]), _Lane(iv[1]))
