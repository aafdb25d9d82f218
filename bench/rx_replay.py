"""The IPv6 VRRP receive path's cost per advert, without a namespace (issue 16.2).

    python bench/rx_replay.py [--tree DIR] [--adverts 10000] [--instances 200] [--burst 20]

A master's adverts (`--instances` VRIDs, each the same bytes every interval) go to a
transport.VrrpSocket on a UDP socket on ::1 (the same message form as a raw IPv6 socket:
payload, source address, IPV6_PKTINFO, IPV6_HOPLIMIT; tests/unit/vrrp/test_rx6.py), in bursts
of `--burst`, and `readable()` drains each burst. Its deliver does what the daemon's does for
the backup's common case: hang a fast hook (vrrp/rxfast.py) whose work is one dict store
(the timer's), or, where the tree's socket takes no hook, the same store in deliver. Prints
the time spent in readable() (perf_counter and CPU) per advert, median of `--reps`.
`--tree DIR`: the keepalived_py of another checkout (before/after, e.g. main's).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--adverts", type=int, default=10000)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.tree))
    import ipaddress

    from keepalived_py.vrrp import transport
    from keepalived_py.vrrp.packet import MCAST6, Advert, encode

    lo = ipaddress.IPv6Address("::1")

    class UdpSocket(transport.VrrpSocket):
        def _open(self) -> socket.socket:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, transport.SO_RXQ_OVFL, 1)
            s.setsockopt(socket.IPPROTO_IPV6, transport.IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, transport.IPV6_RECVPKTINFO, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(("::1", 0))
            return s

    timers: dict[int, float] = {}
    hooks: dict[int, object] = {}

    def deliver(adv: Advert, src: object, dst: object, ttl: int) -> None:
        timers[adv.vrid] = time.monotonic()
        if adv.vrid not in hooks:
            vrid = adv.vrid

            def take(t: int) -> bool:
                timers[vrid] = time.monotonic()
                return True
            hooks[vrid] = take
        rx.fast_hook(hooks[adv.vrid])          # type: ignore[arg-type]

    rx = UdpSocket("lo", 6, MCAST6, deliver)
    port = rx.sock.getsockname()[1]
    tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    pkts = [encode(Advert(3, v % 255 + 1, 150, (ipaddress.IPv6Address(f"2001:db8::{v + 1:x}"),),
                          0.1), lo, lo) for v in range(args.instances)]
    walls, cpus = [], []
    for _ in range(args.reps):
        wall = cpu = 0.0
        sent = 0
        got0 = rx.received
        while sent < args.adverts:
            for _ in range(args.burst):
                tx.sendto(pkts[sent % len(pkts)], ("::1", port))
                sent += 1
            w0, c0 = time.perf_counter(), time.process_time()
            while rx.readable():
                pass
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
        assert rx.received - got0 == sent, (rx.received - got0, sent, rx.kernel_drops)
        walls.append(wall / sent * 1e6)
        cpus.append(cpu / sent * 1e6)
    print(f"{args.tree}: {args.adverts} adverts, {args.instances} instances, bursts of "
          f"{args.burst}: readable() {statistics.median(walls):.2f} us/advert wall "
          f"({min(walls):.2f}-{max(walls):.2f}), {statistics.median(cpus):.2f} us CPU; "
          f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
