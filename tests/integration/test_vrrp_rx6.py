"""The IPv6 receive path of transport.VrrpSocket (issue 16) on raw sockets: packets read in
batches with recvmmsg (source address, pktinfo and hop limit per message) and repeated
adverts taken by the hook the daemon sets (vrrp/rxfast.py) must count and deliver exactly
what recvmsg one packet at a time does (tests/unit/vrrp/test_rx6.py does the same on UDP).

A sender's raw socket in one namespace (bound to 2001:db8::1, so the v3 checksum's
pseudo-header is known), two receiving VrrpSockets in another (one on the batch path, one
forced onto recvmsg), the same packets to ff02::12: good adverts repeated, hop limit 254, bad
ones of every kind, oversized past the batch slot, a flooded queue (the kernel's drop counter).
"""
from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from netlab import Lab

from keepalived_py.vrrp import rxbatch
from keepalived_py.vrrp.packet import MCAST6, Advert, encode
from keepalived_py.vrrp.transport import VrrpSocket

_libc = ctypes.CDLL(None, use_errno=True)
A6 = ipaddress.IPv6Address
SRC = A6("2001:db8::1")


def _in_ns(ns: str, make: Callable[[], Any]) -> Any:
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        assert _libc.setns(fd, 0x40000000) == 0
        return make()
    finally:
        assert _libc.setns(home, 0x40000000) == 0
        os.close(fd)
        os.close(home)


class Rx:
    """A VrrpSocket on eth0 with a recording deliver; `plain`: recvmsg only."""

    def __init__(self, ns: str, plain: bool, hook: bool) -> None:
        self.got: list[tuple[Advert, str, str, int]] = []
        self.hooked = 0
        self.hook = hook
        self.sock = _in_ns(ns, lambda: VrrpSocket("eth0", 6, MCAST6, self.deliver))
        if plain:
            self.sock._rb = False
        self.sock.sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)    # SO_RCVBUFFORCE

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


class Tx:
    def __init__(self, ns: str, hops: int = 255) -> None:
        def make() -> tuple[socket.socket, int]:
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            s.bind((str(SRC), 0))
            return s, socket.if_nametoindex("eth0")
        self.sock, self.ifindex = _in_ns(ns, make)

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, (str(MCAST6), 0, 0, self.ifindex))

    def close(self) -> None:
        self.sock.close()


def _adv(vrid: int, prio: int = 150, n: int = 1) -> bytes:
    addrs = tuple(A6(f"2001:db8::1:{i + 1:x}") for i in range(n))
    return encode(Advert(3, vrid, prio, addrs, 1.0), SRC, MCAST6)


def test_vrrp_rx6_batch_and_hook_count_and_deliver_as_recvmsg(lab: Lab) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "2001:db8::1/64")
    b = lab.node("b", lan, "2001:db8::2/64")
    batch, plain = Rx(b.ns, plain=False, hook=True), Rx(b.ns, plain=True, hook=True)
    bare = Rx(b.ns, plain=False, hook=False)            # no hook: deliver every time
    tx, tx254 = Tx(a.ns), Tx(a.ns, 254)
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
        time.sleep(0.2)                                         # the group joined
        for _ in range(4):                                      # 4 x 40: bursts past VLEN
            for p in good:
                tx.send(p)
            time.sleep(0.05)
            for rx in (batch, plain, bare):
                rx.drain()
        for p in good[:10]:                                     # seen before, hop limit 254
            tx254.send(p)
        for p in bad:
            tx.send(p)
        for _ in range(3):
            tx.send(_adv(9, prio=7))                            # a hook that declines
        for _ in range(2):
            tx.send(big)
        time.sleep(0.2)
        for rx in (batch, plain, bare):
            rx.drain()
    finally:
        tx.close()
        tx254.close()
    assert isinstance(batch.sock._rb, rxbatch.BatchReader)      # the batch path was taken
    assert batch.summary() == plain.summary()
    received, drops, kernel, got = batch.summary()
    assert received == 160 + 10 + 7 + 3 + 2 and kernel == 0
    assert drops == {"ip_ttl_err": 10, "packet_len_err": 3, "vers_err": 2,
                     "invalid_type_rcvd": 1, "chk_err": 1}
    # delivered: 40 first times, 3 declined, the big one twice (too big to be remembered)
    assert len(got) == 165 and batch.hooked == 120
    assert got[-1][:2] == (8, 150) and got[-2][:2] == (8, 150)
    assert got[0] == (1, 150, str(SRC), str(MCAST6), 255)
    assert bare.summary()[:3] == (received, drops, kernel) and bare.hooked == 0
    assert [g[:3] for g in bare.summary()[3]] == [g[:3] for g in got]
    for rx in (batch, plain, bare):
        rx.sock.close()


def test_vrrp_rx6_batch_reads_the_kernel_drop_counter(lab: Lab) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "2001:db8::1/64")
    b = lab.node("b", lan, "2001:db8::2/64")
    lost: list[int] = []
    rx = Rx(b.ns, plain=False, hook=True)
    rx.sock.on_overflow = lambda n, lane: lost.append(n)
    rx.sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)    # a few packets only
    tx = Tx(a.ns)
    try:
        time.sleep(0.2)
        for i in range(200):
            tx.send(_adv(i % 50 + 1))
        time.sleep(0.2)
        rx.drain()
        tx.send(_adv(1))                # carries the count of what was dropped
        time.sleep(0.1)
        rx.drain()
    finally:
        tx.close()
    assert rx.sock.kernel_drops > 0 and sum(lost) == rx.sock.kernel_drops
    assert rx.sock.received + rx.sock.kernel_drops == 201
    assert rx.summary()[3][-1] == (1, 150, str(SRC), str(MCAST6), 255)
    rx.sock.close()
