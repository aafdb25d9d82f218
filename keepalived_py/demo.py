"""`keepalived-py demo`: the daemon's main job on a built-in configuration, in a sandbox.

It builds a small LAN of network namespaces (a bridge in its own namespace, two nodes on veth
pairs, documentation addresses only), runs two keepalived-py daemons with the built-in VRRP
configuration below, shows the election, kills the master with SIGKILL, measures how long the
virtual address takes to move, brings the old master back (it preempts), and removes every
namespace and process it made — also on Ctrl-C or an error. Needs root (namespaces).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CONFIG = """
global_defs {{
    router_id {name}
    enable_script_security
}}
vrrp_instance VI_DEMO {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""
VIP = "192.0.2.100"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _has_vip(ns: str) -> bool:
    out = _ip("-n", ns, "-j", "addr", "show", "dev", "eth0", check=False).stdout or "[]"
    try:
        data = json.loads(out)
    except ValueError:
        return False
    return any(a.get("local") == VIP for i in data for a in i.get("addr_info", []))


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="keepalived-py demo",
                                 description="VRRP election and failover between two "
                                             "keepalived-py daemons in network namespaces")
    ap.add_argument("--advert-int", type=float, default=1.0, help="advert interval (s)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("keepalived-py demo needs root to create network namespaces", file=sys.stderr)
        return 1
    prefix = f"kpdemo{secrets.token_hex(2)}"
    lan, nodes = f"{prefix}-lan", {"alpha": f"{prefix}-alpha", "beta": f"{prefix}-beta"}
    made: list[str] = []
    procs: dict[str, subprocess.Popen[bytes]] = {}
    tmp = tempfile.mkdtemp(prefix="keepalived-py-demo-")
    ok = False
    advert = args.advert_int
    bound = 3 * advert + (256 - 100) / 256
    try:
        _say(f"building a LAN: bridge namespace {lan}, nodes {', '.join(nodes.values())}")
        for ns in (lan, *nodes.values()):
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", lan, "link", "add", "br0", "type", "bridge")
        _ip("-n", lan, "link", "set", "br0", "up")
        for i, ns in enumerate(nodes.values(), 1):
            _ip("-n", lan, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", lan, "link", "set", f"p{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"192.0.2.{i}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

        def start(name: str, priority: int) -> None:
            d = os.path.join(tmp, name)
            os.makedirs(d, exist_ok=True)
            conf = os.path.join(d, "keepalived.conf")
            with open(conf, "w") as f:
                f.write(CONFIG.format(name=name, priority=priority, advert=advert))
            procs[name] = subprocess.Popen(
                ["ip", "netns", "exec", nodes[name], sys.executable, "-m", "keepalived_py",
                 "-n", "-l", "-f", conf, "-p", f"{d}/keepalived.pid", "-r", f"{d}/vrrp.pid",
                 "-c", f"{d}/checkers.pid"],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "log"), "ab"))

        _say("starting keepalived-py on alpha (priority 150) and beta (priority 100)")
        start("alpha", 150)
        start("beta", 100)
        t0 = time.monotonic()
        while not _has_vip(nodes["alpha"]) and time.monotonic() - t0 < 15:
            time.sleep(0.01)
        if not _has_vip(nodes["alpha"]):
            _say("alpha did not become master - see the logs in " + tmp)
            return 1
        _say(f"election: alpha is MASTER and holds {VIP} after {time.monotonic() - t0:.2f} s"
             f" (beta waits Master_Down_Interval {bound:.2f} s)")
        time.sleep(2 * advert)
        _say(f"beta holds the VIP: {_has_vip(nodes['beta'])}")
        _say("killing alpha's daemon with SIGKILL (no priority-0 advert: a crash)")
        for f in ("vrrp.pid", "keepalived.pid"):
            try:
                with open(os.path.join(tmp, "alpha", f)) as fh:
                    os.kill(int(fh.read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        # alpha's address stays on its (dead) host; what matters is beta taking over
        t1 = time.monotonic()
        while not _has_vip(nodes["beta"]) and time.monotonic() - t1 < 10:
            time.sleep(0.005)
        took = time.monotonic() - t1
        if not _has_vip(nodes["beta"]):
            _say("beta did not take over - see the logs in " + tmp)
            return 1
        _say(f"failover: beta is MASTER and holds {VIP} {took:.3f} s after the kill"
             f" (protocol bound 3 x advert + skew = {3 * advert + (256 - 100) / 256:.3f} s)")
        _ip("-n", nodes["alpha"], "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)
        _say("restarting alpha: being higher priority, it preempts")
        procs["alpha"].wait(5)
        start("alpha", 150)
        t2 = time.monotonic()
        while not (_has_vip(nodes["alpha"]) and not _has_vip(nodes["beta"])) and \
                time.monotonic() - t2 < 15:
            time.sleep(0.01)
        if not (_has_vip(nodes["alpha"]) and not _has_vip(nodes["beta"])):
            _say("alpha did not preempt - see the logs in " + tmp)
            return 1
        _say(f"preemption: alpha is MASTER again after {time.monotonic() - t2:.2f} s;"
             f" beta released the VIP: {not _has_vip(nodes['beta'])}")
        _say("graceful stop of alpha (SIGTERM: priority-0 advert, beta takes over at once)")
        procs["alpha"].terminate()
        t3 = time.monotonic()
        while not _has_vip(nodes["beta"]) and time.monotonic() - t3 < 10:
            time.sleep(0.005)
        if not _has_vip(nodes["beta"]):
            _say("beta did not take over after the graceful stop - see the logs in " + tmp)
            return 1
        _say(f"handover after graceful stop: {time.monotonic() - t3:.3f} s"
             f" (Skew_Time {(256 - 100) / 256:.3f} s)")
        ok = True
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in made:
            for pid in _ip("netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            _ip("netns", "del", ns, check=False)
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
            _say(f"cleaned up: namespaces {', '.join(made)} and the logs removed")
        else:
            _say(f"cleaned up: namespaces {', '.join(made)} removed; logs kept in {tmp}")
