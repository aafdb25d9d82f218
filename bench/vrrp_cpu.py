"""Steady-state cost of being master: CPU (% of one core) of the VRRP child and memory
(PSS/USS of the whole daemon tree), for keepalived-py beside keepalived on the same setup.

One node namespace on a LAN bridge runs N instances, all MASTER (nobody else on the LAN), for
`--seconds`; CPU is read from /proc/PID/stat (utime+stime) of the VRRP child. Run as root:

    python bench/vrrp_cpu.py --instances 200 --advert 0.1
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import psutil


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        parts = f.read().rsplit(b")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def measure(daemon: str, n: int, advert: float, seconds: float) -> tuple[float, float, float]:
    pre = f"kpcpu{secrets.token_hex(2)}"
    lan, node = f"{pre}-lan", f"{pre}-a"
    tmp = tempfile.mkdtemp(prefix="kp-cpu-")
    made = []
    proc = None
    try:
        for ns in (lan, node):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
        subprocess.run(["ip", "-n", lan, "link", "add", "br0", "type", "bridge"], check=True)
        subprocess.run(["ip", "-n", lan, "link", "set", "br0", "up"], check=True)
        subprocess.run(["ip", "-n", lan, "link", "add", "p1", "type", "veth", "peer", "name",
                        "eth0", "netns", node], check=True)
        subprocess.run(["ip", "-n", lan, "link", "set", "p1", "master", "br0", "up"], check=True)
        subprocess.run(["ip", "-n", node, "addr", "add", "192.0.2.1/24", "dev", "eth0"], check=True)
        subprocess.run(["ip", "-n", node, "link", "set", "eth0", "up"], check=True)
        conf = os.path.join(tmp, "k.conf")
        with open(conf, "w") as f:
            f.write("global_defs {\n  enable_script_security\n  vrrp_version 3\n}\n")
            for i in range(n):
                f.write(f"vrrp_instance VI_{i} {{\n  interface eth0\n  virtual_router_id {i % 255 + 1}\n"
                        f"  mcast_dst_ip 224.0.0.{18 + i // 255}\n"
                        f"  priority 200\n  advert_int {advert}\n"
                        f"  virtual_ipaddress {{ 10.{i // 250}.{i % 250}.1/32 }}\n}}\n")
        pids = ["-p", f"{tmp}/p.pid", "-r", f"{tmp}/v.pid", "-c", f"{tmp}/c.pid"]
        if daemon == "ours":
            cmd = [sys.executable, "-m", "keepalived_py", "-n", "-G", "-f", conf, *pids]
        else:
            cmd = [shutil.which("keepalived") or "keepalived", "-n", "-G", "-P", "-f", conf, *pids]
        proc = subprocess.Popen(["ip", "netns", "exec", node, *cmd], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(3 * advert + 4)
        with open(f"{tmp}/v.pid") as f:
            child = int(f.read())
        with open(f"{tmp}/p.pid") as f:
            parent = int(f.read())
        t0, c0 = time.monotonic(), ticks(child)
        time.sleep(seconds)
        cpu = (ticks(child) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0) * 100
        pss = uss = 0
        for p in [psutil.Process(parent), *psutil.Process(parent).children(recursive=True)]:
            mi = p.memory_full_info()
            pss += mi.pss
            uss += mi.uss
        return cpu, pss / 2**20, uss / 2**20
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--advert", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    for daemon in ("ours", "keepalived"):
        cpu, pss, uss = measure(daemon, args.instances, args.advert, args.seconds)
        print(f"{daemon:10s} {args.instances} instances, advert {args.advert} s: VRRP child "
              f"{cpu:.1f}% of a core; daemon tree PSS {pss:.1f} MiB, USS {uss:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
