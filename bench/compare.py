"""keepalived 2.2.7 beside keepalived-py: every figure of issue 16 in one run, one command.

    python bench/compare.py [--reps 3] [--only startup1,cpu1] [--window 8] [--baseline DIR]
    python bench/compare.py --only failovers        # the whole failover matrix

--baseline DIR adds a third column: keepalived-py as checked out in DIR (e.g. `git worktree add
/tmp/base main`), measured in the same run, interleaved with the others (before/after figures
of a change on the same machine in the same minutes).

Run as root. Everything happens in network namespaces this script creates and removes (a
bridge LAN plus two nodes, tests/netlab.py), with documentation addresses; both daemons are
measured in the same run, interleaved (keepalived, then keepalived-py, repetition after
repetition), because the machine is shared and its noise moves from minute to minute. Each
figure is the median of the repetitions, with the spread (min-max) and the ratio
keepalived-py / keepalived.

Figures:
  startup1    exec -> the VIP on the interface (netlink event), 1 instance, priority 255
  startup200  exec -> all 200 VIPs, 200 instances, priority 255
  cpu1        CPU (% of one core) of the daemon tree, 200 instances at 1 s: master / backup
              (from SETTLE s after start, in ns: /proc/PID/task/*/schedstat)
  cpu1D       the same with -D
  cpu01       the same at 0.1 s (VRRPv3)
  cpu01v6     the same over IPv6 (VRRPv3 0.1 s, IPv6 VIPs, ff02::12)
  pss         PSS of the daemon tree (parent + VRRP child), 200 instances, master
  pssC        PSS of the daemon tree with the checker child too: the same 200 instances and
              10 virtual servers of 5 real servers each (TCP_CHECK, delay_loop 1 s; the real
              servers listen on B), SETTLE s after start; per process too (parent, VRRP,
              checker: from the pidfiles)
  reload      CPU of the daemon tree for one SIGHUP reload of 200 unchanged instances (ms)
  failover    kill (SIGSTOP) of a v2 1 s master: overhead above Master_Down_Interval (ms)
  fo*, ho*    the failover matrix (FO_CASES): kill, link down (A's bridge port), SIGTERM
              (handover: B's first advert after A's priority-0 one, above Skew_Time); v2, v3;
              1 s and 0.1 s; 1 and 50 instances (median, worst); IPv4, IPv6; multicast,
              unicast; with -D. Each also gives B's first gratuitous ARP/NA (.garp).
              `--only failovers` runs them all (kill, link, term: a kind), then a verdict
              per case against issue 16.4's target
  test1000    `-t` of 1,000 instances: wall time of the process (ms)
"""
from __future__ import annotations

import argparse
import atexit
import ctypes
import datetime
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from netlab import Lab  # noqa: E402

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
DAEMONS = ("keepalived", "keepalived-py")
BASE = "keepalived-py (baseline)"
TREES = {"keepalived-py": ROOT}        # keepalived-py's source tree per column (--baseline)
CLONE_NEWNET = 0x40000000
SO_TIMESTAMPNS = 35
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


# -- namespaces and processes -----------------------------------------------------------------
def setns(name: str) -> None:
    fd = os.open(f"/run/netns/{name}" if "/" not in name else name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def in_netns(ns: str, make: Callable[[], Any]) -> Any:
    """Run `make` (a socket factory) inside `ns`, then come back: the socket stays there."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(ns)
        return make()
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)


def ns_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[-1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def cpu_ns(pids: list[int]) -> int:
    """CPU time of the processes in nanoseconds (their threads' schedstat), where a clock
    tick (10 ms) would be a good part of what a backup uses in a window; ticks * 1e7 where
    schedstat is missing."""
    total = 0
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            total += cpu_ticks([pid]) * (1_000_000_000 // TICK)
    return total


SETTLE = 10.0       # s after start before a CPU window: past the one-off warm-ups (the parent's
                    # role import 5 s after its child is ready, core/rolewarm.py; the dumps'
                    # formatter 3 s after start, vrrp/daemon.py), which are not steady state


def pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


TICK = os.sysconf("SC_CLK_TCK")
_PYCACHE: list[str] = []


def pycache() -> str:
    """This run's directory for the runtime venv and byte code: made on first use (importing
    this module, as vrrp_profile.py does, or --help makes nothing), removed at exit (atexit:
    also after an exception or Ctrl-C, and after SIGTERM/SIGHUP, which main() turns into one)."""
    if not _PYCACHE:
        _PYCACHE.append(tempfile.mkdtemp(prefix="kp-compare-pyc-"))
        atexit.register(shutil.rmtree, _PYCACHE[0], True)
    return _PYCACHE[0]


def exit_on_signals() -> None:
    """SIGTERM/SIGHUP end the run as Ctrl-C does: the finally blocks and atexit hooks remove
    the namespaces, daemons and directories it made."""
    def stop(sig: int, _frame: object) -> None:
        raise SystemExit(128 + sig)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def runtime_python() -> str:
    """The interpreter keepalived-py runs with here: a virtual environment like install.sh's
    (the base python3, with this interpreter's site-packages as plain paths: the same
    dependencies), made once in pycache(). Not this checkout's test venv itself: its editable
    install (`pip install -e`) adds an import hook that every Python start there loads (its
    finder module, pathlib: ~10 ms of each daemon's start and memory) and that a daemon as
    install.sh installs it never has."""
    import site
    venv = os.path.join(pycache(), "venv")
    py = os.path.join(venv, "bin", "python3")
    if not os.path.exists(py):
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--without-pip", venv], check=True)
        where = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"],
                               capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(where, "keepalived-py-bench.pth"), "w") as f:
            f.write("".join(f"{d}\n" for d in site.getsitepackages()))
    return py


def daemon_env(root: str = ROOT) -> dict[str, str]:
    """Our tree first on the path; byte code cached (as in an installed package) in a
    directory of this run, even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache()
    return env


class Daemon:
    """One daemon (keepalived or keepalived-py) in a namespace, files in its own directory."""

    def __init__(self, which: str, ns: str, conf: str, tmp: str, tag: str, debug: bool = False,
                 extra: tuple[str, ...] = ()) -> None:
        self.which, self.ns = which, ns
        self.dir = tempfile.mkdtemp(prefix=f"{tag}-", dir=tmp)
        self.conf = os.path.join(self.dir, "keepalived.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        d = self.dir
        pids = ["-p", f"{d}/p.pid", "-r", f"{d}/v.pid", "-c", f"{d}/c.pid"]
        flags = ["-D"] if debug else []
        if which == "keepalived":
            self.cmd = [KEEPALIVED, "-n", "-l", "-P", *flags, *extra, "-f", self.conf, *pids]
        else:
            self.cmd = [runtime_python(), "-m", "keepalived_py", "-n", "-l", *flags, *extra,
                        "-f", self.conf, *pids]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        # the tree keepalived_py is imported from (python -m puts the working directory first)
        self.root = TREES.get(which, ROOT)

    def start(self) -> Daemon:
        env = daemon_env(self.root)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "ab"),
                                     preexec_fn=lambda: setns(self.ns), env=env, cwd=self.root)
        return self

    def pids(self) -> list[int]:
        """The daemon's processes: the parent and its children (not scripts' grandchildren)."""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return out

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait(5)
        self.proc = None


# -- watchers ----------------------------------------------------------------------------------
class AddressWatch:
    """RTM_NEWADDR events of one namespace, stamped with CLOCK_MONOTONIC as they are read."""

    def __init__(self, ns: str) -> None:
        groups = 0x10 | 0x100           # RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR

        def make() -> socket.socket:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind((0, groups))
            return s
        self.sock: socket.socket = in_netns(ns, make)
        self.events: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            now = time.monotonic()
            off = 0
            got = []
            while off + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if length < 16:
                    break
                if kind == 20:                                   # RTM_NEWADDR
                    family = data[off + 16]
                    a = off + 24
                    while a + 4 <= off + length:
                        alen, atype = struct.unpack_from("=HH", data, a)
                        if alen < 4:
                            break
                        if atype in (1, 2):                      # IFA_ADDRESS, IFA_LOCAL
                            raw = data[a + 4:a + alen]
                            af = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
                            got.append((now, socket.inet_ntop(af, raw)))
                            break
                        a += (alen + 3) & ~3
                off += (length + 3) & ~3
            with self.cond:
                self.events.extend(got)
                self.cond.notify_all()

    def wait(self, addrs: set[str], since: float, timeout: float) -> float | None:
        """When the last of `addrs` appeared after `since` (monotonic), or None."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                seen = {a: t for t, a in self.events if t >= since and a in addrs}
                if len(seen) == len(addrs):
                    return max(seen.values())
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        self.sock.close()


class VrrpCapture:
    """VRRP packets (IPv4 and IPv6) seen on a bridge port, with kernel time stamps; with
    `vips` (address -> VRID), also the gratuitous ARPs and unsolicited NAs for them."""

    def __init__(self, lan: str, port: str, vips: dict[str, int] | None = None) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind((port, 0))
            return s
        self.sock: socket.socket = in_netns(lan, make)
        self.packets: list[tuple[float, str, int, int]] = []     # (time, source, vrid, prio)
        self.garps: list[tuple[float, int]] = []                  # (time, vrid)
        self.vips = {socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a): v
                     for a, v in (vips or {}).items()}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data, anc, _f, _a = self.sock.recvmsg(2048, 64)
            except OSError:
                return
            ts = time.time()
            for _lvl, kind, v in anc:
                if kind == SO_TIMESTAMPNS:
                    sec, ns = struct.unpack("qq", v[:16])
                    ts = sec + ns / 1e9
            et = struct.unpack_from("!H", data, 12)[0]
            if et == 0x0800 and len(data) > 34 and data[23] == 112:
                ihl = (data[14] & 0xF) * 4
                v = data[14 + ihl:]
                src = socket.inet_ntop(socket.AF_INET, data[26:30])
            elif et == 0x86DD and len(data) > 56 and data[20] == 112:
                v = data[54:]
                src = socket.inet_ntop(socket.AF_INET6, data[22:38])
            elif et == 0x0806 and len(data) >= 42 and self.vips:
                vrid = self.vips.get(data[28:32])                 # ARP sender address
                if vrid is not None:
                    self.garps.append((ts, vrid))
                continue
            elif et == 0x86DD and len(data) >= 78 and data[20] == 58 and data[54] == 136 \
                    and self.vips:
                vrid = self.vips.get(data[62:78])                 # NA target address
                if vrid is not None:
                    self.garps.append((ts, vrid))
                continue
            else:
                continue
            if len(v) >= 3:
                self.packets.append((ts, src, v[1], v[2]))

    def close(self) -> None:
        self.sock.close()


# -- configurations ----------------------------------------------------------------------------
def instances(n: int, prio: int, advert: float, version: int = 2, state: str = "BACKUP",
              vip: Callable[[int], str] | None = None, unicast: tuple[str, str] | None = None
              ) -> str:
    out = [f"global_defs {{\n  enable_script_security\n  vrrp_version {version}\n"
           "  vrrp_garp_master_delay 0\n}\n"]
    for i in range(n):
        uni = ""
        if unicast:
            uni = f"  unicast_src_ip {unicast[0]}\n  unicast_peer {{ {unicast[1]} }}\n"
        # a VRID is unique per interface: 250 instances per interface (eth0, eth1, ...)
        out.append(f"vrrp_instance VI_{i} {{\n  state {state}\n  interface eth{i // 250}\n"
                   f"  virtual_router_id {i % 250 + 1}\n  priority {prio}\n"
                   f"  advert_int {advert}\n{uni}"
                   f"  virtual_ipaddress {{ {vip(i) if vip else _vip4(i)} }}\n}}\n")
    return "".join(out)


def _vip4(i: int) -> str:
    return f"198.51.{100 + i // 250}.{i % 250 + 1}/32"


def _vip6(i: int) -> str:
    return f"2001:db8::{0x100 + i:x}/64"


def vip_set(n: int) -> set[str]:
    return {_vip4(i).split("/")[0] for i in range(n)}


def virtual_servers(n: int = 10, reals: int = 5, host: str = "192.0.2.2",
                    port: int = 8080) -> str:
    """`n` virtual servers (192.0.2.100 + i, port 80) of `reals` TCP_CHECKed real servers each
    (`host`, ports `port` ...)."""
    out = []
    for i in range(n):
        rs = "".join(f"  real_server {host} {port + j} {{\n    TCP_CHECK {{\n"
                     "      connect_timeout 2\n    }\n  }\n" for j in range(reals))
        out.append(f"virtual_server 192.0.2.{100 + i} 80 {{\n  delay_loop 1\n  lb_algo wrr\n"
                   f"  lb_kind NAT\n  protocol TCP\n{rs}}}\n")
    return "".join(out)


# -- failover cases ----------------------------------------------------------------------------
class FoCase(NamedTuple):
    group: str                   # the group name and result key
    label: str
    how: str = "kill"            # kill (SIGSTOP), link (A's bridge port down), term (SIGTERM)
    version: int = 2
    advert: float = 1.0
    n: int = 1
    v6: bool = False
    unicast: bool = False
    debug: bool = False


FO_CASES = [
    FoCase("failover", "failover overhead above the bound, kill, v2 1 s"),
    FoCase("foD", "failover, kill, v2 1 s, with -D", debug=True),
    FoCase("fo01", "failover overhead, kill, v3 0.1 s", version=3, advert=0.1),
    FoCase("fo01D", "failover, kill, v3 0.1 s, with -D", version=3, advert=0.1,
           debug=True),
    FoCase("foL", "failover overhead, link down, v2 1 s", how="link"),
    FoCase("foU", "failover overhead, kill, v2 1 s unicast", unicast=True),
    FoCase("fo6", "failover overhead, kill, v3 1 s IPv6", version=3, v6=True),
    FoCase("fo6U", "failover overhead, kill, v3 1 s IPv6 unicast", version=3, v6=True,
           unicast=True),
    FoCase("fo50", "failover overhead, kill, 50 instances v3 1 s", version=3, n=50),
    FoCase("fo50D", "failover, kill, 50 instances v3 1 s, with -D", version=3, n=50,
           debug=True),
    FoCase("fo50L", "failover overhead, link down, 50 instances v3 1 s", how="link", version=3,
           n=50),
    FoCase("fo5001", "failover overhead, kill, 50 instances v3 0.1 s", version=3, advert=0.1,
           n=50),
    FoCase("ho", "SIGTERM handover, v2 1 s IPv4 multicast: above Skew_Time", how="term"),
    FoCase("hoD", "SIGTERM handover, v2 1 s IPv4 multicast, with -D", how="term",
           debug=True),
    FoCase("ho01", "SIGTERM handover, v3 0.1 s IPv4 multicast", how="term", version=3,
           advert=0.1),
    FoCase("handover6u", "SIGTERM handover, IPv6 unicast v3 1 s: above Skew_Time", how="term",
           version=3, v6=True, unicast=True),
    FoCase("ho50", "SIGTERM handover, 50 instances v3 1 s", how="term", version=3, n=50),
    FoCase("ho5001", "SIGTERM handover, 50 instances v3 0.1 s", how="term", version=3,
           advert=0.1, n=50),
]
FO = {c.group: c for c in FO_CASES}


# -- the lab -----------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lab = Lab("cmp")
        self.tmp = tempfile.mkdtemp(prefix="kp-compare-")
        self.running: list[Daemon] = []
        self.listeners: list[subprocess.Popen[bytes]] = []    # pssC's real servers, on B
        try:
            self.lan = self.lab.lan()
            self.a = self.lab.node("a", self.lan, "192.0.2.1/24", "2001:db8::1/64")
            self.b = self.lab.node("b", self.lan, "192.0.2.2/24", "2001:db8::2/64")
            self.port_b = "p2"                   # B's bridge port (Lab numbers them in order)
            for i in (1, 2, 3):                  # more interfaces on A for `-t` of 1,000
                subprocess.run(["ip", "-n", self.a.ns, "link", "add", f"eth{i}", "type",
                                "veth", "peer", "name", f"peer{i}"], check=True)
            # byte code compiled once, before any figure (an installed package ships it)
            for root in TREES.values():
                subprocess.run([runtime_python(), "-m", "compileall", "-q",
                                os.path.join(root, "keepalived_py")],
                               env=daemon_env(root), check=True, stdout=subprocess.DEVNULL)
        except BaseException:                    # (Ctrl-C too) nothing made stays behind
            self.close()
            raise

    def close(self) -> None:
        for d in self.running:
            d.stop()
        self.lab.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon(self, which: str, ns: str, conf: str, tag: str, **kw: Any) -> Daemon:
        d = Daemon(which, ns, conf, self.tmp, tag, **kw)
        self.running.append(d)
        return d

    def done(self, *ds: Daemon) -> None:
        for d in ds:
            d.stop()
            if d in self.running:
                self.running.remove(d)

    # -- figures ---------------------------------------------------------------------------
    def startup(self, which: str, n: int) -> float:
        watch = AddressWatch(self.a.ns)
        d = self.daemon(which, self.a.ns, instances(n, 255, 1.0, state="MASTER"), f"st{n}")
        try:
            d.start()
            t = watch.wait(vip_set(n), d.started, 20)
            if t is None:
                raise RuntimeError(f"{which}: the VIPs did not appear ({d.dir}/log)")
            return (t - d.started) * 1000
        finally:
            self.done(d)
            watch.close()

    def cpu(self, which: str, advert: float, debug: bool = False, v6: bool = False
            ) -> dict[str, float]:
        n = 200
        version = 3 if advert < 1 or v6 else 2    # VRRPv2 has whole seconds only (and IPv4)
        vip = _vip6 if v6 else None
        da = self.daemon(which, self.a.ns, instances(n, 150, advert, version, vip=vip), "cpuA",
                         debug=debug)
        db = self.daemon(which, self.b.ns, instances(n, 100, advert, version, vip=vip), "cpuB",
                         debug=debug)
        watch = AddressWatch(self.a.ns)
        want = {_vip6(i).split("/")[0] for i in range(n)} if v6 else vip_set(n)
        try:
            da.start()
            db.start()
            if watch.wait(want, da.started, 30) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(max(2 + advert * 4, SETTLE - (time.monotonic() - db.started)))
            pa, pb = da.pids(), db.pids()
            ca, cb = cpu_ns(pa), cpu_ns(pb)
            t0 = time.monotonic()
            time.sleep(self.args.window)
            el = time.monotonic() - t0
            out = {"master": (cpu_ns(pa) - ca) / 1e9 / el * 100,
                   "backup": (cpu_ns(pb) - cb) / 1e9 / el * 100}
            if advert == 1.0 and not debug and not v6:
                out["pss"] = pss_kib(da.pids()) / 1024
                # reload: the tree's CPU over 2 s after a HUP, minus the steady rate
                c0 = cpu_ticks(da.pids())
                t0 = time.monotonic()
                da.signal(signal.SIGHUP)
                time.sleep(2.0)
                el = time.monotonic() - t0
                used = (cpu_ticks(da.pids()) - c0) / TICK
                out["reload"] = max(0.0, used - out["master"] / 100 * el) * 1000
            return out
        finally:
            self.done(da, db)
            watch.close()

    def pss_checker(self, which: str) -> dict[str, float]:
        """The tree's PSS with a checker child (see `pssC` above), per process too."""
        if not self.listeners:
            listener = os.path.join(ROOT, "tests", "accept_listener.py")
            for j in range(5):
                p = self.b.popen([sys.executable, listener, str(8080 + j)],
                                 stdout=subprocess.PIPE)
                assert p.stdout is not None
                p.stdout.readline()                                # "ready"
                self.listeners.append(p)
        conf = instances(200, 150, 1.0) + virtual_servers()
        d = self.daemon(which, self.a.ns, conf, "pssC")
        try:
            d.start()
            time.sleep(SETTLE)
            pids = d.pids()
            if len(pids) < 3 and which != "keepalived":   # (keepalived's checker ends
                # where the kernel has no IPVS: its tree is then what is left)
                raise RuntimeError(f"{which}: {len(pids) - 1} children ({d.dir}/log)")
            out = {"pssC": pss_kib(pids) / 1024}
            for role, name in (("parent", "p.pid"), ("vrrp", "v.pid"), ("checker", "c.pid")):
                try:
                    with open(os.path.join(d.dir, name)) as f:
                        out[f"pssC.{role}"] = pss_kib([int(f.read().split()[0])]) / 1024
                except (OSError, ValueError, IndexError):
                    pass
            return out
        finally:
            self.done(d)

    def failover_case(self, which: str, case: FoCase) -> dict[str, float]:
        """One failover (kill: SIGSTOP of A's daemon tree, a silent death; link: A's bridge
        port down) or graceful handover (term: SIGTERM of A's daemon, which sends priority-0
        adverts). A (priority 255, master at once) and B (priority 100) run `case.n`
        instances. Per VRID, from the capture on B's bridge port (kernel time stamps):
        kill/link, B's first advert minus A's last, minus Master_Down_Interval (3 adverts +
        Skew_Time); term, B's first advert minus A's first priority-0 advert, minus Skew_Time.
        The same for B's first gratuitous ARP / unsolicited NA (`.garp`). Median over the
        VRIDs (and worst, with 50 instances)."""
        n, advert, v6, uni = case.n, case.advert, case.v6, case.unicast
        if v6:
            def vip(i: int) -> str:
                return f"2001:db8::{0x100 + i:x}/64"
            peers = ("2001:db8::1", "2001:db8::2")
        else:
            vip, peers = _vip4, ("192.0.2.1", "192.0.2.2")
        conf_a = instances(n, 255, advert, case.version, state="MASTER", vip=vip,
                           unicast=peers if uni else None)
        conf_b = instances(n, 100, advert, case.version, vip=vip,
                           unicast=(peers[1], peers[0]) if uni else None)
        tag = case.group
        da = self.daemon(which, self.a.ns, conf_a, f"{tag}A", debug=case.debug)
        db = self.daemon(which, self.b.ns, conf_b, f"{tag}B", debug=case.debug)
        vips = {vip(i).split("/")[0]: i % 250 + 1 for i in range(n)}
        cap = VrrpCapture(self.lan, self.port_b, vips)
        watch = AddressWatch(self.a.ns)
        port_a = "p1"
        try:
            da.start()
            db.start()
            if watch.wait(set(vips), da.started, 20) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(max(2.0, 2 * advert + 1.5))    # B started and hearing A
            t_stop = time.time()
            if case.how == "link":
                subprocess.run(["ip", "-n", self.lan, "link", "set", port_a, "down"], check=True)
            elif case.how == "term":
                da.signal(signal.SIGTERM)
            else:
                for pid in da.pids():
                    os.kill(pid, signal.SIGSTOP)                 # a silent death
            if case.how == "link":
                # after the link is down, not before: an advert sent while `ip` ran would
                # otherwise count as after the stop and the last one seem an interval older
                t_stop = time.time()
            # the takeovers: Master_Down_Interval (Skew_Time after a priority-0 advert), then
            # some margin for a loaded host
            time.sleep((1.0 if case.how == "term" else 4.0) * advert + 0.7 + n * 0.01)
            if case.version == 3:
                skew = (256 - 100) * round(advert * 100) * 625 // 16 / 1e6
            else:
                skew = (256 - 100) * 1_000_000 // 256 / 1e6
            bound = skew if case.how == "term" else 3 * advert + skew
            over, garp = [], []
            for vrid in range(1, n + 1):
                if case.how == "term":
                    ref = min((t for t, _s, v, p in cap.packets
                               if v == vrid and p == 0 and t >= t_stop), default=None)
                else:
                    ref = max((t for t, _s, v, p in cap.packets
                               if v == vrid and p == 255 and t <= t_stop), default=None)
                first = min((t for t, _s, v, p in cap.packets
                             if v == vrid and p == 100 and ref is not None and t > ref),
                            default=None)
                if ref is None or first is None:
                    raise RuntimeError(f"{which}: no takeover of VRID {vrid} seen ({db.dir}/log)")
                over.append((first - ref - bound) * 1000)
                g = min((t for t, v in cap.garps if v == vrid and t > ref), default=None)
                if g is not None:
                    garp.append((g - ref - bound) * 1000)
            out = {tag: statistics.median(over)}
            if n > 1:
                out[f"{tag}.max"] = max(over)
            if garp:
                out[f"{tag}.garp"] = max(garp) if n > 1 else garp[0]
            return out
        finally:
            if case.how == "link":
                subprocess.run(["ip", "-n", self.lan, "link", "set", port_a, "up"], check=False)
            self.done(da, db)
            cap.close()
            watch.close()

    def test1000(self, which: str) -> dict[str, float]:
        d = Daemon(which, self.a.ns, instances(1000, 100, 1.0), self.tmp, "t1000")
        cmd = [KEEPALIVED] if which == "keepalived" else [runtime_python(), "-m", "keepalived_py"]
        cmd += ["-t", "-f", d.conf]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=lambda: setns(self.a.ns), env=daemon_env(d.root),
                             cwd=d.root)
        assert p.stderr is not None
        err = p.stderr.read()
        _pid, status, usage = os.wait4(p.pid, 0)
        took = (time.monotonic() - t0) * 1000
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"{which} -t failed: {err[-500:]!r}")
        return {"test1000": took, "test1000.cpu": (usage.ru_utime + usage.ru_stime) * 1000}


# -- the table ---------------------------------------------------------------------------------
def _fo_rows() -> list[tuple[str, str, str]]:
    rows = []
    for c in FO_CASES:
        if c.n > 1:
            rows += [(c.group, c.label + ", median", "ms"), (f"{c.group}.max", c.label + ", worst",
                                                              "ms")]
        else:
            rows.append((c.group, c.label, "ms"))
        rows.append((f"{c.group}.garp", "  first gratuitous ARP/NA" + (", worst" if c.n > 1
                                                                       else ""), "ms"))
    return rows


ROWS = [
    # (key, label, unit)
    ("startup1", "exec -> VIP, 1 instance, priority 255", "ms"),
    ("startup200", "exec -> all VIPs, 200 instances, priority 255", "ms"),
    ("cpu1.master", "CPU, 200 instances at 1 s, master", "%"),
    ("cpu1.backup", "CPU, 200 instances at 1 s, backup", "%"),
    ("cpu1D.master", "the same with -D, master", "%"),
    ("cpu1D.backup", "the same with -D, backup", "%"),
    ("cpu01.master", "CPU, 200 instances at 0.1 s (v3), master", "%"),
    ("cpu01.backup", "CPU, 200 instances at 0.1 s (v3), backup", "%"),
    ("cpu01v6.master", "CPU, 200 instances at 0.1 s (v3), IPv6, master", "%"),
    ("cpu01v6.backup", "CPU, 200 instances at 0.1 s (v3), IPv6, backup", "%"),
    ("cpu1.pss", "memory, daemon tree PSS (parent + VRRP child)", "MiB"),
    ("cpu1.reload", "reload of 200 instances: CPU", "ms"),
    ("pssC", "memory, tree PSS with the checker (+10 VS / 50 RS TCP_CHECK)", "MiB"),
    ("pssC.parent", "  of which the parent", "MiB"),
    ("pssC.vrrp", "  of which the VRRP child", "MiB"),
    ("pssC.checker", "  of which the checker child", "MiB"),
    *_fo_rows(),
    ("test1000", "-t on 1,000 instances, wall", "ms"),
    ("test1000.cpu", "-t on 1,000 instances, CPU (user + system)", "ms"),
]
GROUPS = {"startup1": ["startup1"], "startup200": ["startup200"], "cpu1": ["cpu1"],
          "cpu1D": ["cpu1D"], "cpu01": ["cpu01"], "cpu01v6": ["cpu01v6"], "pssC": ["pssC"],
          **{c.group: [c.group] for c in FO_CASES},
          "test1000": ["test1000"]}
# --only shorthands: several groups at once
ALIASES = {"failovers": [c.group for c in FO_CASES],
           "kill": [c.group for c in FO_CASES if c.how == "kill"],
           "link": [c.group for c in FO_CASES if c.how == "link"],
           "term": [c.group for c in FO_CASES if c.how == "term"],
           "cpu": ["cpu1", "cpu1D", "cpu01", "cpu01v6"], "startup": ["startup1", "startup200"]}


def measure(bench: Bench, group: str, which: str) -> dict[str, float]:
    if group == "startup1":
        return {"startup1": bench.startup(which, 1)}
    if group == "startup200":
        return {"startup200": bench.startup(which, 200)}
    if group in ("cpu1", "cpu1D", "cpu01", "cpu01v6"):
        advert = 0.1 if group.startswith("cpu01") else 1.0
        res = bench.cpu(which, advert, debug=group == "cpu1D", v6=group == "cpu01v6")
        return {f"{group}.{k}": v for k, v in res.items()}
    if group == "pssC":
        return bench.pss_checker(which)
    if group in FO:
        return bench.failover_case(which, FO[group])
    if group == "test1000":
        return bench.test1000(which)
    raise ValueError(group)


def fmt(values: list[float]) -> str:
    if not values:
        return "—"
    med = statistics.median(values)
    digits = 2 if abs(med) < 10 else 1 if abs(med) < 100 else 0
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--window", type=float, default=8.0, help="CPU window, seconds")
    ap.add_argument("--only", default="", help="comma-separated groups: " + ",".join(GROUPS)
                    + "; or shorthands: " + ",".join(ALIASES))
    ap.add_argument("--baseline", default="", metavar="DIR",
                    help="also measure keepalived-py from the source tree DIR (before/after)")
    args = ap.parse_args()
    daemons: tuple[str, ...] = DAEMONS
    if args.baseline:
        if not os.path.isdir(os.path.join(args.baseline, "keepalived_py")):
            print(f"compare.py: no keepalived_py in {args.baseline}", file=sys.stderr)
            return 2
        TREES[BASE] = os.path.abspath(args.baseline)
        daemons = ("keepalived", BASE, "keepalived-py")
    if os.geteuid() != 0:
        print("compare.py: run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    wanted: set[str] = set()
    for word in filter(None, args.only.split(",")):
        if word not in GROUPS and word not in ALIASES:
            print(f"compare.py: no group {word!r} (groups: {', '.join(GROUPS)}; shorthands: "
                  f"{', '.join(ALIASES)})", file=sys.stderr)
            return 2
        wanted.update(ALIASES.get(word, [word]))
    groups = [g for g in GROUPS if not wanted or g in wanted]
    results: dict[str, dict[str, list[float]]] = {d: {} for d in daemons}
    errors: list[str] = []
    loads: list[float] = [os.getloadavg()[0]]
    exit_on_signals()
    bench = Bench(args)
    started = datetime.datetime.now(datetime.UTC)
    try:
        for rep in range(args.reps):
            for group in groups:
                for which in daemons:                   # interleaved: all in every round
                    try:
                        for k, v in measure(bench, group, which).items():
                            results[which].setdefault(k, []).append(v)
                    except RuntimeError as e:
                        errors.append(f"rep {rep + 1} {group}: {e}")
                    loads.append(os.getloadavg()[0])
                    print(f"# rep {rep + 1}/{args.reps} {group} {which} done (load "
                          f"{loads[-1]:.1f})", file=sys.stderr, flush=True)
    finally:
        bench.close()
    print(f"keepalived 2.2.7 vs keepalived-py — {started:%Y-%m-%d %H:%M} UTC, {args.reps} runs "
          f"each, interleaved; median (min–max); load average {statistics.median(loads):.1f} "
          f"({min(loads):.1f}–{max(loads):.1f}) on {os.cpu_count()} CPUs")
    if args.baseline:
        print(f"baseline: keepalived-py from {TREES[BASE]}")
    print()
    base = args.baseline != ""
    print("| measure | keepalived 2.2.7 |" + (" keepalived-py (baseline) |" if base else "")
          + " keepalived-py | ratio |")
    print("|---|---|---|---|" + ("---|" if base else ""))
    for key, label, unit in ROWS:
        k, o = results["keepalived"].get(key, []), results["keepalived-py"].get(key, [])
        b = results[BASE].get(key, []) if base else []
        if not k and not o and not b:
            continue
        ratio = "—"
        if k and o and statistics.median(k) > 0:
            ratio = f"{statistics.median(o) / statistics.median(k):.1f}×"
        print(f"| {label} ({unit}) | {fmt(k)} |" + (f" {fmt(b)} |" if base else "")
              + f" {fmt(o)} | {ratio} |")
    verdicts = fo_verdicts(results)
    if verdicts:
        print()
        print("failover target (issue 16.4): median <= keepalived's + 0.5 ms, worst <= 5 ms")
        for line in verdicts:
            print(line)
    for e in errors:
        print(f"error: {e}")
    return 1 if errors else 0


def fo_verdicts(results: dict[str, dict[str, list[float]]]) -> list[str]:
    """Per failover case: keepalived-py's median (over the runs; with 50 instances, the
    median of the runs' medians) against keepalived's + 0.5 ms, and its worst (every run's
    worst VRID) against 5 ms."""
    out = []
    k, o = results["keepalived"], results["keepalived-py"]
    for c in FO_CASES:
        if not o.get(c.group):
            continue
        med = statistics.median(o[c.group])
        worst = max(o.get(f"{c.group}.max", o[c.group]))
        ref = statistics.median(k[c.group]) if k.get(c.group) else None
        ok = worst <= 5.0 and (ref is None or med <= ref + 0.5)
        out.append(f"  {c.group:10} median {med:6.2f} ms (keepalived "
                   + (f"{ref:6.2f}" if ref is not None else "     —") + f"), worst {worst:6.2f}"
                   f" ms: {'ok' if ok else 'MISS'}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
