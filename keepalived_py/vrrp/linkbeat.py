"""linkbeat_interfaces / linkbeat_use_polling: the link state of these interfaces comes from
polling once a second, as keepalived 2.2.7's MII/ethtool thread does (vrrp_if.c
if_linkbeat_refresh_thread), not from netlink: an interface is up when it is administratively
up, running and has carrier (what ETHTOOL_GLINK and the interface flags report), and a change
is logged "Linkbeat reports IF up|down". Netlink's up/down for them is ignored."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")

POLLING_DELAY = 1.0               # keepalived's POLLING_DELAY (TIMER_HZ)


class Linkbeat:
    def __init__(self, probe: Callable[[str], bool], changed: Callable[[str, bool], None]) -> None:
        self.probe = probe
        self.changed = changed
        self.state: dict[str, bool] = {}
        self.task: asyncio.Task[None] | None = None

    def configure(self, names: tuple[str, ...]) -> None:
        self.state = {n: self.state.get(n, self.probe(n)) for n in names}
        if names and self.task is None:
            log.info("vrrp.linkbeat.start", compat="Using MII-BMSR/ETHTOOL NIC polling thread(s)...")
            self.task = asyncio.get_running_loop().create_task(self._poll())

    def polled(self, ifname: str) -> bool:
        return ifname in self.state

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLLING_DELAY)
            for name, was in list(self.state.items()):
                up = self.probe(name)
                if up != was:
                    self.state[name] = up
                    log.info("vrrp.linkbeat.changed", interface=name, up=up,
                             compat=f"Linkbeat reports {name} {'up' if up else 'down'}")
                    self.changed(name, up)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
