"""The IPv6 receive path of transport.VrrpSocket (issue 16): batches read with recvmmsg, the
source from each message's address, destination and hop limit from its ancillary data read at
fixed offsets, repeated adverts remembered by their bytes and taken by the hook the daemon
sets (vrrp/rxfast.py). It must count and deliver exactly what recvmsg one packet at a time
does.

No namespace needed: the receiving VrrpSockets here read a UDP socket on ::1 instead of a
raw one (`_open` overridden). A UDP socket's messages have the same form as a raw IPv6
socket's: the payload alone (here VRRP bytes), a struct sockaddr_in6 source, IPV6_PKTINFO and
IPV6_HOPLIMIT items, and SO_RXQ_OVFL once the kernel dropped packets on it.
tests/integration/test_vrrp_rx6.py does the same on raw sockets between namespaces.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import pytest

from keepalived_py.vrrp import rxbatch
from keepalived_py.vrrp.packet import MCAST6, Advert, encode
from keepalived_py.vrrp.transport import (
    IPV6_RECVHOPLIMIT,
    IPV6_RECVPKTINFO,
    SO_RXQ_OVFL,
    VrrpSocket,
)

A6 = ipaddress.IPv6Address
LO = A6("::1")


def _loopback_ok() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _loopback_ok(), reason="no IPv6 loopback address")


class _UdpVrrpSocket(VrrpSocket):
    """A VrrpSocket reading a UDP socket on ::1 (see the module docstring)."""

    def _open(self) -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("::1", 0))
        return s


class Rx:
    """A receiving socket with a recording deliver; `plain`: recvmsg only; `hook`: deliver
    hangs a fast hook on each packet (as the daemon does, vrrp/rxfast.py)."""

    def __init__(self, plain: bool, hook: bool, group: Any = MCAST6) -> None:
        self.got: list[tuple[Advert, str, str, int]] = []
        self.hooked = 0
        self.hook = hook
        self.sock = _UdpVrrpSocket("lo", 6, group, self.deliver)
        if plain:
            self.sock._rb = False
        self.port = self.sock.sock.getsockname()[1]

    def deliver(self, adv: Advert, src: Any, dst: Any, ttl: int) -> None:
        self.got.append((adv, str(src), str(dst), ttl))
        if self.hook and adv.priority != 7:          # priority 7: a hook that declines

            def take(t: int) -> bool:
                self.hooked += 1
                self.got.append((adv, str(src), str(dst), t))
                return True
            self.sock.fast_hook(take)

    def drain(self) -> None:
        while self.sock.readable():
            pass

    def summary(self) -> tuple[Any, ...]:
        return (self.sock.received, dict(self.sock.drops), self.sock.kernel_drops,
                [(a.vrid, a.priority, s, d, t) for a, s, d, t in self.got])


def _tx(hops: int = 255) -> socket.socket:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def _adv(vrid: int, prio: int = 150, n: int = 1) -> bytes:
    addrs = tuple(A6(f"2001:db8::{i + 1:x}") for i in range(n))
    return encode(Advert(3, vrid, prio, addrs, 1.0), LO, LO)


def _send(tx: socket.socket, rxs: list[Rx], payloads: list[bytes]) -> None:
    for p in payloads:
        for rx in rxs:
            tx.sendto(p, ("::1", rx.port))


def test_rx6_batch_and_hook_count_and_deliver_as_recvmsg() -> None:
    batch, plain = Rx(plain=False, hook=True), Rx(plain=True, hook=True)
    bare = Rx(plain=False, hook=False)                  # no hook: deliver every time
    rxs = [batch, plain, bare]
    tx, tx254 = _tx(), _tx(254)
    good = [_adv(v) for v in range(1, 41)]
    bad = [
        _adv(1)[:5],                                            # truncated
        bytes([0x13]) + _adv(2)[1:],                            # version 1
        bytes([0x32]) + _adv(3)[1:],                            # type 2
        _adv(4)[:6] + b"\0\0" + _adv(4)[8:],                    # checksum
        _adv(5) + bytes(40),                                    # longer than its count
        bytes([0x13]) + _adv(6)[1:] + bytes(5000),              # past the batch slot: version
        _adv(7) + bytes(4500),                                  # past the batch slot: length
    ]
    big = _adv(8, n=200)                # 3208 bytes: a good advert past IPv4's slot size
    try:
        for _ in range(4):                                      # 4 x 40: bursts past VLEN
            _send(tx, rxs, good)
            for rx in rxs:
                rx.drain()
        _send(tx254, rxs, good[:10])                            # seen before, hop limit 254
        _send(tx, rxs, bad)
        _send(tx, rxs, [_adv(9, prio=7)] * 3)                   # a hook that declines
        _send(tx, rxs, [big] * 2)
        time.sleep(0.05)
        for rx in rxs:
            rx.drain()
    finally:
        tx.close()
        tx254.close()
    assert isinstance(batch.sock._rb, rxbatch.BatchReader)      # the batch path was taken
    assert batch.summary() == plain.summary()
    received, drops, kernel, got = batch.summary()
    assert received == 160 + 10 + 7 + 3 + 2 and kernel == 0
    # (unicast to ::1: a hop limit other than 255 is not a multicast TTL error)
    assert drops == {"packet_len_err": 3, "vers_err": 2, "invalid_type_rcvd": 1, "chk_err": 1}
    # delivered: 40 first times, 3 declined, the big one twice (too big to be remembered);
    # hooked: the 120 repeats and the 10 at hop limit 254 (this test's hook takes any hop
    # limit; the daemon's checks it)
    assert len(got) == 175 and batch.hooked == 130
    assert got[-1][:2] == (8, 150) and got[-2][:2] == (8, 150)
    assert got[0] == (1, 150, "::1", "::1", 255)
    assert sum(1 for g in got if g[4] == 254) == 10
    assert bare.summary()[:3] == (received, drops, kernel) and bare.hooked == 0
    assert [g[:3] for g in bare.summary()[3]] == [g[:3] for g in got]
    for rx in rxs:
        rx.sock.close()


def test_rx6_batch_reads_the_kernel_drop_counter() -> None:
    lost: list[int] = []
    batch, plain = Rx(plain=False, hook=True), Rx(plain=True, hook=True)
    for rx in (batch, plain):
        rx.sock.on_overflow = lambda n, lane: lost.append(n)
        rx.sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)   # a few packets only
    tx = _tx()
    try:
        _send(tx, [batch, plain], [_adv(i % 50 + 1) for i in range(200)])
        for rx in (batch, plain):
            rx.drain()
        for _ in range(3):                  # they carry the count of what was dropped
            _send(tx, [batch, plain], [_adv(1)])
            for rx in (batch, plain):
                rx.drain()
    finally:
        tx.close()
    for rx in (batch, plain):
        s = rx.sock
        assert s.kernel_drops > 0 and s.received + s.kernel_drops == 203
        assert len(rx.got) == s.received            # every packet delivered or hooked
        assert rx.summary()[3][-1] == (1, 150, "::1", "::1", 255)
        rx.sock.close()
    assert sum(lost) == batch.sock.kernel_drops + plain.sock.kernel_drops
