"""Failover overhead: from the dead master's last advert to the backup's first gratuitous ARP
on the wire, minus the protocol bound (Master_Down_Interval = 3 x advert + skew).

A LAN of namespaces; node A (priority 150) is master, node B (priority 100) backup, both
running the daemon under test (keepalived-py, or keepalived for comparison). A's daemon is
frozen with SIGSTOP (a silent death: no priority-0 advert), and a capture socket on the bridge
timestamps A's last advert and B's first ARP per instance. Run as root:

    python bench/vrrp_failover.py [--daemon ours|keepalived] [--instances 1] [--advert 1] [--version 2]
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

SO_TIMESTAMPNS = 35


def ip(*a: str) -> None:
    subprocess.run(["ip", *a], check=True, capture_output=True)


def conf(prio: int, n: int, advert: float, version: int) -> str:
    out = [f"global_defs {{\n  enable_script_security\n  vrrp_version {version}\n"
           "  vrrp_garp_master_delay 10\n}\n"]
    for i in range(n):
        out.append(f"vrrp_instance VI_{i} {{\n  interface eth0\n  virtual_router_id {i + 1}\n"
                   f"  priority {prio}\n  advert_int {advert}\n"
                   f"  virtual_ipaddress {{ 198.51.100.{i + 1}/24 }}\n}}\n")
    return "".join(out)


def run(args: argparse.Namespace) -> list[float]:
    pre = f"kpfo{secrets.token_hex(2)}"
    lan, a, b = f"{pre}-lan", f"{pre}-a", f"{pre}-b"
    tmp = tempfile.mkdtemp(prefix="kp-failover-")
    procs: list[subprocess.Popen[bytes]] = []
    made = []
    try:
        for ns in (lan, a, b):
            ip("netns", "add", ns)
            made.append(ns)
        ip("-n", lan, "link", "add", "br0", "type", "bridge")
        ip("-n", lan, "link", "set", "br0", "up")
        for i, ns in enumerate((a, b), 1):
            ip("-n", lan, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            ip("-n", lan, "link", "set", f"p{i}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"192.0.2.{i}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
        for name, ns, prio in (("a", a, 150), ("b", b, 100)):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            path = os.path.join(d, "k.conf")
            with open(path, "w") as f:
                f.write(conf(prio, args.instances, args.advert, args.version))
            pids = ["-p", f"{d}/p.pid", "-r", f"{d}/v.pid", "-c", f"{d}/c.pid"]
            if args.daemon == "ours":
                cmd = [sys.executable, "-m", "keepalived_py", "-n", "-G", "-f", path, *pids]
            else:
                cmd = [shutil.which("keepalived") or "keepalived", "-n", "-G", "-P", "-f", path,
                       *pids]
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *cmd],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(3 * args.advert + 3)
        # capture on the bridge port of B (sees A's adverts and B's ARPs), with kernel stamps
        cap = subprocess.Popen(["ip", "netns", "exec", lan, sys.executable, __file__,
                                "--capture", "p2", str(args.instances), str(args.advert)],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(1.0 + 2 * args.advert)
        with open(os.path.join(tmp, "a", "v.pid")) as f:
            os.kill(int(f.read()), signal.SIGSTOP)
        out, _ = cap.communicate(timeout=60)
        with open(os.path.join(tmp, "a", "v.pid")) as f:
            os.kill(int(f.read()), signal.SIGCONT)
        return [float(x) for x in out.split()]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def capture(ifname: str, instances: int, advert: float) -> None:
    """In the LAN namespace: print, per instance, first B GARP - last A advert (seconds)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(0.5)
    last_advert: dict[int, float] = {}
    first_garp: dict[int, float] = {}
    end = time.monotonic() + 3 * advert + 30
    while time.monotonic() < end and len(first_garp) < instances:
        try:
            data, anc, _, _ = s.recvmsg(2048, 64)
        except TimeoutError:
            continue
        ts = next((struct.unpack("ll", v[:16])[0] + struct.unpack("ll", v[:16])[1] / 1e9
                   for lvl, kind, v in anc if kind == SO_TIMESTAMPNS), time.time())
        etype = struct.unpack_from("!H", data, 12)[0]
        if etype == 0x0800 and data[23] == 112 and data[26:30] == bytes([192, 0, 2, 1]):
            vrid = data[14 + (data[14] & 0x0F) * 4 + 1]
            last_advert[vrid] = ts
        elif etype == 0x0806 and data[28:30] == bytes([198, 51]):
            vrid = data[31]
            if vrid in last_advert and vrid not in first_garp:
                first_garp[vrid] = ts
    for vrid, t in sorted(first_garp.items()):
        print(f"{t - last_advert[vrid]:.6f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--capture":
        capture(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", choices=["ours", "keepalived"], default="ours")
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--advert", type=float, default=1.0)
    ap.add_argument("--version", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    bound = 3 * args.advert + ((256 - 100) * (args.advert if args.version == 3 else 1)) / 256
    over: list[float] = []
    for _ in range(args.runs):
        over += [(t - bound) * 1000 for t in run(args)]
    if not over:
        print("no failover observed")
        return 1
    print(f"{args.daemon} v{args.version} advert {args.advert} s, {args.instances} instance(s),"
          f" {len(over)} failovers: overhead above the bound ({bound * 1000:.1f} ms) median "
          f"{statistics.median(over):.2f} ms, worst {max(over):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
