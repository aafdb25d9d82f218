"""Gratuitous ARP and unsolicited neighbour advertisements, in keepalived's packet form.

ARP (vrrp_arp.c): an Ethernet broadcast carrying an ARP *request* whose sender and target
protocol addresses are the virtual address, sender hardware address the interface's MAC and
target hardware address the broadcast address, padded to the 60-byte Ethernet minimum.
NA (vrrp_ndisc.c): IPv6 from the interface's link-local address to ff02::1, hop limit 255,
ICMPv6 type 136 with the Override flag (and Router when forwarding is on), target the virtual
address, option 2 (target link-layer address). Frames are built once per address and
interface and sent on one AF_PACKET socket — nothing slow between a decision and its packets.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable
from typing import Any

from keepalived_py.vrrp.packet import checksum

ETH_P_ARP, ETH_P_IPV6 = 0x0806, 0x86DD
BROADCAST = b"\xff" * 6
ALL_NODES = ipaddress.IPv6Address("ff02::1")


def mac_of(ifname: str) -> bytes | None:
    try:
        with open(f"/sys/class/net/{ifname}/address") as f:
            return bytes.fromhex(f.read().strip().replace(":", ""))
    except (OSError, ValueError):
        return None


def _read(read: Callable[..., Any], *args: Any) -> Any:
    return read(*args)


def arp_frame(mac: bytes, vip: ipaddress.IPv4Address) -> bytes:
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + vip.packed + BROADCAST + vip.packed
    return (eth + arp).ljust(60, b"\0")


def _forwarding(ifname: str) -> bool:
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def na_frame(mac: bytes, src: ipaddress.IPv6Address, vip: ipaddress.IPv6Address,
             router: bool = False) -> bytes:
    dst_mac = b"\x33\x33" + ALL_NODES.packed[-4:]
    flags = 0x20000000 | (0x80000000 if router else 0)        # Override (| Router)
    icmp = struct.pack("!BBHI", 136, 0, 0, flags) + vip.packed + struct.pack("!BB", 2, 1) + mac
    pseudo = src.packed + ALL_NODES.packed + struct.pack("!I3xB", len(icmp), 58)
    csum = checksum(pseudo + icmp)
    icmp = icmp[:2] + struct.pack("!H", csum) + icmp[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + src.packed + ALL_NODES.packed
    return dst_mac + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + icmp


class GratuitousSender:
    """Builds and sends the frames for a set of addresses on their interfaces."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.sent = 0
        self.failed = 0

    def open(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.setblocking(False)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def frames(self, ifname: str, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
               src6: ipaddress.IPv6Address | None,
               fact: Callable[..., Any] | None = None) -> list[bytes]:
        """`fact(read, *args)`: how the interface's facts (MAC, IPv6 forwarding) are read; the
        daemon reads each once per interface while it starts its instances (issue 16)."""
        if fact is None:
            fact = _read
        mac = fact(mac_of, ifname)
        if mac is None:
            return []
        router = any(a.version == 6 for a in addresses) and fact(_forwarding, ifname)
        out = []
        for a in addresses:
            if a.version == 4:
                out.append(arp_frame(mac, a))
            elif src6 is not None:
                out.append(na_frame(mac, src6, a, router))
        return out

    def send(self, ifname: str, frames: list[bytes]) -> None:
        if self.sock is None or not frames:
            return
        for fr in frames:
            proto = struct.unpack_from("!H", fr, 12)[0]
            try:
                self.sock.sendto(fr, (ifname, proto, 0, 0, BROADCAST))
                self.sent += 1
            except OSError:
                self.failed += 1
