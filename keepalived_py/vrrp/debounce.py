"""interface_up_down_delays: an interface's change between up and down counts only once it has
lasted its delay (keepalived_netlink.c update_interface_flags). A change back within the delay
cancels it (silently when the flags are back as they were, else "Delay timer for IF
cancelled") and nothing happens; more messages in the same
direction while waiting only replace the one delivered at the end. Only an interface that has
been seen up is debounced. keepalived keeps each delay below (down_timer_adverts - 1) *
advert_int of the instances on the interface (vrrp.c check_debounce_timers), else a slow
debounce would let a backup take over a master whose link merely flapped.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from keepalived_py.config.model import Config
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")


def delays_of(config: Config) -> dict[str, tuple[float, float]]:
    """interface -> (down delay, up delay), clamped as keepalived clamps them."""
    out = {name: (down, up) for name, down, up in config.interface_delays}
    for inst in config.vrrp_instances:
        if inst.interface not in out:
            continue
        down, up = out[inst.interface]
        if inst.down_timer_adverts == 1:
            if down or up:
                log.info("vrrp.debounce.reset", instance=inst.name,
                         compat=f"{inst.name}: cannot use debounce timers with"
                                " down_timer_adverts = 1 - resetting")
            out[inst.interface] = (0.0, 0.0)
            continue
        limit = (inst.down_timer_adverts - 1) * inst.advert_int
        if down >= limit or up >= limit:
            log.info("vrrp.debounce.reset", instance=inst.name,
                     compat=f"{inst.name}: interface {inst.interface} debounce timer(s) not"
                            f" less that {inst.down_timer_adverts - 1} * advert_int - resetting")
            cap = limit - inst.advert_int / 256
            out[inst.interface] = (min(down, cap), min(up, cap))
    return out


def kernel_flags(ifname: str) -> int:
    """The interface's flags as an RTM_NEWLINK carries them (dev_get_flags: sysfs' flags with
    RUNNING, LOWER_UP and DORMANT from the operational state and carrier)."""
    base = f"/sys/class/net/{ifname}/"
    try:
        with open(base + "flags") as f:
            flags = int(f.read().strip(), 16)
        with open(base + "operstate") as f:
            oper = f.read().strip()
        try:
            with open(base + "carrier") as f:
                carrier = f.read().strip() == "1"
        except OSError:                            # reading it fails when the link is down
            carrier = False
    except (OSError, ValueError):
        return 0
    if flags & 0x1:                                # IFF_UP
        if oper in ("up", "unknown"):
            flags |= 0x40                          # IFF_RUNNING
        if carrier:
            flags |= 0x10000                       # IFF_LOWER_UP
        if oper == "dormant":
            flags |= 0x20000                       # IFF_DORMANT
    return flags


class Debounce:
    def __init__(self) -> None:
        self.delays: dict[str, tuple[float, float]] = {}
        self.state: dict[str, bool] = {}          # the up/down state the daemon acted on
        self.flags: dict[str, int] = {}           # and the interface flags of that message
        self.seen_up: set[str] = set()
        self.pending: dict[str, tuple[asyncio.TimerHandle, bool, Any]] = {}

    def configure(self, config: Config, link_up: Callable[[str], bool]) -> None:
        self.delays = delays_of(config)
        for name in self.delays:
            if name not in self.state:
                self.state[name] = link_up(name)
                self.flags[name] = kernel_flags(name)
                if self.state[name]:
                    self.seen_up.add(name)

    def admit(self, loop: asyncio.AbstractEventLoop, ifname: str, up: bool, msg: Any,
              deliver: Callable[[Any], None]) -> bool:
        """True: handle `msg` now. False: it waits (`deliver(msg)` later) or was absorbed."""
        if ifname not in self.delays:
            return True
        flags = msg.get("flags", 0) if hasattr(msg, "get") else 0
        waiting = self.pending.get(ifname)
        if waiting is not None and flags == self.flags.get(ifname):
            waiting[0].cancel()                   # back as it was: dropped without a word
            del self.pending[ifname]
            return True
        if waiting is not None:
            timer, pending_up, _ = waiting
            if pending_up == up:
                self.pending[ifname] = (timer, up, msg)   # the latest message goes at the end
                return False
            timer.cancel()
            del self.pending[ifname]
            log.info("vrrp.debounce.cancelled", interface=ifname,
                     compat=f"Delay timer for {ifname} cancelled")
        was = self.state.get(ifname)
        delay = self.delays[ifname][1 if up else 0]
        if was is not None and was != up and delay and ifname in self.seen_up:
            self.pending[ifname] = (loop.call_later(delay, self._fire, ifname, deliver), up, msg)
            log.info("vrrp.debounce.delayed", interface=ifname, up=up, delay=delay,
                     compat=f"{ifname}: Adding flags change from"
                            f" {self.flags.get(ifname, 0):#x} to {flags:#x} delay by"
                            f" {round(delay * 1e6)}")
            return False
        self._acted(ifname, up, flags)
        return True

    def _acted(self, ifname: str, up: bool, flags: int) -> None:
        self.flags[ifname] = flags
        self.state[ifname] = up
        if up:
            self.seen_up.add(ifname)

    def _fire(self, ifname: str, deliver: Callable[[Any], None]) -> None:
        waiting = self.pending.pop(ifname, None)
        if waiting is not None:
            msg = waiting[2]
            self._acted(ifname, waiting[1], msg.get("flags", 0) if hasattr(msg, "get") else 0)
            deliver(msg)

    def close(self) -> None:
        for timer, _, _ in self.pending.values():
            timer.cancel()
        self.pending.clear()
