"""Checker child throughput, the whole daemon: keepalived-py started with `-C` (checker only)
in a throw-away network namespace, N real servers (default 10,000) each with a TCP_CHECK,
delay_loop `--delay-loop` (1 s), so the target is N / delay_loop checks/s; the balancing table
is nftables (or IPVS where the kernel has it — `--dataplane`). Measured over `--seconds` after
a warm-up: checks per second and the p50/p99/max drift of check starts from their schedule
(the checker's own counters, read over its control socket with the cheap `checks` command),
the checker child's CPU (/proc/PID/stat) as % of one core and per check, its resident memory,
and the conntrack entries in the namespace (probes are exempt: `notrack`). The real servers
are loopback addresses 127.1.x.y in the namespace, answered by one listener process there.
Needs root (a namespace); nothing outside the namespace is touched.

    python bench/checker_daemon.py [--servers 10000] [--seconds 20] [--dataplane nftables]
                                   [--profile PATH] [--flap N [--flap-period 2]]

`--flap N` then has every real server go down and up together N times (bad input: no crash,
the table converges) and says how long the table took to balance to all of them, then to none.

The CPU figure is the checker child's own (utime + stime), so `checks/s per core` (checks
done / CPU seconds) does not depend on what else the machine runs; the raw checks/s does
(on a loaded machine the child waits for a CPU: the last figure says how long).
`--profile PATH` runs the child under cProfile after the warm-up (the KP_BENCH_PROFILE hook
of core/childrun.py) and prints its top functions by own time (cProfile slows the child:
its CPU figures are then not the service's).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keepalived_py.obs.control import query

# the real servers' listener (accepts and closes every connection)
LISTENER = str(Path(__file__).resolve().parents[1] / "tests" / "accept_listener.py")


def conf(servers: int, port: int, dataplane: str, delay_loop: float = 1.0) -> str:
    rs = "".join(f"  real_server 127.1.{i // 250}.{i % 250 + 1} {port} {{\n"
                 "    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n" for i in range(servers))
    return (f"global_defs {{\n  dataplane {dataplane}\n}}\n"
            f"virtual_server 192.0.2.100 80 {{\n  delay_loop {delay_loop}\n  lb_algo wrr\n"
            f"  lb_kind NAT\n  protocol TCP\n{rs}}}\n")


def cpu_ticks(pid: int) -> int:
    return sum(cpu_split(pid))                          # utime + stime


def cpu_split(pid: int) -> tuple[int, int]:
    """(utime, stime) in clock ticks: the child's Python (user) and kernel (system) time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def runqueue_wait(pid: int) -> float:
    """Seconds the process spent runnable but waiting for a CPU (/proc/PID/schedstat): on a
    loaded machine, the time it could not run at all."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def checks(ctl: str) -> dict[str, object]:
    """The checker's totals: checks done, started, and the drift percentiles."""
    return json.loads(query(ctl, "checks", timeout=10))  # type: ignore[no-any-return]


def conntrack_count(ns: str) -> str:
    out = subprocess.run(["ip", "netns", "exec", ns, "cat",
                          "/proc/sys/net/netfilter/nf_conntrack_count"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "n/a"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--delay-loop", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--dataplane", default="nftables", choices=("nftables", "ipvs", "auto"))
    ap.add_argument("--profile", default="", help="cProfile the checker child into PATH.*")
    ap.add_argument("--flap", type=int, default=0,
                    help="then every real server down and up together N times (nftables)")
    ap.add_argument("--flap-period", type=float, default=2.0)
    args = ap.parse_args()
    env = dict(os.environ)
    if args.profile:
        env["KP_BENCH_PROFILE"] = os.path.abspath(args.profile)
        env["KP_BENCH_PROFILE_AFTER"] = str(args.warmup)
    ns = f"{os.environ.get('KP_NS_PREFIX', 'kp')}bench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
            lst = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, LISTENER,
                                    str(args.port)], stdout=subprocess.PIPE, text=True)
            procs.append(lst)
            assert lst.stdout is not None and lst.stdout.readline().strip() == "ready"
            (Path(d) / "k.conf").write_text(conf(args.servers, args.port, args.dataplane,
                                                args.delay_loop))
            daemon = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "keepalived_py", "-n", "-l",
                 "-C", "-f", f"{d}/k.conf", "-p", f"{d}/p.pid", "-c", f"{d}/c.pid",
                 "-r", f"{d}/v.pid"], stdout=subprocess.DEVNULL,
                stderr=open(f"{d}/log", "w"), text=True, env=env)
            procs.append(daemon)
            ctl = f"{d}/keepalived-py-checker.ctl"
            t0 = time.monotonic()
            while not os.path.exists(ctl) and time.monotonic() - t0 < 60:
                time.sleep(0.2)
            started = time.monotonic() - t0
            pid = int(Path(f"{d}/c.pid").read_text())
            time.sleep(args.warmup)
            (u0, k0), s0, w0, q0 = cpu_split(pid), checks(ctl), time.monotonic(), runqueue_wait(pid)
            time.sleep(args.seconds)
            (u1, k1), s1, w1, q1 = cpu_split(pid), checks(ctl), time.monotonic(), runqueue_wait(pid)
            c0, c1 = u0 + k0, u1 + k1
            hz = os.sysconf("SC_CLK_TCK")
            span = w1 - w0
            done = int(s1["checks"]) - int(s0["checks"])   # type: ignore[call-overload]
            cpu = (c1 - c0) / hz
            drift = s1["drift"]
            assert isinstance(drift, dict)
            load = os.getloadavg()[0]
            print(f"{args.servers} real servers (TCP_CHECK, delay_loop {args.delay_loop:g} s,"
                  f" {args.dataplane}): {done / span:.0f} checks/s (target"
                  f" {args.servers / args.delay_loop:.0f}/s), drift from schedule p50"
                  f" {drift['p50_ms']:.1f} ms p99 {drift['p99_ms']:.1f} ms max"
                  f" {drift['max_ms']:.1f} ms, checker CPU {cpu / span * 100:.1f}% of one core"
                  f" ({cpu / max(1, done) * 1e6:.0f} us/check: user"
                  f" {(u1 - u0) / hz / max(1, done) * 1e6:.0f}, system"
                  f" {(k1 - k0) / hz / max(1, done) * 1e6:.0f};"
                  f" {done / cpu if cpu else float('nan'):.0f} checks/s per core of its CPU"
                  f" time), RSS {rss_mb(pid):.0f} MB,"
                  f" conntrack entries {conntrack_count(ns)}, sockets made"
                  f" {int(s1.get('sockets_made', 0)) - int(s0.get('sockets_made', 0))},"  # type: ignore[call-overload]
                  f" control socket up {started:.1f} s"
                  f" after start; load average {load:.1f}, the checker waited for a CPU"
                  f" {(q1 - q0) / span * 100:.0f}% of the time")
            if args.flap and args.dataplane == "nftables":
                flap(ns, d, args, procs, lst, pid)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], check=False)
    if args.profile:
        show_profile(args.profile)
    return 0


def backends(ns: str) -> int:
    """How many real servers the nftables table balances to (0: none, no DNAT at all)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "ip",
                          "keepalived_py"], capture_output=True, text=True).stdout
    if "dnat" not in out:
        return 0
    m = re.search(r"numgen \w+ mod (\d+)", out)
    return int(m.group(1)) if m else 1


def flap(ns: str, d: str, args: argparse.Namespace, procs: list[subprocess.Popen[str]],
         lst: subprocess.Popen[str], pid: int) -> None:
    """Bad input: every real server flaps at once (the one listener killed and started
    again, `--flap` times, `--flap-period` apart), then stays up; then all die and stay down.
    Figures: how long the table took to converge each time (from the last change to the
    table balancing to all of them, then to none), whether the checker child survived (the
    same pid), its RSS, and the nft applies and failures it logged."""
    def start() -> subprocess.Popen[str]:
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, LISTENER,
                              str(args.port)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        return p

    def kill(p: subprocess.Popen[str]) -> None:
        p.send_signal(signal.SIGKILL)
        p.wait()

    def converge(want: int, limit: float = 120.0) -> float | None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if backends(ns) == want:
                return time.monotonic() - t0
            time.sleep(0.2)
        return None

    for _ in range(args.flap):
        kill(lst)
        time.sleep(args.flap_period / 2)
        lst = start()
        time.sleep(args.flap_period / 2)
    up = converge(args.servers)
    kill(lst)
    down = converge(0)
    log = Path(f"{d}/log").read_text(errors="replace")
    alive = os.path.exists(f"/proc/{pid}") and int(Path(f"{d}/c.pid").read_text()) == pid
    def took(t: float | None) -> str:
        return f"after {t:.1f} s" if t is not None else "NEVER (120 s)"
    print(f"flapping: {args.servers} real servers down and up together {args.flap} times"
          f" ({args.flap_period:g} s period), then up: the table balanced to all of them"
          f" {took(up)}; then all down: to none {took(down)};"
          f" checker child {'the same, alive' if alive else 'GONE or respawned'},"
          f" RSS {rss_mb(pid) if alive else float('nan'):.0f} MB;"
          f" nft applies logged {log.count('check.nft.applied')}, failed"
          f" {log.count('check.nft.failed')}, tracebacks {log.count('Traceback')}")


def show_profile(prefix: str) -> None:
    """The checker child's profile(s) (PATH.checker.PID), top 25 by own time."""
    import glob
    import pstats
    for path in sorted(glob.glob(f"{os.path.abspath(prefix)}.checker.*")):
        print(f"-- {path}")
        pstats.Stats(path).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    raise SystemExit(main())
