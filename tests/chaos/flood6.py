"""IPv6 VRRPv3 floods (issue 15): adverts from an attacker's link-local address to ff02::12,
built with scapy (an independent encoder), sent as raw Ethernet frames to one node's MAC
address as fast as one process can. Inside the attacker's namespace:

    python3 flood6.py SECONDS DST_MAC CATEGORY       # prints "sent N"

Categories (VRID 61 is the IPv6 instance of tests/chaos/test_chaos_rx_overflow.py):
    bad_checksum6   VRID 61, priority 250, the checksum's bits inverted: keepalived's chk_err
    foreign_vrid6   VRID 62, which nobody runs: counted nowhere
"""
from __future__ import annotations

import socket
import sys
import time

SRC6 = "fe80::77"
VIP6 = "2001:db8::100"
VRID6 = 61


def frames(name: str, dst_mac: str) -> list[bytes]:
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRPv3

    def advert(vrid: int, prio: int) -> bytes:
        pkt = (Ether(dst=dst_mac, src="02:00:00:00:00:77")
               / IPv6(src=SRC6, dst="ff02::12", hlim=255)
               / VRRPv3(vrid=vrid, priority=prio, addrlist=[VIP6], ipcount=1, adv=100))
        return bytes(pkt)

    if name == "bad_checksum6":
        good = bytearray(advert(VRID6, 250))
        at = 14 + 40 + 6                                     # VRRP checksum (RFC 5798 §5.2.8)
        good[at] ^= 0xFF
        good[at + 1] ^= 0xFF
        return [bytes(good)]
    if name == "foreign_vrid6":
        return [advert(62, 100), advert(63, 200)]
    raise SystemExit(f"unknown category {name}")


def flood(seconds: float, dst_mac: str, name: str) -> int:
    fs = frames(name, dst_mac)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("eth0", 0))
    sent, n = 0, len(fs)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(256):
            try:
                s.send(fs[sent % n])
            except OSError:          # ENOBUFS: the attacker's own queue is full
                continue
            sent += 1
    return sent


if __name__ == "__main__":
    print(f"sent {flood(float(sys.argv[1]), sys.argv[2], sys.argv[3])}", flush=True)
