"""Driven inside the stock-kernel VM, after ipvs_scenario.py in the same boot
(tests/integration/test_ipvs_vm.py): `use_ipvlan` on a kernel that has ipvlan (Debian's
stock kernel builds it as a module; the machine running the suite may not have it, and there
tests/integration/test_ipvlan.py only covers the FAULT case).

keepalived-py (priority 150) and keepalived 2.2.7 (priority 100), each in a namespace with a
veth onto a bridge in a client namespace, both `use_ipvlan <own address>/24 private`. Written
to ipvlan.json in the shared directory, for the host to assert on: both daemons' ipvlan links
as `ip -j -d addr` shows them (kind, mode/flags, up, IPv6 off, addresses), the VRRP sources
the client saw on the bridge, a ping to the VIP before and after our daemon stops, the
seconds keepalived took to take the VIP over, and whether our ipvlan was still there after
our daemon exited. When the kernel cannot make an ipvlan link the file says
{"skipped": why} and nothing else runs. Not a pytest module (see ipvs_scenario.py).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/run/kpvm")
WORK = Path("/run/kpvmi")
PREFIX = os.environ.get("KP_NS_PREFIX", "kp")
OURS, REF, CLIENT = f"{PREFIX}io", f"{PREFIX}ir", f"{PREFIX}ic"
VIP = "192.0.2.100"
START = 150.0               # our daemon's start under TCG (~40-60 s); a limit, not the budget
CONF = """vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 71
  priority {prio}
  version 3
  advert_int 1
  use_ipvlan {addr}/24 private
  virtual_ipaddress {{
    192.0.2.100/24
  }}
}}
"""


def sh(*cmd: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{full}: {r.returncode} {r.stderr}")
    return r


def link(ns: str, name: str = "vrrp.71") -> dict[str, object] | None:
    r = sh("ip", "-j", "-d", "addr", "show", "dev", name, ns=ns, check=False)
    data = json.loads(r.stdout or "[]") if r.returncode == 0 else []
    if not data:
        return None
    d = data[0]
    off = sh("cat", f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", ns=ns, check=False)
    return {"kind": d.get("linkinfo", {}).get("info_kind"),
            "data": d.get("linkinfo", {}).get("info_data"),
            "up": "UP" in d.get("flags", []),
            "addrs": sorted(f"{a['local']}/{a['prefixlen']}" for a in d.get("addr_info", [])),
            "ipv6_off": off.stdout.strip() == "1"}


def has_vip(ns: str) -> bool:
    return f"{VIP}/24" in ((link(ns) or {}).get("addrs") or [])  # type: ignore[operator]


def wait(pred, limit: float) -> float | None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if pred():
            return round(time.monotonic() - t0, 2)
        time.sleep(0.1)
    return None


def ping() -> bool:
    return sh("ping", "-c", "1", "-W", "2", VIP, ns=CLIENT, check=False).returncode == 0


def sniff(seconds: float) -> list[str]:
    """The IPv4 sources of VRRP packets (protocol 112) seen on the client's bridge."""
    code = ("import socket,sys,time\n"
            "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(0x0800))\n"
            "s.bind(('br0',0)); s.settimeout(0.5)\n"
            "end,seen=time.monotonic()+float(sys.argv[1]),set()\n"
            "while time.monotonic()<end:\n"
            "    try: fr=s.recv(2000)\n"
            "    except TimeoutError: continue\n"
            "    if fr[23]==112: seen.add(socket.inet_ntoa(fr[26:30]))\n"
            "print(' '.join(sorted(seen)))\n")
    return sh(sys.executable, "-c", code, str(seconds), ns=CLIENT).stdout.split()


def probe() -> str | None:
    """Why the kernel cannot make an ipvlan link (None: it can)."""
    r = sh("ip", "link", "add", "ivprobe", "link", "eth0", "type", "ipvlan", "mode", "l2",
           ns=OURS, check=False)
    if r.returncode != 0:
        return f"this kernel makes no ipvlan link: {r.stderr.strip()}"
    sh("ip", "link", "del", "ivprobe", ns=OURS)
    return None


def main() -> int:
    t0 = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    res: dict[str, object] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def save() -> None:
        res["seconds"] = round(time.monotonic() - t0, 1)
        (OUT / "ipvlan.json").write_text(json.dumps(res, indent=1))

    try:
        for ns in (OURS, REF, CLIENT):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "add", "br0", "type", "bridge", ns=CLIENT)
        sh("ip", "addr", "add", "192.0.2.9/24", "dev", "br0", ns=CLIENT)
        sh("ip", "link", "set", "br0", "up", ns=CLIENT)
        for n, ns in ((1, OURS), (2, REF)):
            sh("ip", "link", "add", f"p{n}", "netns", CLIENT, "type", "veth", "peer", "eth0",
               "netns", ns)
            sh("ip", "link", "set", f"p{n}", "master", "br0", "up", ns=CLIENT)
            sh("ip", "addr", "add", f"192.0.2.{n}/24", "dev", "eth0", ns=ns)
            sh("ip", "link", "set", "eth0", "up", ns=ns)
        why = probe()
        if why is not None:
            res["skipped"] = why
            return 0
        for name, ns, prio, addr, cmd in (
                ("ours", OURS, 150, "192.0.2.71",
                 [sys.executable, "-m", "keepalived_py", "-n", "-l"]),
                ("ref", REF, 100, "192.0.2.72", ["keepalived", "-n", "-l", "-D", "-P"])):
            conf = WORK / f"{name}.conf"
            conf.write_text(CONF.format(prio=prio, addr=addr))
            procs[name] = subprocess.Popen(
                ["ip", "netns", "exec", ns, *cmd, "-f", str(conf),
                 *(a for p in "prcb" for a in (f"-{p}", str(WORK / f"{name}_{p}.pid")))],
                stdout=open(OUT / f"ipvlan_{name}.log", "wb"), stderr=subprocess.STDOUT)
        res["ours_master_after"] = wait(lambda: has_vip(OURS), START)
        res["ref_link_after"] = wait(lambda: link(REF) is not None, 30)
        res["ours_link"], res["ref_link"] = link(OURS), link(REF)
        res["ping_ours"] = ping()
        res["sources"] = sniff(3.0)
        save()
        stop = time.monotonic()
        procs["ours"].send_signal(signal.SIGTERM)
        res["ref_took_over_after"] = wait(lambda: has_vip(REF), 30)
        procs["ours"].wait(60)
        res["ours_stopped_after"] = round(time.monotonic() - stop, 2)
        res["ours_link_after_stop"] = link(OURS)
        res["ref_link_master"] = link(REF)
        res["ping_ref"] = ping()
        save()
        procs["ref"].send_signal(signal.SIGTERM)
        procs["ref"].wait(30)
        res["ref_link_after_stop"] = link(REF)
    except Exception as e:                              # reported to the host, which fails
        res["error"] = f"{type(e).__name__}: {e}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        save()
        for ns in (OURS, REF, CLIENT):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
