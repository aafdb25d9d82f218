"""Run inside a node namespace: which VRRP adverts (IPv4) pass on an interface, or when.

    advert_sniffer.py IFNAME SECONDS
    advert_sniffer.py --times IFNAME SRC

Listens SECONDS on IFNAME (an AF_PACKET socket: every frame, whoever sends it) and prints, once,
one sorted line per distinct sender and priority seen: `SOURCE prio=N ok|bad`, where ok means
that the VRRPv3 checksum over the IPv4 pseudo-header is right (keepalived 2.2.7 drops an advert
whose checksum is not: "Invalid VRRPv3 checksum"). A VRRPv2 advert's checksum does not cover
the pseudo-header: read it as `bad` there. Standard library only: it runs with the node's
python3. (tests/vm/ipvlan_scenario.py keeps its own copy: it runs inside the VM, alone.)

With --times it prints `ready`, then the time of every advert from SRC that passes, sent by
the node itself or received, as the kernel stamped it (SO_TIMESTAMPNS: the sniffer's own
scheduling on a loaded host does not count), shifted onto CLOCK_MONOTONIC, until killed.

`sniff_adverts(node, seconds)` runs it in a tests/netlab.py node and returns the lines;
`AdvertTimes(node, src)` runs --times there and collects the times.
"""
from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netlab import Node

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
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


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def kernel_time(anc: list[tuple[int, int, bytes]]) -> float:
    """The SO_TIMESTAMPNS receive time (CLOCK_REALTIME) in recvmsg's ancillary data, or now."""
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("@qq", value[:16])
            return sec + nsec / 1e9
    return time.time()


def times(ifname: str, src: str) -> None:
    # ETH_P_ALL: a socket bound to one protocol is not shown the frames the node sends
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((ifname, 0))
    want = socket.inet_aton(src)
    shift = time.monotonic() - time.time()
    print("ready", flush=True)
    while True:
        data, anc, _flags, _addr = s.recvmsg(2048, 64)
        if len(data) < 34 or data[12:14] != b"\x08\x00" or data[23] != VRRP_PROTO \
                or data[26:30] != want:
            continue
        print(f"{kernel_time(anc) + shift:.6f}", flush=True)


def main(argv: list[str]) -> int:
    if argv[0] == "--times":
        times(argv[1], argv[2])
        return 0
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


class AdvertTimes:
    """`advert_sniffer.py --times` in `node`: `seen` fills with the monotonic times of the
    adverts from `src` on `ifname`; stop() ends it."""

    def __init__(self, node: Node, src: str, ifname: str = "eth0") -> None:
        self.seen: list[float] = []
        self._proc = node.popen(["python3", str(Path(__file__).resolve()), "--times", ifname,
                                 src], stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("advert_sniffer: did not start")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            with contextlib.suppress(ValueError):
                self.seen.append(float(line))

    def first_after(self, t: float, timeout: float) -> float | None:
        """The first advert time after `t`, waiting up to `timeout` seconds for it."""
        end = time.monotonic() + timeout
        while True:
            hit = next((x for x in list(self.seen) if x > t), None)
            if hit is not None or time.monotonic() > end:
                return hit
            time.sleep(0.01)

    def stop(self) -> None:
        self._proc.kill()
        self._proc.wait(5)
        self._reader.join(5)

    def __enter__(self) -> AdvertTimes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
