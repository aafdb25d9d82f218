"""Chaos runner: three VRRP nodes on one bridge, a fault, and the invariants checked afterwards.

A `Cluster` is a tests/netlab.py `Lab` with three nodes n1/n2/n3 (priorities 200/150/100) on one
bridge, each running a daemon (keepalived-py, or keepalived 2.2.7 where a scenario asks for one)
with one instance, VRID 51, VIP 192.0.2.100/24. Before any daemon starts, an `ip -o monitor
address` runs in every node namespace: the VIP's presence per node over time is recorded from
the kernel, independently of the daemons under test.

A scenario calls `cluster.fault(label, bound, expect)` at the moment it injects a fault or heals
one, then does whatever it does. `verify()` cuts the recording at those marks; within each
window [mark, next mark) the VIP holders must match `expect` from mark + bound on, without a
break:

    expect = ONE           exactly one node holds the VIP (a handover overlap of both nodes
                           shorter than one advert interval is tolerated and reported)
    expect = {"n1"}        exactly these nodes (a partition has one master per side)

`bound` defaults to the Master_Down_Interval of the node expected to take over plus 50 ms (the
issue's bound). Each window's figure is `took`: from the mark until the holders matched
`expect` for good. Afterwards every daemon must still run (parent and VRRP child), each of its
pidfiles one line holding a live pid, and the VIP on exactly the expected node.

Scenarios live in scenarios_chaos.py; tests/chaos/test_chaos_*.py run each once or twice and
bench/chaos.py runs them --repeat N times and prints the figures. KP_CHAOS_SLACK=S adds S seconds
to every bound (for a loaded machine; the figures always show the true `took`).

A host-stall canary (tests/stallwatch.py) runs beside the cluster: a window's `took`, a handover
gap and a two-holder overlap are judged less the host stall that overlapped them (a whole-host
stall delays every daemon alike and says nothing about them); the figures show both (`stall`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netlab import Lab, Node, seconds_until
from stallwatch import StallWatch

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
VIP = "192.0.2.100"
VRID = 51
PRIOS = {"n1": 200, "n2": 150, "n3": 100}
ONE = "one"
ANY = "any"                 # a window that is not judged (while a fault is being driven)
SLACK = float(os.environ.get("KP_CHAOS_SLACK", "0"))
# A handover: the new master sends its advert before adding the VIP (keepalived's order, so the
# old master drops it before the gratuitous ARPs), and the old one drops it on that advert.
# The VIP is then on no node for as long as the new master's address add takes; a gap up to
# this long is a handover, not an outage (the figure `gap` reports it).
GAP_TOL = 0.1


def mdi(prio: int, advert: float) -> float:
    """Master_Down_Interval (RFC 3768 / keepalived): 3 x advert + skew."""
    return 3 * advert + (256 - prio) / 256 * advert


def node_conf(name: str, prio: int, advert: float, *, extra: str = "", glob: str = "",
              top: str = "", vips: Iterable[str] = (f"{VIP}/24",), more: str = "") -> str:
    addrs = "\n    ".join(vips)
    version = 2 if advert == int(advert) else 3          # VRRPv2 intervals are whole seconds
    return f"""global_defs {{
  enable_script_security
  script_user root
  router_id {name}
  vrrp_version {version}
  {glob}
}}
{top}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id {VRID}
  priority {prio}
  advert_int {advert:g}
  {extra}
  virtual_ipaddress {{
    {addrs}
  }}
}}
{more}
"""


class Monitor:
    """`ip -o monitor address` in a namespace; the lines about the VIP kept with the monotonic
    time they arrived. Only those: the soak's nodes add and delete 200 addresses at every
    failover, and a list of every line, copied and scanned at each poll of the timeline, grew
    to tens of thousands over an hour and held the interpreter while this thread waited to
    timestamp the next line."""

    def __init__(self, lab: Lab, ns: str) -> None:
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "ip", "-o", "monitor", "address"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     bufsize=1)
        lab.procs.append(self.proc)  # type: ignore[arg-type]
        self.lines: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        mark = f" {VIP}/"
        for line in self.proc.stdout:
            if mark in line:
                self.lines.append((time.monotonic(), line.rstrip("\n")))


@dataclass
class Daemon:
    """One daemon (keepalived-py or keepalived 2.2.7) on a node, its files in its own dir."""

    node: Node
    dir: Path
    conf: str
    ours: bool = True
    proc: subprocess.Popen[bytes] | None = None
    wrap: list[str] = field(default_factory=list)       # e.g. prlimit ... -- before the command
    env: dict[str, str] = field(default_factory=dict)
    piddir: Path | None = None          # pidfiles elsewhere, seen in the daemon's mount namespace
    crashed: bool = False               # killed on purpose (its host died): not a finding
    args: list[str] = field(default_factory=list)       # more command-line options (ours)

    def pidpath(self, which: str) -> Path:
        if self.piddir is None:
            return self.dir / f"{which}.pid"
        if self.proc is None:
            return self.piddir / f"{which}.pid"
        return Path(f"/proc/{self.proc.pid}/root{self.piddir}/{which}.pid")

    def cmd(self) -> list[str]:
        d = self.piddir or self.dir
        pid = ["-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"), "-b", str(d / "b.pid")]
        if self.ours:
            return [*self.wrap, sys.executable, "-m", "keepalived_py", "-n", "-l", "-D",
                    "-f", str(self.dir / "keepalived.conf"), *pid, *self.args]
        return [*self.wrap, KEEPALIVED, "-n", "-l", "-D", "-f", str(self.dir / "keepalived.conf"), *pid]

    def start(self) -> Daemon:
        self.crashed = False
        (self.dir / "keepalived.conf").write_text(self.conf)
        env = {**os.environ, "TMPDIR": str(self.dir), **self.env}
        self.proc = self.node.popen(self.cmd(), stdout=subprocess.DEVNULL,
                                    stderr=open(self.dir / "log", "ab"), env=env)
        return self

    def write_conf(self, text: str) -> None:
        self.conf = text
        tmp = self.dir / "keepalived.conf.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.dir / "keepalived.conf")

    def pid(self, which: str) -> int | None:
        """The pid in p.pid / v.pid / c.pid, or None."""
        try:
            return int(self.pidpath(which).read_text())
        except (OSError, ValueError):
            return None

    def signal(self, which: str, sig: int) -> bool:
        pid = self.pid(which)
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False

    def signal_all(self, sig: int) -> None:
        """The whole daemon at once (a frozen or crashed host)."""
        for which in ("p", "v", "c"):
            self.signal(which, sig)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def crash(self) -> None:
        """The host dies: every process SIGKILLed and its addresses gone with it."""
        self.crashed = True
        self.signal_all(signal.SIGKILL)
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
        for f in ("p", "v", "c"):
            (self.dir / f"{f}.pid").unlink(missing_ok=True)     # gone with the host's /run
        self.node.run("ip", "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)

    def stop(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self, tail: int = 3000) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def problems(self) -> list[str]:
        """Why this daemon is not healthy: dead, or a pidfile not one line of a live pid."""
        out: list[str] = []
        if self.crashed:
            return out
        if not self.running():
            out.append(f"daemon exited ({None if self.proc is None else self.proc.returncode})")
            return out
        need = ("p", "v")
        for which in ("p", "v", "c"):
            path = self.pidpath(which)
            if not path.exists():
                if which in need:
                    out.append(f"{which}.pid missing")
                continue
            text = path.read_text(errors="replace")
            if not re.fullmatch(r"\d+\n", text):
                out.append(f"{which}.pid is not one line: {text!r}")
                continue
            if not os.path.exists(f"/proc/{int(text)}"):
                out.append(f"{which}.pid names a dead process {int(text)}")
        return out

    def rss_fds(self, which: str = "v") -> tuple[int, int]:
        """(RSS in KiB, open fds) of the parent ("p") or VRRP child ("v")."""
        pid = self.pid(which)
        if pid is None:
            return (0, 0)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            return rss, len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, AttributeError):
            return (0, 0)


@dataclass
class Window:
    label: str
    t: float
    bound: float
    expect: str | frozenset[str]
    took: float | None = None            # seconds from the mark until holders matched for good
    overlap: float = 0.0                 # longest tolerated two-holder overlap after the bound
    gap: float = 0.0                     # longest instant without a holder (with nogap)
    stall: float = 0.0                   # host stall inside [t, t + took] (tests/stallwatch.py)
    nogap: bool = False                  # no instant without a holder anywhere in the window
    error: str = ""


class Cluster:
    """Three nodes on one bridge, each with a daemon; see the module docstring."""

    def __init__(self, base: Path, *, kinds: tuple[str, ...] = ("py", "py", "py"),
                 advert: float = 1.0, tag: str = "c", extra: dict[str, str] | None = None,
                 glob: dict[str, str] | None = None, top: dict[str, str] | None = None,
                 more: dict[str, str] | None = None) -> None:
        self.base = base
        self.advert = advert
        self.lab = Lab(tag=tag)
        self.stallwatch: StallWatch | None = None
        self.windows: list[Window] = []
        self.notes: list[str] = []
        self.daemons: dict[str, Daemon] = {}
        self.nodes: dict[str, Node] = {}
        self.ports: dict[str, str] = {}
        try:
            self.lan = self.lab.lan()
            for i, (name, kind) in enumerate(zip(PRIOS, kinds, strict=True), 1):
                node = self.lab.node(name)
                self.ports[name] = self.lab.attach(node, self.lan, "eth0", f"192.0.2.{i}/24")
                self.nodes[name] = node
                d = base / name
                d.mkdir(parents=True, exist_ok=True)
                os.chmod(d, 0o755)
                conf = node_conf(name, PRIOS[name], advert, extra=(extra or {}).get(name, ""),
                                 glob=(glob or {}).get(name, ""), top=(top or {}).get(name, ""),
                                 more=(more or {}).get(name, ""))
                self.daemons[name] = Daemon(node, d, conf, ours=(kind == "py"))
            self.monitors = {n: Monitor(self.lab, node.ns) for n, node in self.nodes.items()}
            self.stallwatch = StallWatch().start()
            time.sleep(0.3)                                    # monitors subscribed
        except BaseException:
            if self.stallwatch is not None:
                self.stallwatch.stop()
            self.lab.close()
            raise

    # -- observing
    def has_vip(self, name: str) -> bool:
        out = self.nodes[name].run("ip", "-j", "addr", "show", "dev", "eth0", check=False).stdout
        try:
            data = json.loads(out or "[]")
        except ValueError:
            return False
        return any(a.get("local") == VIP for i in data for a in i.get("addr_info", []))

    def holders(self) -> set[str]:
        return {n for n in self.nodes if self.has_vip(n)}

    def wait(self, pred: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
        return seconds_until(pred, timeout, step)

    def timeline(self) -> list[tuple[float, frozenset[str]]]:
        """(time, holders) at every change of the VIP's holders, from the address monitors."""
        events: list[tuple[float, str, bool]] = []
        for name, mon in self.monitors.items():
            for t, line in list(mon.lines):
                if f" {VIP}/" not in line:
                    continue
                events.append((t, name, not line.startswith("Deleted")))
        events.sort()
        cur: set[str] = set()
        out: list[tuple[float, frozenset[str]]] = [(0.0, frozenset())]
        for t, name, present in events:
            (cur.add if present else cur.discard)(name)
            if frozenset(cur) != out[-1][1]:
                out.append((t, frozenset(cur)))
        return out

    # -- driving
    def start(self, names: Iterable[str] | None = None) -> None:
        for n in names or self.daemons:
            self.daemons[n].start()

    def elected(self, timeout: float = 60.0) -> None:
        """Wait until n1 (the highest priority) alone holds the VIP, then settle one advert (the
        timeout covers the daemons' start-up, seconds on a loaded host: not a protocol claim)."""
        took = self.wait(lambda: self.holders() == {"n1"}, timeout)
        if took is None:
            raise AssertionError(f"no election: holders {self.holders()}\n{self.logs()}")
        time.sleep(self.advert)

    def bound_for(self, expect: str | frozenset[str]) -> float:
        """Master_Down_Interval of the node expected to take over + 50 ms (+ KP_CHAOS_SLACK)."""
        if isinstance(expect, frozenset) and len(expect) == 1:
            prio = PRIOS[next(iter(expect))]
        else:
            prio = min(PRIOS.values())
        return mdi(prio, self.advert) + 0.05 + SLACK

    def fault(self, label: str, expect: str | Iterable[str] = ONE, bound: float | None = None,
              nogap: bool = False) -> None:
        """Mark a fault or heal happening now (call it just before injecting it). With `nogap`,
        the VIP must be held by some node at every instant of the window (a handover, not an
        outage), also before the bound."""
        exp: str | frozenset[str] = expect if isinstance(expect, str) else frozenset(expect)
        if bound is None:
            bound = self.bound_for(exp)
        elif bound > 0:
            bound += SLACK
        self.windows.append(Window(label, time.monotonic(), bound, exp, nogap=nogap))

    def hold(self, seconds: float | None = None) -> None:
        """Let the last window run long enough to be judged (its bound + two adverts)."""
        if seconds is None:
            w = self.windows[-1]
            seconds = max(0.0, w.t + w.bound + 2 * self.advert - time.monotonic())
        time.sleep(seconds)

    def partition(self, name: str, *, hears: bool = False) -> None:
        """Drop the node's frames on its bridge port (nftables, bridge family, in the LAN ns).
        With `hears`, only what it sends is dropped: it hears the others, they do not hear it."""
        port = self.ports[name]
        rules = f"add rule bridge kpchaos drops iifname {port} drop\n"
        if not hears:
            rules += f"add rule bridge kpchaos drops oifname {port} drop\n"
        script = ("add table bridge kpchaos\nflush table bridge kpchaos\n"
                  "add chain bridge kpchaos drops { type filter hook forward priority 0 ; }\n" + rules)
        subprocess.run(["ip", "netns", "exec", self.lan, "nft", "-f", "-"], input=script, text=True,
                       check=True, capture_output=True)

    def heal(self) -> None:
        subprocess.run(["ip", "netns", "exec", self.lan, "nft", "delete", "table", "bridge", "kpchaos"],
                       check=False, capture_output=True)

    # -- judging
    def verify(self, final: Iterable[str] = ("n1",), end: float | None = None) -> list[Window]:
        """Judge every window; raise AssertionError listing what broke. Returns the windows."""
        end = time.monotonic() if end is None else end
        tl = self.timeline()
        errors: list[str] = []
        tol = self.advert
        for i, w in enumerate(self.windows):
            w_end = self.windows[i + 1].t if i + 1 < len(self.windows) else end
            self._judge(w, w_end, tl, tol, self.stalled)
            if w.error:
                errors.append(f"{w.label}: {w.error}")
        want = set(final)
        got = self.holders()
        if got != want:
            errors.append(f"end: VIP on {sorted(got)}, expected on {sorted(want)}")
        for name, d in self.daemons.items():
            for p in d.problems():
                errors.append(f"{name}: {p}")
        if errors:
            raise AssertionError("\n".join(errors) + "\n" + self.describe(tl) + "\n" + self.logs())
        return self.windows

    def stalled(self, a: float, b: float) -> float:
        """Seconds of host stall inside [a, b] (0 without the canary)."""
        return 0.0 if self.stallwatch is None else self.stallwatch.stalled(a, b)

    @staticmethod
    def _judge(w: Window, w_end: float, tl: list[tuple[float, frozenset[str]]], tol: float,
               stalled: Callable[[float, float], float] = lambda a, b: 0.0) -> None:
        # the holder sets over [w.t, w_end): the one in force at w.t, then each change
        segs: list[tuple[float, float, frozenset[str]]] = []
        cur = frozenset[str]()
        for t, hs in tl:
            if t <= w.t:
                cur = hs
                continue
            if t >= w_end:
                break
            segs.append((w.t if not segs else segs[-1][1], t, cur))
            cur = hs
        segs.append((w.t if not segs else segs[-1][1], w_end, cur))

        if w.expect == ANY:
            return
        if w.nogap:
            gaps = [(s, e) for s, e, hs in segs if not hs]
            if gaps:
                s, e = max(gaps, key=lambda g: g[1] - g[0] - stalled(g[0], g[1]))
                w.gap = e - s
                if w.gap - stalled(s, e) > GAP_TOL:
                    w.error = (f"no node held the VIP for {e - s:.3f}s (host stall in it"
                               f" {stalled(s, e):.3f}s), from {s - w.t:.3f}s after the mark")
                    return

        def ok(hs: frozenset[str]) -> bool:
            return len(hs) == 1 if w.expect == ONE else hs == w.expect

        if w.nogap:       # a tolerated handover gap counts as the holders it leads to
            merged: list[tuple[float, float, frozenset[str]]] = []
            for k, (s, e, hs) in enumerate(segs):
                if not hs and k + 1 < len(segs) and e - s - stalled(s, e) <= GAP_TOL:
                    segs[k + 1] = (s, segs[k + 1][1], segs[k + 1][2])
                    continue
                merged.append((s, e, hs))
            segs = merged

        # settled: the start of the last run of segments that all satisfy `expect`, where a
        # two-holder overlap shorter than one advert counts as satisfying (a handover)
        settled: float | None = None
        overlap = 0.0
        for s, e, hs in segs:
            good = ok(hs) or (w.expect == ONE and len(hs) == 2 and e - s - stalled(s, e) < tol)
            if good:
                if settled is None:
                    settled = s
                if not ok(hs):
                    overlap = max(overlap, e - s)
            else:
                settled, overlap = None, 0.0
        if settled is None:
            w.error = f"holders never matched {_fmt(w.expect)} (last {sorted(segs[-1][2])})"
            return
        w.took = settled - w.t
        w.overlap = overlap
        w.stall = stalled(w.t, settled)
        if w.took - w.stall > w.bound:
            w.error = (f"holders matched {_fmt(w.expect)} only after {w.took:.3f}s (host stall in"
                       f" it {w.stall:.3f}s) > bound {w.bound:.3f}s")

    def describe(self, tl: list[tuple[float, frozenset[str]]] | None = None) -> str:
        tl = tl if tl is not None else self.timeline()
        t0 = self.windows[0].t if self.windows else 0.0
        out = ["VIP holders (s from first mark):"]
        out += [f"  {t - t0:8.3f} {sorted(hs)}" for t, hs in tl if t]
        out += ["marks:"] + [f"  {w.t - t0:8.3f} {w.label} expect={_fmt(w.expect)} bound={w.bound:.3f}"
                             f" took={'-' if w.took is None else f'{w.took:.3f}'} stall={w.stall:.3f}"
                             for w in self.windows]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def logs(self) -> str:
        return "\n".join(f"--- {n} log tail:\n{d.log(2500)}" for n, d in self.daemons.items())

    def figures(self) -> dict[str, float]:
        """label -> took (s), for bench output."""
        out = {w.label: (w.took if w.took is not None else float("nan")) for w in self.windows}
        for w in self.windows:
            if w.gap:
                out[f"{w.label} (handover gap)"] = w.gap
            if w.overlap:
                out[f"{w.label} (overlap)"] = w.overlap
            if w.stall:
                out[f"{w.label} (host stall)"] = w.stall
        return out

    def close(self) -> None:
        if self.stallwatch is not None:
            self.stallwatch.stop()
        self.heal()
        for d in self.daemons.values():
            d.signal_all(signal.SIGCONT)
        self.lab.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(expect: str | frozenset[str]) -> str:
    return expect if isinstance(expect, str) else "{" + ",".join(sorted(expect)) + "}"
