"""Driven inside the stock-kernel VM (tests/integration/test_ipvs_vm.py boots it): keepalived-py's
checker and keepalived 2.2.7 (the oracle), each in its own network namespace with the same
virtual servers, are taken through the same real-server transitions; after each phase the
IPVS state of both (`ipvsadm -Sn`, an independent view) is written to results.json in the
directory shared with the host, which asserts on it. Not a pytest module: it runs in the
guest, where importing pytest alone costs seconds.

Real servers are MISC_CHECKs testing a flag file, so a transition is a file removed or
created, the same instant for both daemons. Both daemons also run VRRP (VI_1 on a veth pair of
their own namespace) for the IPVS sync daemon that follows VI_1; a track file puts VI_1 in
FAULT. The sync daemons and timeouts (`ipvsadm -L --daemon`, `--timeout`) are compared too.
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
WORK = Path("/run/kpvmt")
PREFIX = os.environ.get("KP_NS_PREFIX", "kp")
OURS, REF = f"{PREFIX}vo", f"{PREFIX}vr"
CLIENT, RS1, RS2 = f"{PREFIX}vc", f"{PREFIX}v1", f"{PREFIX}v2"
# a real server: answers every connection with its name (plain sockets: importing
# http.server costs seconds more under TCG)
SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n" + sys.argv[1].encode() + b"\n")
    finally:
        c.close()
"""
CONVERGE = 45.0             # seconds: everything in the guest runs 10-30x slower under TCG
START = 150.0               # the first phase includes both daemons' start (~40-60 s under TCG)


SYNCD_VRRP = "lvs_sync_daemon sy0 inst VI_1"      # follows VI_1: MASTER / BACKUP daemon
SYNCD_VRRP_ID = "lvs_sync_daemon sy0 inst VI_1 id 12"   # changed on reload: restarted
SYNCD_CHECKER = "lvs_sync_daemon sy0 id 9"       # no instance: the checker runs both


def conf(dataplane: str | None, sorry: str | None = "192.0.2.99 80",
         syncd: str = SYNCD_VRRP) -> str:
    dp = f"  dataplane {dataplane}\n" if dataplane else ""
    sorry_line = f"  sorry_server {sorry}\n" if sorry else ""
    def misc(flag: str) -> str:
        return (f"    MISC_CHECK {{\n      misc_path \"/usr/bin/test -e {WORK}/{flag}\"\n"
                f"      misc_timeout 5\n    }}\n")
    # the IPVS globals (issue 13): timeouts, all of IPVS flushed at stop, the sync daemon on
    # sy0 following VI_1 (a track file puts VI_1 in FAULT: the daemon becomes a backup one)
    glob = (f"  lvs_timeouts tcp 900 tcpfin 30 udp 60\n  lvs_flush_onstop\n  {syncd}\n")
    vrrp = (f"track_file fault {{\n  file {WORK}/fault\n  weight 0\n}}\n"
            "vrrp_instance VI_1 {\n  interface sy0\n  virtual_router_id 51\n  priority 200\n"
            "  advert_int 1\n  virtual_ipaddress {\n    192.0.2.200/32\n  }\n"
            "  track_file {\n    fault\n  }\n}\n")
    return (f"global_defs {{\n  enable_script_security\n  script_user root\n{dp}{glob}}}\n"
            + vrrp +
            "virtual_server 192.0.2.100 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n"
            "  protocol TCP\n  persistence_timeout 300\n" + sorry_line +
            "  real_server 192.0.2.11 80 {\n    weight 2\n" + misc("rs11") + "  }\n"
            "  real_server 192.0.2.12 80 {\n    weight 1\n    inhibit_on_failure\n"
            + misc("rs12") + "  }\n}\n"
            "virtual_server 192.0.2.101 443 {\n  delay_loop 5\n  lb_algo sh\n  lb_kind DR\n"
            "  protocol TCP\n  persistence_timeout 60\n  persistence_granularity 255.255.255.0\n"
            # a sorry server kept at weight 0 while unused, by its own forwarding method; a
            # real server with a method of its own
            "  sorry_server 192.0.2.29 443\n  sorry_server_inhibit\n"
            "  sorry_server_lvs_method TUN\n"
            "  real_server 192.0.2.21 443 {\n    weight 3\n  }\n"
            "  real_server 192.0.2.22 443 {\n    weight 2\n    lvs_method TUN\n  }\n}\n"
            "virtual_server fwmark 7 {\n  delay_loop 5\n  lb_algo lc\n  lb_kind TUN\n"
            "  real_server 192.0.2.31 80 {\n  }\n}\n"
            "virtual_server 192.0.2.102 80 {\n  delay_loop 5\n  lb_algo rr\n  lb_kind NAT\n"
            "  protocol TCP\n  real_server 198.51.100.11 80 {\n  }\n"
            "  real_server 198.51.100.12 80 {\n  }\n}\n"
            "virtual_server 2001:db8::100 80 {\n  delay_loop 5\n  lb_algo wlc\n  lb_kind NAT\n"
            "  protocol TCP\n  real_server 2001:db8::11 80 {\n    weight 4\n  }\n}\n")


def sh(*cmd: str, ns: str | None = None, check: bool = True) -> str:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{full}: {r.returncode} {r.stderr}")
    return r.stdout


def state(ns: str) -> list[str]:
    """IPVS as ipvsadm saves it (one line per service/destination), sorted."""
    return sorted(line.strip() for line in sh("ipvsadm", "-Sn", ns=ns).splitlines() if line.strip())


def ipvs_globals(ns: str) -> list[str]:
    """The sync daemons and the timeouts, as ipvsadm lists them."""
    out = sh("ipvsadm", "-L", "--daemon", ns=ns) + sh("ipvsadm", "-L", "--timeout", ns=ns)
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def wait(pred, limit: float = CONVERGE) -> float | None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.3)
    return None


def topology(procs: list[subprocess.Popen[bytes]]) -> None:
    """Traffic through our director: a client namespace on 192.0.2.0/24 (VIP 192.0.2.102 on
    the director), two real servers (busybox httpd) behind a bridge on 198.51.100.0/24."""
    for ns in (CLIENT, RS1, RS2):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "c0", "netns", CLIENT, "type", "veth", "peer", "d0", "netns", OURS)
    sh("ip", "addr", "add", "192.0.2.10/24", "dev", "c0", ns=CLIENT)
    sh("ip", "link", "set", "c0", "up", ns=CLIENT)
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "d0", ns=OURS)
    sh("ip", "addr", "add", "192.0.2.102/32", "dev", "d0", ns=OURS)
    sh("ip", "link", "set", "d0", "up", ns=OURS)
    sh("ip", "link", "add", "br0", "type", "bridge", ns=OURS)
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "br0", ns=OURS)
    sh("ip", "link", "set", "br0", "up", ns=OURS)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=OURS)
    for n, ns in ((1, RS1), (2, RS2)):
        sh("ip", "link", "add", "e0", "netns", ns, "type", "veth", "peer", f"b{n}", "netns", OURS)
        sh("ip", "link", "set", f"b{n}", "master", "br0", "up", ns=OURS)
        sh("ip", "addr", "add", f"198.51.100.1{n}/24", "dev", "e0", ns=ns)
        sh("ip", "link", "set", "e0", "up", ns=ns)
        sh("ip", "route", "add", "default", "via", "198.51.100.1", ns=ns)
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER,
                                       f"rs{n}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))


def requests(n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = subprocess.run(["ip", "netns", "exec", CLIENT, "curl", "-s", "-m", "10",
                            "http://192.0.2.102/"], capture_output=True, text=True, timeout=30)
        out.append(r.stdout.strip() or f"ERR {r.returncode}")
    return out


def main() -> int:
    t_start = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"phases": {}}
    phases: dict[str, object] = results["phases"]  # type: ignore[assignment]
    procs: list[subprocess.Popen[bytes]] = []

    def save() -> None:
        results["seconds"] = round(time.monotonic() - t_start, 1)
        (OUT / "results.json").write_text(json.dumps(results, indent=1))

    try:
        for ns in (OURS, REF):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
            # VI_1's link (and the sync daemon's): a veth pair inside each namespace
            sh("ip", "link", "add", "sy0", "type", "veth", "peer", "sy1", ns=ns)
            sh("ip", "addr", "add", "203.0.113.1/24", "dev", "sy0", ns=ns)
            for dev in ("sy0", "sy1"):
                sh("ip", "link", "set", dev, "up", ns=ns)
        (WORK / "fault").write_text("0\n")
        for f in ("rs11", "rs12"):
            (WORK / f).touch()
        (WORK / "ours.conf").write_text(conf("ipvs"))
        (WORK / "ref.conf").write_text(conf(None))
        # a previous run left a service behind in our namespace: a wrong scheduler, a wrong
        # weight and a destination nobody configures any more; the checker must adopt it
        sh("ipvsadm", "-A", "-t", "192.0.2.100:80", "-s", "wlc", ns=OURS)
        sh("ipvsadm", "-a", "-t", "192.0.2.100:80", "-r", "192.0.2.11:80", "-m", "-w", "7", ns=OURS)
        sh("ipvsadm", "-a", "-t", "192.0.2.100:80", "-r", "192.0.2.50:80", "-m", "-w", "3", ns=OURS)
        phases["preexisting"] = state(OURS)
        save()
        topology(procs)                 # its servers start while the daemons do
        ref_log = open(OUT / "ref.log", "wb")
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", REF, "keepalived", "-n", "-l", "-D",
             "-f", str(WORK / "ref.conf"), "-p", str(WORK / "ref.pid"),
             "-c", str(WORK / "ref_c.pid"), "-r", str(WORK / "ref_v.pid"),
             "-b", str(WORK / "ref_b.pid")],
            stdout=ref_log, stderr=subprocess.STDOUT))
        ours_log = open(OUT / "ours.log", "wb")
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", OURS, sys.executable, "-m", "keepalived_py", "-n", "-l",
             "-f", str(WORK / "ours.conf"), "-p", str(WORK / "ours.pid"),
             "-c", str(WORK / "ours_c.pid"), "-r", str(WORK / "ours_v.pid"),
             "-b", str(WORK / "ours_b.pid")],
            stdout=ours_log, stderr=subprocess.STDOUT))

        def phase(name: str, expect_in_ours: list[str], absent: tuple[str, ...] = (),
                  limit: float = CONVERGE) -> None:
            def done() -> bool:
                o, r = state(OURS), state(REF)
                return o == r and all(e in o for e in expect_in_ours) and \
                    not any(a in line for a in absent for line in o)
            took = wait(done, limit)
            phases[name] = {"ours": state(OURS), "ref": state(REF),
                            "took": None if took is None else round(took, 1)}
            save()

        phase("up", ["-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1"], ("192.0.2.50",), START)

        def globals_phase(name: str, want: list[str], absent: tuple[str, ...] = ()) -> None:
            def done() -> bool:
                o = ipvs_globals(OURS)
                return o == ipvs_globals(REF) and all(any(w in line for line in o)
                                                      for w in want) and \
                    not any(a in line for a in absent for line in o)
            took = wait(done)
            results[name] = {"ours": ipvs_globals(OURS), "ref": ipvs_globals(REF),
                             "took": None if took is None else round(took, 1)}
            save()
        # VI_1 becomes MASTER (priority 200, alone on its link): a master sync daemon
        globals_phase("syncd_master", ["master sync daemon", "900 30 60"], ("backup sync",))
        (WORK / "fault").write_text("1\n")              # VI_1 FAULT: a backup daemon
        globals_phase("syncd_backup", ["backup sync daemon"], ("master sync",))
        (WORK / "fault").write_text("0\n")
        # a service nobody configured, in both: lvs_flush_onstop (no argument: all of IPVS)
        # removes it at stop
        for ns in (OURS, REF):
            sh("ipvsadm", "-A", "-u", "192.0.2.250:53", "-s", "rr", ns=ns)
        (WORK / "rs12").unlink()
        phase("inhibited", ["-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 0"])
        (WORK / "rs11").unlink()
        phase("sorry", ["-a -t 192.0.2.100:80 -r 192.0.2.99:80 -m -w 1"], ("192.0.2.11:80",))
        (WORK / "rs11").touch()
        (WORK / "rs12").touch()
        phase("back", ["-a -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 2",
                       "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1"], ("192.0.2.99",))
        # the checker child killed in the middle of a transition: rs12 goes down meanwhile
        child = int((WORK / "ours_c.pid").read_text())
        os.kill(child, signal.SIGKILL)
        (WORK / "rs12").unlink()
        respawned = wait(lambda: (WORK / "ours_c.pid").exists()
                         and (WORK / "ours_c.pid").read_text().strip() not in ("", str(child)))
        phase("respawned", ["-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 0"], limit=START)
        try:
            # the servers were started with the daemons: each is up once it answers directly
            for ip in ("198.51.100.11", "198.51.100.12"):
                wait(lambda ip=ip: subprocess.run(  # type: ignore[misc]
                    ["ip", "netns", "exec", OURS, "curl", "-s", "-m", "2", f"http://{ip}/"],
                    capture_output=True).returncode == 0, 60)
            results["traffic"] = requests(6)
        except Exception as e:                          # reported, the other phases go on
            results["traffic"] = [f"{type(e).__name__}: {e}"]
        save()
        time.sleep(3)                                   # an error loop would show by now
        log = (OUT / "ours.log").read_text(errors="replace")
        results["respawn"] = {"took": respawned, "old_pid": child,
                              "apply_failed": log.count("check.ipvs.apply_failed"),
                              "adopted": log.count("check.ipvs.adopted"),
                              "file_exists": log.count("File exists"),
                              "final": state(OURS)}
        save()
        # seed 003's case: a sorry_server equal to a real server, then removed on reload while
        # that real server stays (only ours is reloaded: the IPVS state must not change)
        (WORK / "rs12").touch()
        phase("both_up", ["-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1"])
        checker = (WORK / "ours_c.pid").read_text().strip()
        parent = int((WORK / "ours.pid").read_text())
        for n, sorry in enumerate(("192.0.2.12 80", None), 1):
            # the second reload also changes the syncid of VI_1's sync daemon
            (WORK / "ours.conf").write_text(conf("ipvs", sorry,
                                                 SYNCD_VRRP if n == 1 else SYNCD_VRRP_ID))
            os.kill(parent, signal.SIGHUP)
            wait(lambda n=n: (OUT / "ours.log").read_text(errors="replace")  # type: ignore[misc]
                 .count("supervisor.reload.done") >= n)
            time.sleep(1)                       # the checker child applies after the parent
        phase("reloaded", ["-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1",
                           "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 2"])
        log = (OUT / "ours.log").read_text(errors="replace")
        wait(lambda: "syncid=12" in " ".join(ipvs_globals(OURS)))
        results["reload_vrrp_syncd"] = ipvs_globals(OURS)
        # a third reload hands the sync daemon from VI_1 to the checker
        (WORK / "ours.conf").write_text(conf("ipvs", None, SYNCD_CHECKER))
        os.kill(parent, signal.SIGHUP)
        wait(lambda: sum("sync daemon" in line for line in ipvs_globals(OURS)) == 2
             and "syncid=9" in " ".join(ipvs_globals(OURS)))
        results["reload_syncd"] = ipvs_globals(OURS)
        results["reload"] = {"same_checker": (WORK / "ours_c.pid").read_text().strip() == checker,
                             "reloads": log.count("Reloading"),
                             "apply_failed": log.count("check.ipvs.apply_failed")}
        save()
    except Exception as e:                              # reported to the host, which fails
        results["error"] = f"{type(e).__name__}: {e}"
        save()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        results["after_stop"] = {"ours": state(OURS), "ref": state(REF),
                                 "ours_globals": ipvs_globals(OURS),
                                 "ref_globals": ipvs_globals(REF)}
        save()
        for ns in (CLIENT, RS1, RS2, OURS, REF):
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True).stdout.split():
                os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
