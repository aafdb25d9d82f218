"""Run inside a node namespace: timestamp a VRRP takeover from outside the daemon.

    order_sniffer.py IFNAME VIP[,VIP...] TIMEOUT

Prints "ready" once listening, then one JSON line: the kernel timestamp (CLOCK_REALTIME, ns)
of the first VRRP advert the node sends and of the first gratuitous ARP for one of the VIPs
(an AF_PACKET socket with SO_TIMESTAMPNS), and the times the RTM_NEWADDR of each VIP were
read from an rtnetlink socket bound to RTMGRP_IPV4_IFADDR by a process that does nothing else (netlink
messages carry no timestamp). Both run SCHED_FIFO when they may, so that the reading time is
the kernel's event time plus one wake-up.
"""
from __future__ import annotations

import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWADDR = 20
IFA_ADDRESS, IFA_LOCAL = 1, 2
VRRP_PROTO = 112


def newaddrs(data: bytes) -> list[str]:
    """The IPv4 addresses of the RTM_NEWADDR messages in one netlink read."""
    out = []
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if kind == RTM_NEWADDR and length >= 24:
            pos = off + 24
            end = off + length
            while pos + 4 <= end:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                if atype in (IFA_LOCAL, IFA_ADDRESS) and alen == 8:
                    out.append(str(ipaddress.IPv4Address(data[pos + 4:pos + 8])))
                    break
                pos += (alen + 3) & ~3
        off += (length + 3) & ~3
    return out


def main() -> None:
    ifname, vips, timeout = sys.argv[1], set(sys.argv[2].split(",")), float(sys.argv[3])
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        pass
    pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    pk.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    pk.bind((ifname, ETH_P_ALL))
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    nl.bind((0, RTMGRP_IPV4_IFADDR))
    # a process of its own reads the netlink socket and does nothing else: its reading time
    # is the kernel's event time plus one wake-up (the packets carry kernel timestamps)
    rd, wr = os.pipe()
    if os.fork() == 0:
        pk.close()
        os.close(rd)
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
        except (OSError, AttributeError):
            pass
        seen: set[str] = set()
        nl.settimeout(timeout)
        try:
            while len(seen) < len(vips):
                data = nl.recv(65536)
                now = time.time_ns()
                for a in newaddrs(data):
                    if a in vips and a not in seen:
                        seen.add(a)
                        os.write(wr, f"{a} {now}\n".encode())
        except OSError:
            pass
        os._exit(0)
    nl.close()
    os.close(wr)
    print("ready", flush=True)
    advert: int | None = None
    garp: int | None = None
    added: dict[str, int] = {}
    lines = b""
    deadline = time.monotonic() + timeout
    while (advert is None or garp is None or len(added) < len(vips)) and \
            time.monotonic() < deadline:
        ready, _, _ = select.select([rd, pk], [], [], 0.2)
        if rd in ready:
            lines += os.read(rd, 4096)
            *done, lines = lines.split(b"\n")
            for line in done:
                a, t = line.decode().split()
                added[a] = int(t)
        if pk in ready:
            data, anc, _flags, addr = pk.recvmsg(2048, socket.CMSG_SPACE(16))
            ts = time.time_ns()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("=qq", value[:16])
                    ts = sec * 1_000_000_000 + nsec
            if addr[2] != PACKET_OUTGOING or len(data) < 14:
                continue
            ethertype = struct.unpack_from("!H", data, 12)[0]
            if ethertype == 0x0800 and len(data) >= 34 and data[23] == VRRP_PROTO:
                if advert is None:
                    advert = ts
            elif ethertype == 0x0806 and len(data) >= 42 and garp is None:
                if str(ipaddress.IPv4Address(data[28:32])) in vips:
                    garp = ts
    print(json.dumps({"advert": advert, "garp": garp, "newaddr": added}), flush=True)


if __name__ == "__main__":
    main()
