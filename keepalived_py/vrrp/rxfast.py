"""A backup's common packet in a few steps (issue 16): the master's same advert again.

A master sends the same bytes every interval. The first time, the packet takes the full
path: transport.VrrpSocket decodes it, the daemon finds the instance by VRID, screens it
(acceptance.screen) and gives it to the state machine, which restarts the down timer and
asks for nothing else (machine.Instance.fast_armed). `arm` then hangs a hook on the packet's
bytes in the socket (VrrpSocket.fast_hook); the next copies go straight to it: it checks
that nothing the screening depended on has changed (the daemon's configuration, the
instance's, the instance is still running on that socket), lets the machine count the
advert and move the down timer (machine.Instance.advert_fast, which checks the advert, its
source and TTL are those it accepted last and that it still is in that state), and stores
the new deadline in the timer queue (timers.py: a later deadline is one dict store, no loop
timer). Whenever a check fails the hook declines and the packet takes the full path, which
counts and logs it as before; the hook is re-armed there if the machine is in that state
again. The counters the dumps show (advert_rcvd, the socket's received) are kept exactly.
"""
from __future__ import annotations

from typing import Any

from keepalived_py.vrrp.packet import Address, Advert
from keepalived_py.vrrp.transport import FastHook


def arm(d: Any, key: tuple[str, int, str], r: Any, adv: Advert, src: Address) -> None:
    """`d`: the VrrpDaemon; `r`: its Runner that has just accepted `adv` from `src`, received
    on the socket `key` (being handled now: the hook goes on that packet's entry)."""
    sock = d.sockets.get(key)
    if sock is not None and r.sock is sock and d.timers is not None and d.loop is not None:
        sock.fast_hook(hook(d, r, sock, adv, src))


def hook(d: Any, r: Any, sock: Any, adv: Advert, src: Address) -> FastHook:
    fsm, cfg, config, name = r.fsm, r.cfg, d.config, r.name
    advert_fast, now, timers, runners = fsm.advert_fast, d.loop.time, d.timers, d.runners

    def take(ttl: int) -> bool:
        if d.config is not config or r.cfg is not cfg or r.sock is not sock or \
                runners.get(name) is not r or d.timers is not timers:
            return False
        at = sock.rx_at                 # the read's wake-up (issue 16.4)
        deadline = advert_fast(adv, src, ttl, None, at if at is not None else now())
        if deadline is None:
            return False
        timers.set(name, deadline)
        return True
    return take
