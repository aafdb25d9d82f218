"""Driven inside the stock-kernel VM, after ipvs_scenario.py in the same boot
(tests/integration/test_ipvs_vm.py): `use_ipvlan` on a kernel that has ipvlan (Debian's
stock kernel builds it as a module; the machine running the suite may not have it, and there
tests/integration/test_ipvlan.py only covers the FAULT case).

keepalived 2.2.7 (priority 100) alone first, then keepalived-py (priority 150), each in a
namespace with a veth onto a bridge in a client namespace, both `use_ipvlan <own
address>/24 private`; then our daemon stops. Written to ipvlan.json in the shared directory,
for the host to assert on, after each step: the ipvlan link (`ip -j -d addr`: kind,
mode/flags, up, IPv6 off, addresses), every IPv4 address by device, a ping from the client to
the VIP, and the adverts the client saw on its bridge (source address and MAC, priority,
whether the VRRPv3 checksum is right). When the kernel cannot make an ipvlan link the file
says {"skipped": why} and nothing else runs. Not a pytest module (see ipvs_scenario.py).
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


def wait(pred, limit: float) -> float | None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if pred():
            return round(time.monotonic() - t0, 2)
        time.sleep(0.1)
    return None


def ping() -> bool:
    return sh("ping", "-c", "1", "-W", "2", VIP, ns=CLIENT, check=False).returncode == 0


SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("br0", 0))
s.settimeout(0.5)
end, seen = time.monotonic() + float(sys.argv[1]), set()
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return t
while time.monotonic() < end:
    try:
        fr = s.recv(2000)
    except TimeoutError:
        continue
    if fr[23] != 112:
        continue
    ihl = (fr[14] & 15) * 4
    vrrp = fr[14 + ihl:14 + (fr[16] << 8 | fr[17])]
    pseudo = fr[26:34] + struct.pack("!BBH", 0, 112, len(vrrp))
    ok = csum(pseudo + vrrp) == 0xFFFF
    seen.add("%s %s prio=%d csum=%s" % (socket.inet_ntoa(fr[26:30]), fr[6:12].hex(":"),
                                       vrrp[2], "ok" if ok else "bad"))
print("\n".join(sorted(seen)))
"""


def sniff(seconds: float) -> list[str]:
    """The VRRP adverts seen on the client's bridge: source address, source MAC, priority and
    whether the VRRPv3 checksum (over the IPv4 pseudo-header) is right."""
    return sh(sys.executable, "-c", SNIFF, str(seconds), ns=CLIENT).stdout.splitlines()


def addrs(ns: str) -> dict[str, list[str]]:
    """Every global IPv4 address of the namespace, by device."""
    out: dict[str, list[str]] = {}
    for d in json.loads(sh("ip", "-j", "-4", "addr", ns=ns).stdout or "[]"):
        got = [f"{a['local']}/{a['prefixlen']}" for a in d.get("addr_info", [])
               if a.get("scope") == "global"]
        if got:
            out[d["ifname"]] = sorted(got)
    return out


def holds(ns: str) -> bool:
    return any(f"{VIP}/24" in v for v in addrs(ns).values())


def log_count(name: str, text: str) -> int:
    return (OUT / f"ipvlan_{name}.log").read_text(errors="replace").count(text)


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
        def start(name: str, ns: str, prio: int, addr: str, cmd: list[str]) -> None:
            conf = WORK / f"{name}.conf"
            conf.write_text(CONF.format(prio=prio, addr=addr))
            procs[name] = subprocess.Popen(
                ["ip", "netns", "exec", ns, *cmd, "-f", str(conf),
                 *(a for p in "prcb" for a in (f"-{p}", str(WORK / f"{name}_{p}.pid")))],
                stdout=open(OUT / f"ipvlan_{name}.log", "wb"), stderr=subprocess.STDOUT)

        # keepalived 2.2.7 alone first: what it makes, where its VIP goes, its adverts
        start("ref", REF, 100, "192.0.2.72", ["keepalived", "-n", "-l", "-D", "-P"])
        res["ref_master_after"] = wait(lambda: holds(REF), 30)
        res["ref_alone"] = {"link": link(REF), "addrs": addrs(REF), "ping": ping(),
                            "adverts": sniff(2.5)}
        save()
        # then ours, at a higher priority: it preempts
        t_ours = time.monotonic()
        start("ours", OURS, 150, "192.0.2.71", [sys.executable, "-m", "keepalived_py", "-n",
                                                "-l"])
        res["ours_master_after"] = wait(lambda: holds(OURS), START)
        res["ref_backup_after"] = wait(lambda: not holds(REF), 20)
        res["ours_master"] = {"link": link(OURS), "addrs": addrs(OURS), "ping": ping(),
                              "adverts": sniff(2.5), "ref_addrs": addrs(REF),
                              "ref_link": link(REF),
                              "ref_backups": log_count("ref", "Entering BACKUP STATE")}
        res["ours_start_seconds"] = round(time.monotonic() - t_ours, 1)
        save()
        # our daemon stops: keepalived takes over, our interface goes
        stop = time.monotonic()
        procs["ours"].send_signal(signal.SIGTERM)
        res["ref_took_over_after"] = wait(lambda: holds(REF), 30)
        procs["ours"].wait(60)
        res["ours_stopped_after"] = round(time.monotonic() - stop, 2)
        res["ours_after_stop"] = {"link": link(OURS), "addrs": addrs(OURS)}
        res["ref_master_again"] = {"addrs": addrs(REF), "ping": ping()}
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
