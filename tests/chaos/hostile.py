"""Hostile VRRP packets: categories of malformed, truncated, oversized, wrong-checksum, wrong-TTL,
wrong-VRID, wrong-auth, wrong-version, replayed-interval and spoofed-source adverts (IPv4 v2 and
v3, and IPv6 v3), built once with scapy (an independent encoder) and sent as raw Ethernet frames
from an attacker namespace on the LAN. Each category names the keepalived stats counter a drop
of it belongs in (`counter`; None where the packet never reaches the instance's socket, e.g.
IPv6 to an IPv4-only instance).

Used by tests/chaos/test_chaos_hostile.py (~20,000 packets) and bench/hostile.py (1,000,000).
As a script (inside the attacker's namespace):

    python3 hostile.py send COUNT_PER_CATEGORY RATE_PPS CATEGORY...   # prints "sent N"
    python3 hostile.py serve           # reads "COUNT RATE CATEGORY" lines, prints "sent N" each
    python3 hostile.py flood SECONDS DST_MAC CATEGORY                 # prints "sent N"
    python3 hostile.py sniff SRC_IP [VRID]                            # prints advert times
"""
from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

VIP = "192.0.2.100"
VRID = 51
SPOOF = "192.0.2.77"          # never a node's address
ATTACKER_MAC = bytes.fromhex("020000000077")
N1, PRIO_N1 = "192.0.2.1", 200     # the chaos cluster's master (tests/chaos/chaoslab.py)


def _set(b: bytes, i: int, v: int) -> bytes:
    return b[:i] + bytes([v]) + b[i + 1:]


def _frames() -> dict[str, tuple[str | None, list[bytes]]]:
    """category -> (expected counter, frames)."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRP, VRRPv3

    eth4 = Ether(dst="01:00:5e:00:00:12", src="02:00:00:00:00:77")
    eth6 = Ether(dst="33:33:00:00:00:12", src="02:00:00:00:00:77")

    def ip4(payload: object, ttl: int = 255, src: str = SPOOF, dst: str = "224.0.0.18",
            proto: int = 112) -> object:
        return eth4 / IP(src=src, dst=dst, ttl=ttl, proto=proto) / payload

    def good(**kw: object) -> object:
        args = {"vrid": VRID, "priority": 100, "addrlist": [VIP], "ipcount": 1, "adv": 1}
        args.update(kw)
        return VRRP(**args)

    def raw(pkt: object) -> bytes:
        return bytes(pkt)  # type: ignore[call-overload]

    def corrupt_csum(p: object) -> bytes:
        b = bytearray(raw(p))
        b[-1] ^= 0xFF                     # the last byte (auth data): checksum no longer matches
        return bytes(b)

    def fix_ip(b: bytes) -> bytes:
        """A consistent IPv4 header (total length, header checksum) around whatever VRRP
        bytes follow it, so that only the VRRP part is wrong."""
        ip = bytearray(b[14:34])
        ip[2:4] = struct.pack("!H", len(b) - 14)
        ip[10:12] = b"\0\0"
        words = struct.unpack("!10H", bytes(ip))
        total = sum(words)
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        ip[10:12] = struct.pack("!H", ~total & 0xFFFF)
        return b[:14] + bytes(ip) + b[34:]

    def truncated(n: int) -> bytes:
        return fix_ip(raw(ip4(good()))[:14 + 20 + n])

    def oversized(n: int) -> bytes:
        return fix_ip(raw(ip4(good())) + b"\0" * n)

    cats: dict[str, tuple[str | None, list[bytes]]] = {
        "truncated": ("packet_len_err", [truncated(n) for n in (0, 1, 4, 7, 8, 12)]),
        "oversized": ("packet_len_err", [oversized(n) for n in (4, 64, 600, 1400)]),
        "bad_checksum": ("chk_err", [corrupt_csum(ip4(good(priority=p))) for p in (1, 100, 254)]),
        "bad_ttl": ("ip_ttl_err", [raw(ip4(good(), ttl=t)) for t in (1, 64, 254)]),
        "vrid_zero": ("vrid_err", [raw(ip4(good(vrid=0)))]),
        # another router's VRID: not ours to count (keepalived finds no instance, counts nothing)
        "foreign_vrid": (None, [raw(ip4(good(vrid=v))) for v in (52, 255)]),
        "bad_auth": ("authtype_mismatch", [raw(ip4(good(authtype=1, auth1=0x70617373))),
                                           raw(ip4(good(authtype=2)))]),
        "bad_version": ("vers_err", [raw(ip4(VRRPv3(vrid=VRID, priority=100, addrlist=[VIP],
                                                    ipcount=1, adv=100)))]),
        "bad_type": ("invalid_type_rcvd", [raw(ip4(good(type=2))), raw(ip4(good(type=15)))]),
        "bad_interval": ("advert_interval_err", [raw(ip4(good(adv=a))) for a in (2, 3, 255)]),
        "bad_addr_list": ("addr_list_err", [raw(ip4(good(addrlist=["192.0.2.200"]))),
                                            raw(ip4(good(addrlist=[VIP, "192.0.2.201"], ipcount=2)))]),
        "ipv6_v3": (None, [raw(eth6 / IPv6(src="fe80::77", dst="ff02::12", hlim=255, nh=112)
                               / VRRPv3(vrid=VRID, priority=250, addrlist=["2001:db8::100"],
                                        ipcount=1))]),
        "ipv6_v2": (None, [raw(eth6 / IPv6(src="fe80::77", dst="ff02::12", hlim=255, nh=112)
                               / VRRP(vrid=VRID, priority=250, addrlist=["192.0.2.100"],
                                      ipcount=1))]),
        # valid adverts a master must answer without obeying: a lower priority (keepalived
        # replies with an advert and gratuitous ARPs each time; the log line is rate-limited)
        "lower_priority": (None, [raw(ip4(good(priority=p))) for p in (1, 100, 199)]),
        # the master's own advert, captured and replayed from another host: what the master
        # already is (equal priority, its own address) changes nothing anywhere
        "replayed": (None, [raw(ip4(good(priority=PRIO_N1), src=N1))]),
        "version_1": ("vers_err", [fix_ip(_set(raw(ip4(good())), 34, 0x11))]),
        "auth_type_3": ("invalid_authtype", [raw(ip4(good(authtype=3)))]),
        "interval_zero": ("advert_interval_err", [raw(ip4(good(adv=0)))]),
        "count_too_big": ("packet_len_err", [raw(ip4(good(ipcount=2, addrlist=[VIP])))]),
        "other_group": (None, [raw(ip4(good(), dst="224.0.0.19"))]),
        "other_protocol": (None, [raw(ip4(good(), proto=113))]),
    }
    # the spoofed-source ones keep one fault each: a valid advert would (rightly) be obeyed
    return cats


_CACHE: dict[str, tuple[str | None, list[bytes]]] = {}
_SOCK: list[socket.socket] = []


def send(count: int, rate: float, names: list[str]) -> int:
    cats = _CACHE or _CACHE.update(_frames()) or _CACHE
    if not _SOCK:
        _SOCK.append(socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
        _SOCK[0].bind(("eth0", 0))
    s = _SOCK[0]
    sent = 0
    t0 = time.monotonic()
    for name in names:
        frames = cats[name][1]
        for i in range(count):
            s.send(frames[i % len(frames)])
            sent += 1
            if rate > 0:
                ahead = t0 + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    return sent


def flood(seconds: float, dst_mac: str, name: str) -> int:
    """As fast as one process can: `name`'s frames to one node's MAC address (IP destination
    still the VRRP group, which the node has joined) for `seconds`; enough to fill a Python
    reader's 2 MiB receive queue. Returns the number sent."""
    frames = [bytes.fromhex(dst_mac.replace(":", "")) + f[6:] for f in _frames()[name][1]]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("eth0", 0))
    sent = 0
    end = time.monotonic() + seconds
    n = len(frames)
    while time.monotonic() < end:
        for _ in range(256):
            try:
                s.send(frames[sent % n])
            except OSError:          # ENOBUFS: the attacker's own queue is full
                continue
            sent += 1
    return sent


SNIFF_PROTO = 112


def sniff(src: str, vrid: int = VRID) -> None:
    """Print the arrival time of every IPv4 VRRP advert from `src` for `vrid` (an AF_PACKET
    socket, IPv4 headers without options as our daemons send them): the
    kernel's receive timestamp (SO_TIMESTAMPNS), so the sniffer's own scheduling on a loaded
    host does not count; shifted onto CLOCK_MONOTONIC at start (gaps are what matter)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from advert_sniffer import SO_TIMESTAMPNS, kernel_time

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    want = socket.inet_aton(src)
    shift = time.monotonic() - time.time()
    print("ready", flush=True)
    while True:
        data, anc, _flags, addr = s.recvmsg(2048, 64)
        if addr[2] == socket.PACKET_OUTGOING or len(data) < 34:
            continue
        if data[23] == SNIFF_PROTO and data[26:30] == want and data[35] == vrid \
                and data[6:12] != ATTACKER_MAC:          # not a replayed copy
            print(f"{kernel_time(anc) + shift:.6f}", flush=True)


def categories() -> dict[str, str | None]:
    return {k: v[0] for k, v in _frames().items()}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        # one sender for many categories (scapy is imported once): "COUNT RATE CATEGORY" lines
        _CACHE.update(_frames())
        print("ready", flush=True)
        for line in sys.stdin:
            c, r, name = line.split()
            print(f"sent {send(int(c), float(r), [name])}", flush=True)
    elif sys.argv[1] == "send":
        n = send(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
        print(f"sent {n}", flush=True)
    elif sys.argv[1] == "flood":
        n = flood(float(sys.argv[2]), sys.argv[3], sys.argv[4])
        print(f"sent {n}", flush=True)
    elif sys.argv[1] == "sniff":
        sniff(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else VRID)
    elif sys.argv[1] == "list":
        for k, v in categories().items():
            print(k, v)
