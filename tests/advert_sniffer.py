"""Run inside a node namespace: which VRRP adverts (IPv4) pass on an interface.

    advert_sniffer.py IFNAME SECONDS

Listens SECONDS on IFNAME (an AF_PACKET socket: every frame, whoever sends it) and prints, once,
one sorted line per distinct sender and priority seen: `SOURCE prio=N ok|bad`, where ok means
that the VRRPv3 checksum over the IPv4 pseudo-header is right (keepalived 2.2.7 drops an advert
whose checksum is not: "Invalid VRRPv3 checksum"). A VRRPv2 advert's checksum does not cover
the pseudo-header: read it as `bad` there. Standard library only: it runs with the node's
python3. (tests/vm/ipvlan_scenario.py keeps its own copy: it runs inside the VM, alone.)

`sniff_adverts(node, seconds)` runs it in a tests/netlab.py node and returns the lines.
"""
from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netlab import Node

ETH_P_IP = 0x0800
VRRP_PROTO = 112


def checksum(data: bytes) -> int:
    """The ones' complement sum of `data` (0xFFFF when a checksum inside it is right)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def describe(frame: bytes) -> str | None:
    """`SOURCE prio=N ok|bad` for an Ethernet frame holding a VRRP packet, else None."""
    if len(frame) < 34 or frame[23] != VRRP_PROTO:
        return None
    start = 14 + (frame[14] & 15) * 4
    vrrp = frame[start:14 + (frame[16] << 8 | frame[17])]
    if len(vrrp) < 8:
        return None
    pseudo = frame[26:34] + struct.pack("!BBH", 0, VRRP_PROTO, len(vrrp))
    ok = checksum(pseudo + vrrp) == 0xFFFF
    return f"{socket.inet_ntoa(frame[26:30])} prio={vrrp[2]} {'ok' if ok else 'bad'}"


def main(argv: list[str]) -> int:
    ifname, seconds = argv[0], float(argv[1])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((ifname, 0))
    s.settimeout(0.5)
    end, seen = time.monotonic() + seconds, set()
    while time.monotonic() < end:
        try:
            line = describe(s.recv(2000))
        except TimeoutError:
            continue
        if line is not None:
            seen.add(line)
    print("\n".join(sorted(seen)), flush=True)
    return 0


def sniff_adverts(node: Node, seconds: float, ifname: str = "eth0") -> list[str]:
    """The adverts `node` (tests/netlab.py) sees on `ifname` for `seconds`, one line each."""
    proc = node.popen(["python3", str(Path(__file__).resolve()), ifname, str(seconds)],
                      stdout=-1)
    out, _ = proc.communicate(timeout=seconds + 10)
    return out.decode().splitlines()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
