"""keepalived 2.2.7 beside keepalived-py: every figure of issue 16 in one run, one command.

    python bench/compare.py [--reps 3] [--only startup1,cpu] [--window 8] [--baseline DIR]

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
  pss         PSS of the daemon tree (parent + VRRP child), 200 instances, master
  reload      CPU of the daemon tree for one SIGHUP reload of 200 unchanged instances (ms)
  failover    kill (SIGSTOP) of a v2 1 s master: overhead above Master_Down_Interval (ms)
  foD fo01 foL foU fo6 fo50   the same failover: with -D; v3 0.1 s; link down (the bridge
              port) instead of a kill; unicast; IPv6 v3 1 s; 50 instances v3 1 s (median, worst)
  handover6u  SIGTERM of an IPv6 unicast v3 1 s master: overhead above Skew_Time (ms)
  test1000    `-t` of 1,000 instances: wall time of the process (ms)
"""
from __future__ import annotations

import argparse
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
from typing import Any

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
PYCACHE = tempfile.mkdtemp(prefix="kp-compare-pyc-")


def runtime_python() -> str:
    """The interpreter keepalived-py runs with here: a virtual environment like install.sh's
    (the base python3, with this interpreter's site-packages as plain paths: the same
    dependencies), made once in PYCACHE. Not this checkout's test venv itself: its editable
    install (`pip install -e`) adds an import hook that every Python start there loads (its
    finder module, pathlib: ~10 ms of each daemon's start and memory) and that a daemon as
    install.sh installs it never has."""
    import site
    venv = os.path.join(PYCACHE, "venv")
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
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
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
    """VRRP packets (IPv4 and IPv6) seen on a bridge port, with kernel time stamps."""

    def __init__(self, lan: str, port: str) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind((port, 0))
            return s
        self.sock: socket.socket = in_netns(lan, make)
        self.packets: list[tuple[float, str, int, int]] = []     # (time, source, vrid, prio)
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


def vip_set(n: int) -> set[str]:
    return {_vip4(i).split("/")[0] for i in range(n)}


# -- the lab -----------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lab = Lab("cmp")
        self.tmp = tempfile.mkdtemp(prefix="kp-compare-")
        self.lan = self.lab.lan()
        self.a = self.lab.node("a", self.lan, "192.0.2.1/24", "2001:db8::1/64")
        self.b = self.lab.node("b", self.lan, "192.0.2.2/24", "2001:db8::2/64")
        self.port_b = "p2"                       # B's bridge port (Lab numbers them in order)
        for i in (1, 2, 3):                      # more interfaces on A for `-t` of 1,000
            subprocess.run(["ip", "-n", self.a.ns, "link", "add", f"eth{i}", "type", "veth",
                            "peer", "name", f"peer{i}"], check=True)
        self.running: list[Daemon] = []
        # byte code compiled once, before any figure (an installed package ships it)
        for root in TREES.values():
            subprocess.run([runtime_python(), "-m", "compileall", "-q",
                            os.path.join(root, "keepalived_py")],
                           env=daemon_env(root), check=True, stdout=subprocess.DEVNULL)

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

    def cpu(self, which: str, advert: float, debug: bool = False) -> dict[str, float]:
        n = 200
        version = 3 if advert < 1 else 2          # VRRPv2 has whole seconds only
        da = self.daemon(which, self.a.ns, instances(n, 150, advert, version), "cpuA", debug=debug)
        db = self.daemon(which, self.b.ns, instances(n, 100, advert, version), "cpuB", debug=debug)
        watch = AddressWatch(self.a.ns)
        try:
            da.start()
            db.start()
            if watch.wait(vip_set(n), da.started, 30) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(max(2 + advert * 4, SETTLE - (time.monotonic() - db.started)))
            pa, pb = da.pids(), db.pids()
            ca, cb = cpu_ns(pa), cpu_ns(pb)
            t0 = time.monotonic()
            time.sleep(self.args.window)
            el = time.monotonic() - t0
            out = {"master": (cpu_ns(pa) - ca) / 1e9 / el * 100,
                   "backup": (cpu_ns(pb) - cb) / 1e9 / el * 100}
            if advert == 1.0 and not debug:
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

    def failover(self, which: str) -> float:
        conf = instances(1, 150, 1.0)
        da = self.daemon(which, self.a.ns, conf, "foA")
        db = self.daemon(which, self.b.ns, instances(1, 100, 1.0), "foB")
        cap = VrrpCapture(self.lan, self.port_b)
        watch = AddressWatch(self.a.ns)
        try:
            da.start()
            db.start()
            if watch.wait(vip_set(1), da.started, 20) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(2.5)
            for pid in da.pids():
                os.kill(pid, signal.SIGSTOP)                 # a silent death
            t_stop = time.time()
            time.sleep(5.5)
            last = max((t for t, s, _v, p in cap.packets if p == 150 and t <= t_stop), default=None)
            first = min((t for t, s, _v, p in cap.packets if p == 100 and t > t_stop), default=None)
            if last is None or first is None:
                raise RuntimeError(f"{which}: no failover seen ({db.dir}/log)")
            bound = 3 * 1.0 + (256 - 100) / 256
            return (first - last - bound) * 1000
        finally:
            self.done(da, db)
            cap.close()
            watch.close()

    def failover_case(self, which: str, case: str) -> dict[str, float]:
        """A failover case: D (-D), 01 (v3 0.1 s), L (link down instead of a kill), U
        (unicast), 6 (IPv6 v3), 50 (50 instances, v3 1 s: median and worst over the VRIDs).
        The overhead above Master_Down_Interval of each VRID: B's first advert minus A's last."""
        n = 50 if case == "50" else 1
        version = 3 if case in ("01", "6", "50") else 2
        advert = 0.1 if case == "01" else 1.0
        vip = (lambda i: f"2001:db8::{0x100 + i:x}/64") if case == "6" else None
        uni = case == "U"
        conf_a = instances(n, 150, advert, version, vip=vip,
                           unicast=("192.0.2.1", "192.0.2.2") if uni else None)
        conf_b = instances(n, 100, advert, version, vip=vip,
                           unicast=("192.0.2.2", "192.0.2.1") if uni else None)
        debug = case == "D"
        da = self.daemon(which, self.a.ns, conf_a, f"f{case}A", debug=debug)
        db = self.daemon(which, self.b.ns, conf_b, f"f{case}B", debug=debug)
        cap = VrrpCapture(self.lan, self.port_b)
        watch = AddressWatch(self.a.ns)
        want = {vip(i).split("/")[0] for i in range(n)} if vip else vip_set(n)
        port_a = "p1"
        try:
            da.start()
            db.start()
            if watch.wait(want, da.started, 20) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(max(2.5, 6 * advert))
            if case == "L":
                subprocess.run(["ip", "-n", self.lan, "link", "set", port_a, "down"], check=True)
            else:
                for pid in da.pids():
                    os.kill(pid, signal.SIGSTOP)                 # a silent death
            # after the kill or the link down, not before: an advert sent while `ip` ran
            # would otherwise count as after the stop and the last one seem a second older
            t_stop = time.time()
            time.sleep(4 * advert + 1.5 + n * 0.01)
            if version == 3:
                skew = (256 - 100) * round(advert * 100) * 625 // 16 / 1e6
            else:
                skew = (256 - 100) * 1_000_000 // 256 / 1e6
            bound = 3 * advert + skew
            over = []
            for vrid in range(1, n + 1):
                last = max((t for t, _s, v, p in cap.packets
                            if v == vrid and p == 150 and t <= t_stop), default=None)
                first = min((t for t, _s, v, p in cap.packets
                             if v == vrid and p == 100 and t > t_stop), default=None)
                if last is None or first is None:
                    raise RuntimeError(f"{which}: no failover of VRID {vrid} seen ({db.dir}/log)")
                over.append((first - last - bound) * 1000)
            out = {f"fo{case}": statistics.median(over)}
            if n > 1:
                out[f"fo{case}.max"] = max(over)
            return out
        finally:
            if case == "L":
                subprocess.run(["ip", "-n", self.lan, "link", "set", port_a, "up"], check=False)
            self.done(da, db)
            cap.close()
            watch.close()

    def handover6u(self, which: str) -> float:
        def conf(prio: int, me: str, peer: str) -> str:
            return instances(1, prio, 1.0, version=3, vip=lambda i: "2001:db8::100/64",
                             unicast=(me, peer))
        da = self.daemon(which, self.a.ns, conf(150, "2001:db8::1", "2001:db8::2"), "h6A")
        db = self.daemon(which, self.b.ns, conf(100, "2001:db8::2", "2001:db8::1"), "h6B")
        cap = VrrpCapture(self.lan, self.port_b)
        watch = AddressWatch(self.a.ns)
        try:
            da.start()
            db.start()
            if watch.wait({"2001:db8::100"}, da.started, 20) is None:
                raise RuntimeError(f"{which}: A did not become master ({da.dir}/log)")
            time.sleep(4.5)                     # past B's Master_Down_Interval
            t_term = time.time()
            da.signal(signal.SIGTERM)
            time.sleep(3)
            zero = min((t for t, s, _v, p in cap.packets if p == 0 and t >= t_term), default=None)
            first = min((t for t, s, _v, p in cap.packets if p == 100 and zero is not None
                         and t > zero), default=None)
            if zero is None or first is None:
                raise RuntimeError(f"{which}: no handover seen ({db.dir}/log)")
            skew = (256 - 100) * 100 * 625 // 16 / 1e6           # v3, 1 s: 609.375 ms
            return (first - zero - skew) * 1000
        finally:
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
    ("cpu1.pss", "memory, daemon tree PSS (parent + VRRP child)", "MiB"),
    ("cpu1.reload", "reload of 200 instances: CPU", "ms"),
    ("failover", "failover overhead above the bound, kill, v2 1 s", "ms"),
    ("foD", "the same with -D", "ms"),
    ("fo01", "failover overhead, kill, v3 0.1 s", "ms"),
    ("foL", "failover overhead, link down, v2 1 s", "ms"),
    ("foU", "failover overhead, kill, v2 1 s unicast", "ms"),
    ("fo6", "failover overhead, kill, v3 1 s IPv6", "ms"),
    ("fo50", "failover overhead, kill, 50 instances v3 1 s, median", "ms"),
    ("fo50.max", "failover overhead, kill, 50 instances v3 1 s, worst", "ms"),
    ("handover6u", "SIGTERM handover, IPv6 unicast v3 1 s: above Skew_Time", "ms"),
    ("test1000", "-t on 1,000 instances, wall", "ms"),
    ("test1000.cpu", "-t on 1,000 instances, CPU (user + system)", "ms"),
]
GROUPS = {"startup1": ["startup1"], "startup200": ["startup200"], "cpu1": ["cpu1"],
          "cpu1D": ["cpu1D"], "cpu01": ["cpu01"], "failover": ["failover"],
          "foD": ["foD"], "fo01": ["fo01"], "foL": ["foL"], "foU": ["foU"],
          "fo6": ["fo6"], "fo50": ["fo50"], "handover6u": ["handover6u"], "test1000": ["test1000"]}


def measure(bench: Bench, group: str, which: str) -> dict[str, float]:
    if group == "startup1":
        return {"startup1": bench.startup(which, 1)}
    if group == "startup200":
        return {"startup200": bench.startup(which, 200)}
    if group in ("cpu1", "cpu1D", "cpu01"):
        advert = 0.1 if group == "cpu01" else 1.0
        res = bench.cpu(which, advert, debug=group == "cpu1D")
        return {f"{group}.{k}": v for k, v in res.items()}
    if group == "failover":
        return {"failover": bench.failover(which)}
    if group.startswith("fo"):
        return bench.failover_case(which, group[2:])
    if group == "handover6u":
        return {"handover6u": bench.handover6u(which)}
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
    ap.add_argument("--only", default="", help="comma-separated groups: " + ",".join(GROUPS))
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
    groups = [g for g in GROUPS if not args.only or g in args.only.split(",")]
    results: dict[str, dict[str, list[float]]] = {d: {} for d in daemons}
    errors: list[str] = []
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
                    print(f"# rep {rep + 1}/{args.reps} {group} {which} done", file=sys.stderr,
                          flush=True)
    finally:
        bench.close()
        shutil.rmtree(PYCACHE, ignore_errors=True)
    load = os.getloadavg()
    print(f"keepalived 2.2.7 vs keepalived-py — {started:%Y-%m-%d %H:%M} UTC, {args.reps} runs "
          f"each, interleaved; median (min–max); load average {load[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
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
    for e in errors:
        print(f"error: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
