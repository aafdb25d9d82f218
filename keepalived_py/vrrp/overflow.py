"""Receive-queue overflow on a VRRP socket (issue 15): the edge half of machine.ReceiveLost.

A flood of packets at a backup fills its raw socket's receive queue (SO_RCVBUF, 2 MiB) and
the kernel drops what arrives next, the master's adverts included; the backup's down timer
then runs out although the master is alive (a false takeover, seen in a million-packet
flood). transport.VrrpSocket reads the kernel's drop counter (SO_RXQ_OVFL) and calls
`lost()` for each rise; the instances on that socket remember it (machine.ReceiveLost), and
on the next expiry of their down timer they wait one more advert interval, once, instead of
declaring the master down. Before a BACKUP's timer is handled, `before_expiry` reads what is
still queued on its socket: a master advert waiting behind the flood counts.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from keepalived_py.vrrp import machine as m

log = structlog.get_logger("keepalived_py.vrrp.overflow")

DRAIN_LIMIT = 4096          # packets read at most before a down timer is judged (~2 MiB queue)


class _Runner(Protocol):
    name: str
    sock: Any
    fsm: m.Instance


def lost(runners: Iterable[_Runner], sock: object, count: int, now: float) -> None:
    """`count` packets dropped by the kernel on `sock`: every instance on it is told."""
    for r in runners:
        if r.sock is sock:
            r.fsm.handle(m.ReceiveLost(count), now)


def before_expiry(r: _Runner) -> None:
    """A BACKUP that has lost packets reads its socket's queue before its timer is judged."""
    if r.fsm.state is m.State.BACKUP and r.fsm.rx_lost and r.sock is not None:
        r.sock.drain(DRAIN_LIMIT)


def warn(r: _Runner, a: m.WarnReceiveLoss) -> None:
    log.warning("vrrp.socket.receive_overflow", instance=r.name, dropped=a.dropped,
                extended_by=a.extended_by,
                compat=f"({r.name}) {a.dropped} packets dropped by the kernel (receive queue"
                       f" full) since the last advert; master down timer extended by"
                       f" {a.extended_by:g}s")
