"""Config benchmark: a 1,000-instance keepalived.conf (~30,000 lines) through load_config,
beside `keepalived -t` on the same file (run inside a scratch namespace that has the
interfaces the file names, so both do the same work). Run as root:

    python bench/config_parse.py [--instances 1000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

INSTANCE = """vrrp_instance VI_{n} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
    nopreempt
    garp_master_delay 1
    garp_master_repeat 2
    authentication {{
        auth_type PASS
        auth_pass p{n}
    }}
    track_interface {{
        eth0 weight -10
    }}
    virtual_ipaddress {{
        10.{a}.{b}.1/24 dev eth0 label eth0:{n}
        10.{a}.{b}.2/24 dev eth0
        10.{a}.{b}.3/24 dev eth0
    }}
    virtual_ipaddress_excluded {{
        10.{a}.{b}.10/24
        10.{a}.{b}.11/24
    }}
    virtual_routes {{
        172.16.{b}.0/24 via 10.{a}.{b}.254 dev eth0
    }}
    unicast_peer {{
        192.0.2.{peer}
    }}
}}
"""


def make(n: int) -> str:
    parts = ["global_defs {\n    router_id bench\n    enable_script_security\n}\n"]
    for i in range(n):
        parts.append(INSTANCE.format(n=i, vrid=i % 255 + 1, prio=100 + i % 100,
                                     a=i // 250, b=i % 250, peer=i % 250 + 1))
    return "".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from keepalived_py.config import load_config
    d = tempfile.mkdtemp(prefix="kp-bench-")
    try:
        path = os.path.join(d, "keepalived.conf")
        with open(path, "w") as f:
            f.write(make(args.instances))
        lines = sum(1 for _ in open(path))
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = load_config(path)
            times.append(time.perf_counter() - t0)
        assert r.config is not None and len(r.config.vrrp_instances) == args.instances
        print(f"{args.instances} instances, {lines} lines: keepalived-py load_config "
              f"min {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s")
        keepalived = shutil.which("keepalived")
        if keepalived and os.geteuid() == 0:
            ns = f"kpbench{os.getpid()}"
            subprocess.run(["ip", "netns", "add", ns], check=True)
            try:
                subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer",
                                "name", "eth1"], check=True)
                kt = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    subprocess.run(["ip", "netns", "exec", ns, keepalived, "-t", "-f", path],
                                   capture_output=True)
                    kt.append(time.perf_counter() - t0)
                ours = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "keepalived_py",
                                    "-t", "-f", path], capture_output=True)
                    ours.append(time.perf_counter() - t0)
                print(f"keepalived -t (whole process): min {min(kt):.3f} s; "
                      f"keepalived-py -t (whole process, incl. interpreter start): min {min(ours):.3f} s")
            finally:
                subprocess.run(["ip", "netns", "del", ns])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
