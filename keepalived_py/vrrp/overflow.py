"""Receive-queue overflow on a VRRP socket (issue 15): the edge half of machine.ReceiveLost.

A flood of packets at a backup fills its raw socket's receive queue (SO_RCVBUF, 2 MiB) and
the kernel drops what arrives next, the master's adverts included; the backup's down timer
then runs out although the master is alive (a false takeover, seen in a million-packet
flood). transport.VrrpSocket reads the kernel's drop counter (SO_RXQ_OVFL) and calls
`lost()` for each rise; the instances on that socket remember it (machine.ReceiveLost), and
on the next expiry of their down timer they wait one more advert interval, once, instead of
declaring the master down. When that extension has run out too, `before_expiry` first reads
what is still queued on the socket (for DRAIN_SECONDS at most, so that a real master death is
still detected within Master_Down_Interval + one interval): a master advert waiting behind
the flood counts.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from keepalived_py.obs import slog
from keepalived_py.vrrp import machine as m

log = slog.get_logger("keepalived_py.vrrp.overflow")

DRAIN_SECONDS = 0.02        # reading the queue before the extended down timer is judged


class _Runner(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sock(self) -> Any: ...
    @property
    def fsm(self) -> m.Instance: ...


def lost(runners: Iterable[_Runner], sock: Any, count: int, lane: bool, now: float) -> None:
    """`count` packets dropped by the kernel on `sock` (its priority lane if `lane`): the
    instances on it are told, except, for a loss on the main queue, those whose master has
    the lane (its adverts were not in that queue)."""
    laned: frozenset[Any] = getattr(sock, "lane_sources", frozenset())
    for r in runners:
        if r.sock is sock and (lane or r.fsm.master_heard not in laned):
            r.fsm.handle(m.ReceiveLost(count), now)


def prioritise(runners: Iterable[_Runner], sock: Any, loop: Any) -> None:
    """The masters the instances on `sock` have heard get the socket's priority lane."""
    if sock is None:
        return
    sources = {r.fsm.master_heard for r in runners
               if r.sock is sock and r.fsm.master_heard is not None}
    sock.prioritise(sources, loop)


def socket_replaced(d: Any, sock: Any) -> None:
    """A new socket in place of one closed (its interface or VMAC re-created): the receive
    buffer vrrp_rx_bufs_policy asks for, and its priority lane for the masters its instances
    have heard (they hear them again from the same addresses, so no new master would open it)."""
    if sock is None or d.loop is None:
        return
    d._rx_bufs()
    prioritise(d.runners.values(), sock, d.loop)


def before_expiry(r: _Runner) -> None:
    """A BACKUP whose extension ran out reads its socket's queue before the timer is judged."""
    if r.fsm.state is m.State.BACKUP and r.fsm.down_extended and r.sock is not None:
        r.sock.drain(DRAIN_SECONDS)


def warn(r: _Runner, a: m.WarnReceiveLoss) -> None:
    log.warning("vrrp.socket.receive_overflow", instance=r.name, dropped=a.dropped,
                extended_by=a.extended_by,
                compat=f"({r.name}) {a.dropped} packets dropped by the kernel (receive queue"
                       f" full) since the last advert; master down timer extended by"
                       f" {a.extended_by:g}s")
