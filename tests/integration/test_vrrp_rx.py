"""The IPv4 receive path of transport.VrrpSocket (issue 16): packets read in batches with
recvmmsg (vrrp/rxbatch.py) and repeated adverts taken by the hook the daemon sets
(vrrp/rxfast.py) must count and deliver exactly what recvmsg one packet at a time does.

A sender's raw socket in one namespace, two receiving VrrpSockets in another (one on the
batch path, one forced onto recvmsg), the same packets to both: good adverts repeated,
wrong TTL, bad ones of every kind, oversized past the batch slot (reassembled fragments),
a flooded queue (the kernel's drop counter through the ancillary data).
"""
from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from netlab import Lab

from keepalived_py.vrrp import rxbatch
from keepalived_py.vrrp.packet import MCAST4, Advert, encode
from keepalived_py.vrrp.transport import VrrpSocket

_libc = ctypes.CDLL(None, use_errno=True)
A = ipaddress.IPv4Address


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
        self.sock = _in_ns(ns, lambda: VrrpSocket("eth0", 4, MCAST4, self.deliver))
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


def _tx(ns: str, ttl: int = 255) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        return s
    return _in_ns(ns, make)


def _adv(vrid: int, prio: int = 150, n: int = 1) -> bytes:
    addrs = tuple(A(f"198.51.100.{i + 1}") for i in range(n))
    return encode(Advert(3, vrid, prio, addrs, 1.0), A("192.0.2.1"), MCAST4)


def test_vrrp_rx_batch_and_hook_count_and_deliver_as_recvmsg(lab: Lab) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24")
    b = lab.node("b", lan, "192.0.2.2/24")
    batch, plain = Rx(b.ns, plain=False, hook=True), Rx(b.ns, plain=True, hook=True)
    bare = Rx(b.ns, plain=False, hook=False)            # no hook: deliver every time
    tx, tx254 = _tx(a.ns), _tx(a.ns, 254)
    group = ("224.0.0.18", 0)
    good = [_adv(v) for v in range(1, 41)]
    bad = [
        _adv(1)[:5],                                            # truncated
        bytes([0x13]) + _adv(2)[1:],                            # version 1
        bytes([0x32]) + _adv(3)[1:],                            # type 2
        _adv(4)[:6] + b"\0\0" + _adv(4)[8:],                    # checksum
        _adv(5) + bytes(40),                                    # longer than its count
        bytes([0x13]) + _adv(6)[1:] + bytes(3000),              # past the batch slot: version
        _adv(7) + bytes(2500),                                  # past the batch slot: length
    ]
    try:
        time.sleep(0.2)                                         # the group joined
        for _ in range(4):                                      # 4 x 40: bursts past VLEN
            for p in good:
                tx.sendto(p, group)
            for rx in (batch, plain, bare):
                rx.drain()
        for p in good[:10]:                                     # seen before, TTL 254
            tx254.sendto(p, group)
        for p in bad:
            tx.sendto(p, group)
        for _ in range(3):
            tx.sendto(_adv(9, prio=7), group)                   # a hook that declines
        time.sleep(0.2)
        for rx in (batch, plain, bare):
            rx.drain()
    finally:
        tx.close()
        tx254.close()
    assert isinstance(batch.sock._rb, rxbatch.BatchReader)      # the batch path was taken
    assert batch.summary() == plain.summary()
    received, drops, kernel, got = batch.summary()
    assert received == 160 + 10 + 7 + 3 and kernel == 0        # (the IPv4 headers parsed)
    assert drops == {"ip_ttl_err": 10, "packet_len_err": 3, "vers_err": 2,
                     "invalid_type_rcvd": 1, "chk_err": 1}
    assert len(got) == 163 and batch.hooked == 120             # 40 first times, 3 declined
    assert bare.summary()[:3] == (received, drops, kernel) and bare.hooked == 0
    assert [g[:3] for g in bare.summary()[3]] == [g[:3] for g in got]
    for rx in (batch, plain, bare):
        rx.sock.close()


def test_vrrp_rx_batch_reads_the_kernel_drop_counter(lab: Lab) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24")
    b = lab.node("b", lan, "192.0.2.2/24")
    lost: list[int] = []
    rx = Rx(b.ns, plain=False, hook=True)
    rx.sock.on_overflow = lambda n, lane: lost.append(n)
    rx.sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)    # a few packets only
    tx = _tx(a.ns)
    try:
        time.sleep(0.2)
        for i in range(200):
            tx.sendto(_adv(i % 50 + 1), ("224.0.0.18", 0))
        time.sleep(0.2)
        rx.drain()
        tx.sendto(_adv(1), ("224.0.0.18", 0))      # carries the count of what was dropped
        time.sleep(0.1)
        rx.drain()
    finally:
        tx.close()
    assert rx.sock.kernel_drops > 0 and sum(lost) == rx.sock.kernel_drops
    assert rx.sock.received + rx.sock.kernel_drops == 201
    assert struct.calcsize("@I") == 4
    rx.sock.close()
