"""Differential behaviour scenarios: keepalived 2.2.7 and keepalived-py driven by one event script.

A scenario is a small configuration for the subject (node A), optionally one for a peer (node
B, always keepalived 2.2.7 so only the subject changes between the two runs) and a list of steps
(start, peer dies, script fails, link down, reload, SIGTERM, child killed, ...). `run()` plays it
on a fresh LAN (tests/netlab.py) once per implementation and records, on independent channels:

  fifo      the notify_fifo lines of A and B per instance / group, in order ("MASTER 150")
  notify    the notify script calls of A (a multiset: the scripts run concurrently)
  vip       each virtual address's presence on A and B over time (`ip monitor address`)
  wire      the priorities A's and B's adverts carry, per VRID (a packet socket on the LAN's
            bridge ports)
  check:*   snapshots at named checkpoints (instance states, addresses, last advert priority,
            whether the subject still runs)
  exit      the subject's exit status after the final SIGTERM

`compare()` reduces each recording to sequences with consecutive repeats collapsed and final
values (so timing jitter does not matter) and lists every key whose values differ. A scenario's
`allow` maps key patterns to the reason a difference there is intended: where keepalived itself
is wrong (FAULT when the proc connector is refused in a namespace, an outage when the VRRP child
is killed, exiting on a broken reload). Such a scenario also lists in `expect_py` what
keepalived-py must show on those keys instead. Any other difference is a failure.

Config templates use %DIR% (the run's own directory), %PROC% (the tracked process name, unique
per run because the two runs may share the pid namespace at once) and %NOTIFY% / %FIFO%.

Timing rule for scenario authors: a checkpoint waits for the expected follow-on event (`until`,
`peer_master`) and then settles >= 2 s, so that it never races a Master_Down_Interval (3.4-3.6 s
at advert_int 1) nor the 1.4 s window that decides whether a node "is advertising".

By hand (as root): KP_SCEN_VERBOSE=1 python3 tests/conformance/scenarios.py NAME... plays the
named scenarios (all without names) and prints the report and both reduced recordings.
"""
from __future__ import annotations

import fnmatch
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netlab import Lab, Node

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
IMPLS = ("keepalived", "keepalived-py")
VIP = "192.0.2.100"
A_IP, B_IP = "192.0.2.1", "192.0.2.2"
ADVERT = 1.0
WINDOW = 1.4 * ADVERT           # a checkpoint counts a node as advertising if it sent this recently


# ----------------------------------------------------------------------------- config helpers

def globals_block(extra: str = "") -> str:
    return f"""global_defs {{
  enable_script_security
  script_user root
  notify_fifo %FIFO%
  {extra}
}}
"""


def instance(prio: int, *, name: str = "VI_1", vrid: int = 51, state: str = "BACKUP",
             vips: tuple[str, ...] = (f"{VIP}/24",), body: str = "", iface: str = "eth0",
             advert: float = ADVERT, notify: bool = True) -> str:
    addrs = "\n    ".join(vips)
    note = "notify %NOTIFY%" if notify else ""
    return f"""vrrp_instance {name} {{
  state {state}
  interface {iface}
  virtual_router_id {vrid}
  priority {prio}
  advert_int {advert:g}
  {note}
  {body}
  virtual_ipaddress {{
    {addrs}
  }}
}}
"""


def conf(*instances: str, top: str = "", glob: str = "") -> str:
    return globals_block(glob) + top + "".join(instances)


def peer(prio: int = 100, **kw: Any) -> str:
    """The fixed peer: keepalived 2.2.7 on B."""
    return conf(instance(prio, **kw))


# ----------------------------------------------------------------------------- steps

class Step:
    label = ""

    def run(self, r: Run) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"


@dataclass(repr=False)
class Do(Step):
    """Any action on the run (node A's namespace is r.a, B's r.b)."""
    fn: Callable[[Run], object]
    label: str = ""

    def run(self, r: Run) -> None:
        self.fn(r)


def start() -> Step:
    return Do(lambda r: r.start_subject(), "start")


def start_peer() -> Step:
    return Do(lambda r: r.start_peer(), "start peer")


def settle(seconds: float) -> Step:
    return Do(lambda r: time.sleep(seconds), f"settle {seconds}")


def until(node: str, state: str, timeout: float = 8.0, inst: str = "VI_1") -> Step:
    """Wait (at most `timeout`) until `inst` on node 'a' or 'b' last reported `state`."""
    return Do(lambda r: r.wait_state(node, inst, state, timeout), f"until {node} {inst} {state}")


def started(timeout: float = 10.0) -> Step:
    """Wait until the subject reported its first state (start-up time varies under load)."""
    return Do(lambda r: r.wait_first(timeout), "started")


def peer_master(timeout: float = 6.0, inst: str = "VI_1") -> Step:
    """Wait for the peer to take over (after a Master_Down_Interval without a priority 0 advert)."""
    return until("b", "MASTER", timeout, inst)


def check(label: str) -> Step:
    return Do(lambda r: r.checkpoint(label), f"check {label}")


def kill_peer(sig: int = signal.SIGKILL) -> Step:
    return Do(lambda r: r.stop_peer(sig), f"peer {signal.Signals(sig).name}")


def sh_a(*cmd: str) -> Step:
    return Do(lambda r: r.a.run(*cmd, check=False), " ".join(cmd))


def flag(name: str, present: bool) -> Step:
    """Create or remove %DIR%/name (vrrp_scripts test for it)."""
    def fn(r: Run) -> None:
        p = r.dir / name
        if present:
            p.write_text("")
        else:
            p.unlink(missing_ok=True)
    return Do(fn, f"flag {name} {'on' if present else 'off'}")


def write(name: str, text: str) -> Step:
    def fn(r: Run) -> None:
        tmp = r.dir / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, r.dir / name)
    return Do(fn, f"write {name}={text.strip()!r}")


def proc(up: bool) -> Step:
    return Do(lambda r: r.tracked_process(up), f"process {'starts' if up else 'dies'}")


def reload(new_conf: str | None = None) -> Step:
    return Do(lambda r: r.reload(new_conf), "reload")


def signal_subject(sig: int) -> Step:
    return Do(lambda r: r.signal_parent(sig), f"subject {signal.Signals(sig).name}")


def kill_subject() -> Step:
    """The subject crashes as a whole (every process SIGKILLed); what it installed stays."""
    return Do(lambda r: r.kill_subject(), "subject SIGKILL (all processes)")


def kill_child() -> Step:
    return Do(lambda r: r.kill_vrrp_child(), "VRRP child SIGKILL")


@dataclass
class Scenario:
    name: str
    subject: str
    steps: list[Step]
    peer: str | None = None
    allow: dict[str, str] = field(default_factory=dict)          # key glob -> why it may differ
    expect_py: dict[str, object] = field(default_factory=dict)   # key -> keepalived-py's value
    v6: bool = False
    flags: tuple[str, ...] = ()              # files created before start
    files: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)  # executable /bin/sh scripts in %DIR%
    dummy: bool = False                      # an extra interface "trk0" on A (a veth)
    proc_running: bool = False               # the tracked process runs before start
    term: bool = True                        # end with SIGTERM to the subject (recorded)


# ----------------------------------------------------------------------------- recorders

SNIFFER = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    if addr[2] == socket.PACKET_OUTGOING or not addr[0].startswith("p"):
        continue                      # each frame once: as it enters the bridge from a node
    et = struct.unpack("!H", data[12:14])[0]
    if et == 0x0800 and data[23] == 112:
        off = 14 + (data[14] & 15) * 4
    elif et == 0x86DD and data[20] == 112:
        off = 54
    else:
        continue
    v = data[off:off + 3]
    if len(v) == 3:
        print(f"{time.monotonic():.3f} {data[6:12].hex()} {v[0] >> 4} {v[1]} {v[2]}", flush=True)
"""


class LineReader:
    """A subprocess whose stdout lines are kept with the monotonic time they were read."""

    def __init__(self, node_or_ns: Node | str, cmd: list[str], lab: Lab) -> None:
        ns = node_or_ns if isinstance(node_or_ns, str) else node_or_ns.ns
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        lab.procs.append(self.proc)  # type: ignore[arg-type]
        self.lines: list[tuple[float, str]] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
                continue
            self.lines.append((time.monotonic(), line.rstrip("\n")))


class FifoReader:
    """Reads a notify FIFO; holding it open read-write, the reader never sees end-of-file."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.lines: list[tuple[float, str]] = []
        self.stop = False
        self.buf = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                self.buf += os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append((time.monotonic(), line.decode(errors="replace")))

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        os.close(self.fd)


def fifo_states(lines: list[tuple[float, str]]) -> dict[str, str]:
    """The last state each instance/group reported."""
    last: dict[str, str] = {}
    for _, ln in lines:
        parts = ln.split()
        if len(parts) >= 3 and parts[0] in ("INSTANCE", "GROUP") and parts[2] != "MASTER_PRIORITY":
            last[f"{parts[0]} {parts[1].strip(chr(34))}"] = parts[2]
    return last


# ----------------------------------------------------------------------------- one run

class Run:
    """One implementation playing one scenario on its own LAN."""

    def __init__(self, sc: Scenario, impl: str, base: Path, tag: str) -> None:
        self.sc, self.impl = sc, impl
        self.dir = base / impl
        self.dir.mkdir(parents=True)
        os.chmod(self.dir, 0o755)
        (self.dir / "b").mkdir()
        os.chmod(self.dir / "b", 0o755)
        self.lab = Lab(tag=tag)
        self.procname = f"kps{secrets.token_hex(3)}"
        self.tracked: list[subprocess.Popen[bytes]] = []
        self.subject: subprocess.Popen[bytes] | None = None
        self.peer_proc: subprocess.Popen[bytes] | None = None
        self.checks: dict[str, dict[str, object]] = {}
        self.steps_done: list[str] = []
        self.exit: object = "running"
        self.notes: list[str] = []                  # harness events worth showing on failure

    # -- setup
    def fill(self, text: str, d: Path) -> str:
        return (text.replace("%DIR%", str(self.dir)).replace("%PROC%", self.procname)
                .replace("%NOTIFY%", str(d / "notify.sh")).replace("%FIFO%", str(d / "fifo")))

    def setup(self) -> None:
        sc = self.sc
        lan = self.lab.lan()
        self.lan_ns = lan
        a6 = ("2001:db8::1/64",) if sc.v6 else ()
        b6 = ("2001:db8::2/64",) if sc.v6 else ()
        self.a = self.lab.node("a", lan, f"{A_IP}/24", *a6)
        self.b = self.lab.node("b", lan, f"{B_IP}/24", *b6)
        if sc.dummy:
            self.a.run("ip", "link", "add", "trk0", "type", "veth", "peer", "name", "trk1")
            self.a.run("ip", "link", "set", "trk1", "up")
            self.a.run("ip", "link", "set", "trk0", "up")
        for d in (self.dir, self.dir / "b"):
            n = d / "notify.sh"
            n.write_text(f'#!/bin/sh\necho "$*" >> {d}/notify.log\n')
            n.chmod(0o755)
            (d / "notify.log").write_text("")
        self.fifo_a = FifoReader(self.dir / "fifo")
        self.fifo_b = FifoReader(self.dir / "b" / "fifo")
        for f in sc.flags:
            (self.dir / f).write_text("")
        for name, text in sc.files.items():
            (self.dir / name).write_text(text)
        for name, text in sc.scripts.items():
            (self.dir / name).write_text("#!/bin/sh\n" + self.fill(text, self.dir) + "\n")
            (self.dir / name).chmod(0o755)
        exe = self.dir / self.procname
        shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
        if sc.proc_running:
            self.tracked_process(True)
        (self.dir / "keepalived.conf").write_text(self.fill(sc.subject, self.dir))
        if sc.peer is not None:
            (self.dir / "b" / "keepalived.conf").write_text(self.fill(sc.peer, self.dir / "b"))
        self.vip_a = LineReader(self.a, ["ip", "-o", "monitor", "address"], self.lab)
        self.vip_b = LineReader(self.b, ["ip", "-o", "monitor", "address"], self.lab)
        self.wire = LineReader(lan, [sys.executable, "-c", SNIFFER], self.lab)
        self.wire.ready.wait(10)
        self.addr0 = {"a": self.addrs(self.a), "b": self.addrs(self.b)}
        self.macs = {self.mac(self.a): "a", self.mac(self.b): "b"}
        time.sleep(0.2)                                  # ip monitor subscribed

    def mac(self, node: Node) -> str:
        out = node.run("ip", "-j", "link", "show", "dev", node.ifname).stdout
        return str(json.loads(out)[0]["address"]).replace(":", "")

    def who(self, mac: str) -> str:
        """The node an advert came from, by its source MAC (link-local v6 sources are random)."""
        return self.macs.get(mac, mac)

    def who_line(self, ln: str) -> str:
        parts = ln.split()
        if len(parts) == 5:
            parts[1] = self.who(parts[1])
        return " ".join(parts)

    def addrs(self, node: Node) -> list[str]:
        try:
            out = node.run("ip", "-j", "addr", "show", "dev", node.ifname, check=False).stdout
            data = json.loads(out or "[]")
        except (subprocess.SubprocessError, ValueError):
            return []
        return sorted(a["local"] for i in data for a in i.get("addr_info", [])
                      if a["local"] not in (A_IP, B_IP) and not a["local"].startswith("fe80")
                      and a["local"] not in ("2001:db8::1", "2001:db8::2"))

    def daemon_cmd(self, impl: str, d: Path) -> list[str]:
        pid = ["-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"), "-b", str(d / "b.pid")]
        if impl == "keepalived":
            return [KEEPALIVED, "-n", "-l", "-D", "-f", str(d / "keepalived.conf"), *pid]
        return [sys.executable, "-m", "keepalived_py", "-n", "-l", "-D", "-f",
                str(d / "keepalived.conf"), *pid]

    # -- actions
    def start_subject(self) -> None:
        self.subject = self.a.popen(self.daemon_cmd(self.impl, self.dir), stdout=subprocess.DEVNULL,
                                    stderr=open(self.dir / "log", "ab"))
        self.exit = "running"

    def start_peer(self) -> None:
        """Start the fixed peer and wait for its first report: the peer is part of the test bed,
        so one that died at start-up is started again once (and noted), never left out."""
        d = self.dir / "b"
        seen = len(self.fifo_b.lines)
        for attempt in range(2):
            self.peer_proc = self.b.popen(self.daemon_cmd("keepalived", d), stdout=subprocess.DEVNULL,
                                          stderr=open(d / "log", "ab"))
            t0 = time.monotonic()
            while time.monotonic() - t0 < 6 and len(self.fifo_b.lines) == seen:
                if self.peer_proc.poll() is not None:
                    break
                time.sleep(0.05)
            if len(self.fifo_b.lines) > seen:
                return
            self.notes.append(f"peer start {attempt + 1}: no report after "
                              f"{time.monotonic() - t0:.1f}s, exit {self.peer_proc.poll()}")
            if self.peer_proc.poll() is None:
                return

    def stop_peer(self, sig: int) -> None:
        p = self.peer_proc
        if p is None or p.poll() is not None:
            return
        if sig == signal.SIGKILL:                    # a crashed host: every process at once
            for f in ("v.pid", "c.pid", "p.pid"):
                try:
                    os.kill(int((self.dir / "b" / f).read_text()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        if sig == signal.SIGKILL:                    # the host is gone: so are its addresses
            self.b.run("ip", "addr", "flush", "dev", "eth0", "scope", "global", check=False)
            self.b.run("ip", "addr", "add", f"{B_IP}/24", "dev", "eth0", check=False)
            if self.sc.v6:
                self.b.run("ip", "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad", check=False)

    def signal_parent(self, sig: int) -> None:
        try:
            os.kill(int((self.dir / "p.pid").read_text()), sig)
        except (OSError, ValueError):
            if self.subject is not None and self.subject.poll() is None:
                self.subject.send_signal(sig)

    def reload(self, new_conf: str | None) -> None:
        if new_conf is not None:
            (self.dir / "keepalived.conf").write_text(self.fill(new_conf, self.dir))
        self.signal_parent(signal.SIGHUP)

    def kill_subject(self) -> None:
        for f in ("v.pid", "c.pid", "p.pid"):
            try:
                os.kill(int((self.dir / f).read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        if self.subject is not None:
            self.subject.wait(10)
        for f in ("v.pid", "c.pid", "p.pid"):
            (self.dir / f).unlink(missing_ok=True)

    def kill_parent(self) -> None:
        try:
            os.kill(int((self.dir / "p.pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def kill_vrrp_child(self) -> None:
        try:
            os.kill(int((self.dir / "v.pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def tracked_process(self, up: bool) -> None:
        if up:
            p = self.a.popen([str(self.dir / self.procname), "600"])
            self.tracked.append(p)
        else:
            for p in self.tracked:
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
            self.tracked.clear()

    def wait_first(self, timeout: float) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout and not self.fifo_a.lines:
            time.sleep(0.05)

    def wait_state(self, node: str, inst: str, state: str, timeout: float) -> None:
        fifo = self.fifo_a if node == "a" else self.fifo_b
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if fifo_states(fifo.lines).get(f"INSTANCE {inst}") == state:
                return
            time.sleep(0.05)

    def checkpoint(self, label: str) -> None:
        now = time.monotonic()
        last: dict[str, str] = {}
        for t, ln in self.wire.lines:
            parts = ln.split()
            if now - t <= WINDOW and len(parts) == 5:
                last[f"{self.who(parts[1])}.vrid{parts[3]}"] = parts[4]
        self.checks[label] = {
            "a.states": fifo_states(self.fifo_a.lines),
            "b.states": fifo_states(self.fifo_b.lines),
            "a.addrs": self.addrs(self.a),
            "b.addrs": self.addrs(self.b),
            "wire.last": last,
            "a.running": self.subject is not None and self.subject.poll() is None,
        }

    # -- the whole play
    def play(self) -> Recording:
        try:
            self.setup()
            for step in self.sc.steps:
                step.run(self)
                self.steps_done.append(step.label)
            if self.sc.term:
                self.checkpoint("end")
                if self.subject is not None and self.subject.poll() is None:
                    self.signal_parent(signal.SIGTERM)
                    try:
                        self.exit = self.subject.wait(10)
                    except subprocess.TimeoutExpired:
                        self.exit = "hangs after SIGTERM"
                elif self.subject is not None:
                    self.exit = f"had exited ({self.subject.returncode})"
                time.sleep(1.2)
            return self.recording()
        finally:
            self.close()

    def close(self) -> None:
        for p in self.tracked:
            if p.poll() is None:
                p.kill()
        for f in (getattr(self, "fifo_a", None), getattr(self, "fifo_b", None)):
            if f is not None:
                f.close()
        self.lab.close()

    def recording(self) -> Recording:
        notes = sorted(ln for ln in (self.dir / "notify.log").read_text().splitlines() if ln)
        return Recording(
            impl=self.impl,
            fifo_a=[ln for _, ln in self.fifo_a.lines],
            fifo_b=[ln for _, ln in self.fifo_b.lines],
            notify=notes,
            vip_a=self.vip_a.lines, vip_b=self.vip_b.lines,
            wire=[self.who_line(ln) for _, ln in self.wire.lines],
            checks=self.checks,
            exit=self.exit,
            addr0=self.addr0,
            log=read_log(self.dir / "log"),
            peer_log=read_log(self.dir / "b" / "log"),
            notes=self.notes,
        )


# ----------------------------------------------------------------------------- reduce, compare

def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Recording:
    impl: str
    fifo_a: list[str]
    fifo_b: list[str]
    notify: list[str]
    vip_a: list[tuple[float, str]]
    vip_b: list[tuple[float, str]]
    wire: list[str]
    checks: dict[str, dict[str, object]]
    exit: object
    addr0: dict[str, list[str]]
    log: str = ""
    peer_log: str = ""
    notes: list[str] = field(default_factory=list)

    def reduced(self) -> dict[str, object]:
        out: dict[str, object] = {
            "a.notify": self.notify,
            "a.vip": vip_timeline(self.vip_a, self.addr0["a"]),
            "b.vip": vip_timeline(self.vip_b, self.addr0["b"]),
            "exit": self.exit,
        }
        for node, lines in (("a", self.fifo_a), ("b", self.fifo_b)):
            for name, seq in fifo_sequences(lines).items():
                out[f"{node}.fifo.{name}"] = seq
        for src, seq in wire_sequences(self.wire).items():
            out[f"wire.{src}"] = seq
        for label, snap in self.checks.items():
            for k, v in snap.items():
                out[f"check:{label}.{k}"] = v
        return out


def fifo_sequences(lines: list[str]) -> dict[str, list[str]]:
    """Per instance ("VI_1") or group ("group G1"): the collapsed 'STATE PRIORITY' sequence.
    Split by name because the interleaving of simultaneous transitions is not ordered."""
    seqs: dict[str, list[str]] = {}
    for ln in lines:
        parts = ln.split()
        if len(parts) < 4 or parts[0] not in ("INSTANCE", "GROUP"):
            seqs.setdefault("other", []).append(ln)
            continue
        name = parts[1].strip('"')
        key = name if parts[0] == "INSTANCE" else f"group {name}"
        seqs.setdefault(key, []).append(" ".join(parts[2:]))
    return {k: collapse(v) for k, v in seqs.items()}


def collapse(seq: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


def vip_timeline(events: list[tuple[float, str]], initial: list[str]) -> dict[str, list[str]]:
    """Per address (beyond the node's own), the collapsed sequence of present (+) / absent (-)."""
    seqs: dict[str, list[str]] = {a: ["+"] for a in initial}
    for _, ln in events:
        parts = ln.split()
        deleted = parts[:1] == ["Deleted"]
        if deleted:
            parts = parts[1:]
        if len(parts) < 4 or parts[2] not in ("inet", "inet6"):
            continue
        addr = parts[3].split("/")[0]
        if addr in (A_IP, B_IP, "2001:db8::1", "2001:db8::2") or addr.startswith("fe80"):
            continue
        s = seqs.setdefault(addr, ["-"])
        mark = "-" if deleted else "+"
        if s[-1] != mark:
            s.append(mark)
    return {a: s for a, s in sorted(seqs.items())}


def wire_sequences(lines: list[str]) -> dict[str, list[str]]:
    """Per 'node vrid N': the collapsed advert priorities (silences are not compared: how long
    one lasts is timing; the state and address channels show why a node stopped)."""
    seqs: dict[str, list[str]] = {}
    for ln in lines:
        parts = ln.split()
        if len(parts) != 5:
            continue
        who, ver, vrid, prio = parts[1], parts[2], parts[3], parts[4]
        key = f"{who}.v{ver}.vrid{vrid}"
        s = seqs.setdefault(key, [])
        if not s or s[-1] != prio:
            s.append(prio)
    return seqs


@dataclass
class Diff:
    key: str
    keepalived: object
    py: object
    reason: str | None           # the allow-list's reason when the difference is intended
    expected: object = None      # what keepalived-py must show (from expect_py), if given

    @property
    def ok(self) -> bool:
        return self.reason is not None


def allowed(sc: Scenario, key: str) -> str | None:
    for pattern, reason in sc.allow.items():
        if fnmatch.fnmatchcase(key, pattern):
            return reason
    return None


def compare(sc: Scenario, k: Recording, p: Recording) -> list[Diff]:
    """Every key whose reduced values differ, plus every expect_py key keepalived-py misses."""
    rk, rp = k.reduced(), p.reduced()
    diffs = []
    for key in sorted(set(rk) | set(rp)):
        vk, vp = rk.get(key, "<absent>"), rp.get(key, "<absent>")
        if vk != vp:
            diffs.append(Diff(key, vk, vp, allowed(sc, key)))
    for key, want in sc.expect_py.items():
        got = rp.get(key, "<absent>")
        if got != want:
            diffs.append(Diff(f"expect_py {key}", rk.get(key, "<absent>"), got, None, want))
    return diffs


def report(sc: Scenario, diffs: list[Diff], k: Recording, p: Recording) -> str:
    lines = [f"scenario {sc.name}: {len(diffs)} difference(s), {len(failures(sc, diffs))} not allowed"]
    for r in (k, p):
        lines += [f"  (harness, {r.impl} run) {n}" for n in r.notes]
    for d in diffs:
        lines.append(f"  [{'allowed' if d.ok else 'DIFFERS'}] {d.key}")
        lines.append(f"      keepalived   : {d.keepalived}")
        lines.append(f"      keepalived-py: {d.py}")
        if d.expected is not None:
            lines.append(f"      keepalived-py must show: {d.expected}")
        if d.reason is not None:
            lines.append(f"      reason: {d.reason}")
    return "\n".join(lines)


def failures(sc: Scenario, diffs: list[Diff]) -> list[Diff]:
    return [d for d in diffs if not d.ok]


def run(sc: Scenario, base: Path, parallel: bool = True) -> tuple[Recording, Recording]:
    """Play the scenario with keepalived and with keepalived-py (at once unless parallel=False)."""
    results: dict[str, Recording | BaseException] = {}
    idx = secrets.token_hex(2)

    def one(impl: str) -> None:
        try:
            results[impl] = Run(sc, impl, base, f"{idx}{impl[-1]}").play()
        except BaseException as e:
            results[impl] = e

    if parallel:
        threads = [threading.Thread(target=one, args=(impl,)) for impl in IMPLS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for impl in IMPLS:
            one(impl)
    for impl in IMPLS:
        r = results[impl]
        if isinstance(r, BaseException):
            raise RuntimeError(f"{sc.name}: the {impl} run failed: {r!r}") from r
    return results["keepalived"], results["keepalived-py"]  # type: ignore[return-value]


# ----------------------------------------------------------------------------- the catalogue

def script_block(name: str = "chk", *, weight: int | None = None, test: str = "ok", interval: float = 1,
                 fall: int = 1, rise: int = 1, extra: str = "") -> str:
    w = "" if weight is None else f"weight {weight}"
    return f"""vrrp_script {name} {{
  script "/usr/bin/test -e %DIR%/{test}"
  interval {interval:g}
  fall {fall}
  rise {rise}
  {w}
  {extra}
}}
"""


def elected(peer_first: bool = False, settle_s: float = 1.5) -> list[Step]:
    """A then B started; each has settled (A master when its priority is the higher)."""
    if peer_first:
        return [start_peer(), until("b", "MASTER"), start(), until("a", "BACKUP"), settle(settle_s),
                check("elected")]
    return [start(), until("a", "MASTER"), start_peer(), until("b", "BACKUP"), settle(settle_s),
            check("elected")]


SILENT_MASTER = ("keepalived 2.2.7's master re-arms its advert timer on every packet it reads, "
                 "even one it discards (vrrp_dispatcher_read), so a misconfigured peer's adverts "
                 "(wrong password, other addresses) silence it: only the wrong peer is left on the "
                 "wire. RFC 5798 §6.4.3: a master advertises every Advertisement_Interval; "
                 "keepalived-py keeps advertising")
PROC_FAULT = ("keepalived 2.2.7 cannot open the proc connector inside a network namespace "
              "(ECONNREFUSED) and keeps every instance tracking a process in FAULT; keepalived-py "
              "falls back to polling /proc and tracks the process")
CHILD_KILL = ("keepalived 2.2.7's respawned VRRP child starts over in BACKUP, dropping the VIP "
              "until it wins again (an outage); keepalived-py's new child resumes mastership")
BROKEN_RELOAD = ("keepalived 2.2.7 exits on a reload whose configuration does not parse; "
                 "keepalived-py keeps running on the old configuration")

S = Scenario


CATALOGUE: list[Scenario] = [
    # --- start-up, alone
    S("solo_backup_start", conf(instance(150)),
      [start(), until("a", "MASTER"), settle(1)]),
    S("solo_state_master_255", conf(instance(255, state="MASTER")),
      [start(), started(), settle(1), check("first+1"), settle(0.5)]),
    S("solo_state_master_prio150", conf(instance(150, state="MASTER")),
      [start(), started(), settle(2), check("first+2"), until("a", "MASTER"), settle(1)]),
    S("solo_state_backup_255", conf(instance(255)),
      [start(), started(), settle(2), check("first+2"), until("a", "MASTER"), settle(1)]),
    S("solo_two_instances_excluded_vips",
      conf(instance(150, vips=(f"{VIP}/24", "192.0.2.101/24")),
           instance(120, name="VI_2", vrid=52, vips=("192.0.2.102/24",),
                    body="virtual_ipaddress_excluded {\n    198.51.100.7/24\n  }")),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), settle(1)]),
    # --- elections with a keepalived peer
    S("pair_subject_wins", conf(instance(150)), elected(), peer=peer(100)),
    S("pair_equal_priority_higher_ip_wins", conf(instance(100)),
      [start_peer(), until("b", "MASTER"), start(), until("a", "BACKUP"), settle(2), check("stable")],
      peer=peer(100)),
    S("pair_subject_preempts_running_peer", conf(instance(150)),
      [start_peer(), until("b", "MASTER"), start(), until("a", "MASTER"), settle(1.5)],
      peer=peer(100)),
    S("pair_owner_255_preempts_at_once", conf(instance(255, state="MASTER")),
      [start_peer(), until("b", "MASTER"), start(), until("a", "MASTER", 4), settle(1.5)],
      peer=peer(100)),
    S("pair_peer_dies_subject_takes_over", conf(instance(100)),
      [*elected(peer_first=True), kill_peer(), until("a", "MASTER"), settle(2), check("took over"),
       start_peer(), until("a", "BACKUP", 10), settle(1.5)],
      peer=peer(150)),
    S("pair_peer_stops_gracefully", conf(instance(100)),
      [*elected(peer_first=True), kill_peer(signal.SIGTERM), until("a", "MASTER", 4), settle(1.5)],
      peer=peer(150)),
    S("pair_nopreempt", conf(instance(150, body="nopreempt")),
      [*elected(peer_first=True), settle(2), check("still backup"), kill_peer(signal.SIGTERM),
       until("a", "MASTER", 5), settle(1)],
      peer=peer(100)),
    S("pair_preempt_delay", conf(instance(150, body="preempt_delay 3")),
      [start_peer(), until("b", "MASTER"), start(), until("a", "BACKUP"), settle(1), check("delayed"),
       until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100)),
    # --- vrrp_script
    S("script_weight_moves_master", conf(instance(150, body="track_script {\n    chk\n  }"),
                                         top=script_block(weight=-60)),
      [*elected(), flag("ok", False), until("a", "BACKUP"), settle(2), check("failed"),
       flag("ok", True), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), flags=("ok",)),
    S("script_no_weight_faults", conf(instance(150, body="track_script {\n    chk\n  }"),
                                      top=script_block()),
      [*elected(), flag("ok", False), until("a", "FAULT"), peer_master(), settle(2), check("failed"),
       flag("ok", True), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), flags=("ok",)),
    S("script_positive_weight", conf(instance(90, body="track_script {\n    chk\n  }"),
                                     top=script_block(weight=20)),
      [*elected(), flag("ok", False), until("a", "BACKUP"), settle(2), check("failed"),
       flag("ok", True), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), flags=("ok",)),
    S("script_fails_at_start", conf(instance(150, body="track_script {\n    chk\n  }"),
                                    top=script_block()),
      [start(), started(), settle(1.5), check("failing"), flag("ok", True), until("a", "MASTER", 8),
       settle(1)]),
    S("script_fall_rise_counts", conf(instance(150, body="track_script {\n    chk\n  }"),
                                      top=script_block(weight=-60, fall=2, rise=2)),
      [*elected(), flag("ok", False), until("a", "BACKUP", 8), settle(1), flag("ok", True),
       until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100), flags=("ok",)),
    # --- vrrp_track_process
    S("process_weight_moves_master",
      conf(instance(150, body="track_process {\n    tp\n  }"),
           top="vrrp_track_process tp {\n  process %PROC%\n  weight -60\n  delay 0\n}\n"),
      [*elected(), proc(False), until("a", "BACKUP", 6), settle(2), check("died"), proc(True),
       until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100), proc_running=True, allow={"*": PROC_FAULT},
      expect_py={"a.fifo.VI_1": ["BACKUP 150", "MASTER 150", "BACKUP 90", "MASTER 150", "STOP 150"],
                 "wire.a.v2.vrid51": ["150", "90", "150", "0"],
                 "check:died.a.states": {"INSTANCE VI_1": "BACKUP"},
                 "check:died.b.states": {"INSTANCE VI_1": "MASTER"},
                 "check:end.a.addrs": [VIP]}),
    S("process_no_weight_faults",
      conf(instance(150, body="track_process {\n    tp\n  }"),
           top="vrrp_track_process tp {\n  process %PROC%\n  delay 0\n}\n"),
      [*elected(), proc(False), until("a", "FAULT", 6), peer_master(), settle(2), check("died"), proc(True),
       until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100), proc_running=True, allow={"*": PROC_FAULT},
      expect_py={"a.fifo.VI_1": ["BACKUP 150", "MASTER 150", "FAULT 150", "BACKUP 150", "MASTER 150",
                                 "STOP 150"],
                 # master, priority 0 going FAULT, master again, priority 0 at the stop
                 "wire.a.v2.vrid51": ["150", "0", "150", "0"],
                 "check:died.a.states": {"INSTANCE VI_1": "FAULT"},
                 "check:died.b.states": {"INSTANCE VI_1": "MASTER"},
                 "check:end.a.addrs": [VIP]}),
    # --- vrrp_track_file
    S("track_file_weight_moves_master",
      conf(instance(150, body="track_file {\n    tf\n  }"),
           top="vrrp_track_file tf {\n  file %DIR%/tf\n  weight 1\n}\n"),
      [*elected(), write("tf", "-60\n"), until("a", "BACKUP"), settle(2), check("lowered"),
       write("tf", "0\n"), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), files={"tf": "0\n"}),
    S("track_file_no_weight_faults",
      conf(instance(150, body="track_file {\n    tf weight 0\n  }"),
           top="vrrp_track_file tf {\n  file %DIR%/tf\n}\n"),
      [*elected(), write("tf", "3\n"), until("a", "FAULT"), peer_master(), settle(2), check("faulted"),
       write("tf", "0\n"), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), files={"tf": "0\n"}),
    # --- interfaces
    S("track_interface_down_faults",
      conf(instance(150, body="track_interface {\n    trk0\n  }")),
      [*elected(), sh_a("ip", "link", "set", "trk0", "down"), until("a", "FAULT"),
       peer_master(), settle(2), check("down"), sh_a("ip", "link", "set", "trk0", "up"),
       until("a", "MASTER"), settle(1.5)],
      peer=peer(100), dummy=True),
    S("track_interface_weight",
      conf(instance(150, body="track_interface {\n    trk0 weight -60\n  }")),
      [*elected(), sh_a("ip", "link", "set", "trk0", "down"), until("a", "BACKUP"), settle(2),
       check("down"), sh_a("ip", "link", "set", "trk0", "up"), until("a", "MASTER"), settle(1.5)],
      peer=peer(100), dummy=True),
    S("link_down_up", conf(instance(150)),
      [*elected(), sh_a("ip", "link", "set", "eth0", "down"), until("a", "FAULT"), peer_master(),
       settle(2), check("down"), sh_a("ip", "link", "set", "eth0", "up"), until("a", "MASTER", 10),
       settle(1.5)],
      peer=peer(100)),
    S("vip_deleted_by_hand", conf(instance(150)),
      [*elected(), sh_a("ip", "addr", "del", f"{VIP}/24", "dev", "eth0"), until("a", "BACKUP"),
       until("a", "MASTER", 10), settle(1.5)],
      peer=peer(100)),
    # --- reloads
    S("reload_unchanged", conf(instance(150)),
      [*elected(), reload(), settle(3), check("reloaded")],
      peer=peer(100)),
    # alone: a peer whose VIP set differs discards the adverts and takes over too (vip_set_mismatch)
    S("reload_adds_and_removes_vip", conf(instance(150)),
      [start(), until("a", "MASTER"), settle(1),
       reload(conf(instance(150, vips=(f"{VIP}/24", "192.0.2.101/24")))), settle(2.5), check("added"),
       reload(conf(instance(150, vips=("192.0.2.101/24",)))), settle(2.5)]),
    S("reload_lowers_priority", conf(instance(150)),
      [*elected(), reload(conf(instance(50))), until("a", "BACKUP", 8), settle(2), check("lowered"),
       reload(conf(instance(150))), until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100)),
    S("reload_adds_and_removes_instance", conf(instance(150)),
      [*elected(), reload(conf(instance(150), instance(150, name="VI_2", vrid=52,
                                                       vips=("192.0.2.102/24",)))),
       until("a", "MASTER", 8, inst="VI_2"), settle(2), check("added"),
       reload(conf(instance(150))), settle(2.5)],
      peer=peer(100)),
    S("reload_broken_config", conf(instance(150)),
      [*elected(), reload(conf(instance(150)) + "vrrp_instance VI_9 {\n  interface eth0\n"), settle(5),
       check("after")],
      peer=peer(100),
      allow={"a.fifo.VI_1": BROKEN_RELOAD, "a.notify": BROKEN_RELOAD, "a.vip": BROKEN_RELOAD,
             "check:*.a.running": BROKEN_RELOAD, "check:*.wire.last": BROKEN_RELOAD,
             "exit": BROKEN_RELOAD, "wire.a.*": BROKEN_RELOAD,
             # keepalived gone, its peer takes over after a Master_Down_Interval
             "b.*": BROKEN_RELOAD, "check:*.b.*": BROKEN_RELOAD, "wire.b.*": BROKEN_RELOAD},
      expect_py={"check:after.a.running": True, "check:after.a.states": {"INSTANCE VI_1": "MASTER"},
                 "check:after.b.states": {"INSTANCE VI_1": "BACKUP"},
                 "check:after.wire.last": {"a.vrid51": "150"}, "exit": 0,
                 "a.fifo.VI_1": ["BACKUP 150", "MASTER 150", "STOP 150"]}),
    S("reload_adds_weight0_script_to_master", conf(instance(150)),
      [*elected(), reload(conf(instance(150, body="track_script {\n    chk\n  }"), top=script_block())),
       settle(3.5), check("reloaded")],
      peer=peer(100), flags=("ok",)),
    # --- signals and children
    S("sigterm_hands_over", conf(instance(150)),
      [*elected(), signal_subject(signal.SIGTERM), until("b", "MASTER", 4), settle(1.5)],
      peer=peer(100)),
    S("vrrp_child_killed", conf(instance(150)),
      [*elected(), kill_child(), settle(7), check("after")],
      peer=peer(100),
      allow={"a.fifo.VI_1": CHILD_KILL, "a.notify": CHILD_KILL, "a.vip": CHILD_KILL,
             "b.fifo.VI_1": CHILD_KILL, "b.vip": CHILD_KILL},
      expect_py={"a.fifo.VI_1": ["BACKUP 150", "MASTER 150", "STOP 150"],
                 "a.vip": {VIP: ["-", "+", "-"]}, "b.fifo.VI_1": ["BACKUP 100", "MASTER 100"],
                 "b.vip": {VIP: ["-", "+"]}}),
    # --- sync groups
    S("sync_group_member_faults_group",
      conf(instance(150, body="track_script {\n    chk\n  }"),
           instance(150, name="VI_2", vrid=52, vips=("192.0.2.102/24",)),
           top=script_block() + "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), start_peer(), settle(2),
       check("elected"), flag("ok", False), until("a", "FAULT", inst="VI_2"),
       until("b", "MASTER", 6, inst="VI_2"), settle(2), check("fault"),
       flag("ok", True), until("a", "MASTER", 8, inst="VI_2"), settle(1.5)],
      peer=conf(instance(100), instance(100, name="VI_2", vrid=52, vips=("192.0.2.102/24",))),
      flags=("ok",)),
    # --- protocol variants
    S("v3_ipv4_failover", conf(instance(150), glob="vrrp_version 3"),
      [*elected(), sh_a("ip", "link", "set", "eth0", "down"), peer_master(), settle(1),
       sh_a("ip", "link", "set", "eth0", "up"), until("a", "MASTER", 10), settle(1.5)],
      peer=conf(instance(100), glob="vrrp_version 3")),
    S("v3_ipv6_failover", conf(instance(150, vips=("2001:db8::100/64",)), glob="vrrp_version 3"),
      [*elected(), sh_a("ip", "link", "set", "eth0", "down"), peer_master(), settle(1),
       sh_a("ip", "link", "set", "eth0", "up"), until("a", "MASTER", 10), settle(1.5)],
      peer=conf(instance(100, vips=("2001:db8::100/64",)), glob="vrrp_version 3"), v6=True),
    S("unicast_failover",
      conf(instance(150, body=f"unicast_src_ip {A_IP}\n  unicast_peer {{\n    {B_IP}\n  }}")),
      [*elected(), signal_subject(signal.SIGTERM), until("b", "MASTER", 4), settle(1.5)],
      peer=conf(instance(100, body=f"unicast_src_ip {B_IP}\n  unicast_peer {{\n    {A_IP}\n  }}"))),
    S("unicast_fault_no_peer",
      conf(instance(150, body="unicast_fault_no_peer\n  unicast_peer {\n  }")),
      [start(), settle(4.5), check("t4.5")]),
    S("notify_scripts_per_state",
      conf(instance(150, notify=False, body="notify_master \"%NOTIFY% master\"\n"
                    "  notify_backup \"%NOTIFY% backup\"\n  notify_fault \"%NOTIFY% fault\"\n"
                    "  notify_stop \"%NOTIFY% stop\"\n  notify \"%NOTIFY% any\"")),
      [*elected(), sh_a("ip", "link", "set", "eth0", "down"), until("a", "FAULT"), settle(1),
       sh_a("ip", "link", "set", "eth0", "up"), until("a", "MASTER", 10), settle(1.5)],
      peer=peer(100)),
    # --- more trackers, crashes, reloads while BACKUP
    S("script_timeout_counts_as_failure",
      conf(instance(150, body="track_script {\n    slow\n  }"),
           top='vrrp_script slow {\n  script "%DIR%/slow.sh"\n  interval 1\n  timeout 1\n'
               '  fall 1\n  rise 1\n  weight -60\n}\n'),
      [*elected(), flag("hang", True), until("a", "BACKUP", 8), settle(2), check("hanging"),
       flag("hang", False), until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100), scripts={"slow.sh": "[ -e %DIR%/hang ] && sleep 4\nexit 0"}),
    S("script_init_fail_weight",
      conf(instance(150, body="track_script {\n    chk\n  }"),
           top=script_block(weight=-60, extra="init_fail")),
      [start(), until("a", "MASTER"), settle(1.5)], flags=("ok",)),
    S("track_file_missing_at_start",
      conf(instance(150, body="track_file {\n    tf\n  }"),
           top="vrrp_track_file tf {\n  file %DIR%/tf\n  weight -1\n}\n"),
      [start(), started(), settle(1), check("missing"), until("a", "MASTER"), settle(1), write("tf", "30\n"),
       settle(2.5)]),
    S("subject_crash_and_restart", conf(instance(150)),
      [*elected(), kill_subject(), peer_master(), settle(2), check("crashed"), start(),
       until("b", "BACKUP", 8), settle(2)],
      peer=peer(100)),
    S("link_down_while_backup", conf(instance(50)),
      [*elected(peer_first=True), sh_a("ip", "link", "set", "eth0", "down"), until("a", "FAULT"),
       settle(1.5), sh_a("ip", "link", "set", "eth0", "up"), until("a", "BACKUP", 8), settle(2),
       check("up")],
      peer=peer(100)),
    S("reload_while_backup_adds_vip", conf(instance(50)),
      [*elected(peer_first=True), reload(conf(instance(50, vips=(f"{VIP}/24", "192.0.2.101/24")))),
       settle(2.5), check("reloaded"), kill_peer(), until("a", "MASTER", 6), settle(1.5)],
      peer=peer(100)),
    S("dont_track_primary_link_down", conf(instance(150, body="dont_track_primary")),
      [*elected(), sh_a("ip", "link", "set", "eth0", "down"), peer_master(), settle(2), check("down"),
       sh_a("ip", "link", "set", "eth0", "up"), settle(3)],
      peer=peer(100)),
    S("sync_group_script_weight_ignored",
      conf(instance(150, body="track_script {\n    chk\n  }"),
           instance(150, name="VI_2", vrid=52, vips=("192.0.2.102/24",)),
           top=script_block(weight=-60) + "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), start_peer(), settle(2),
       check("elected"), flag("ok", False), settle(3), check("failed"), flag("ok", True),
       until("a", "MASTER", 8), settle(1.5)],
      peer=conf(instance(100), instance(100, name="VI_2", vrid=52, vips=("192.0.2.102/24",))),
      flags=("ok",)),
    # a sync member's interface weight keeps applying (keepalived shows it as 0), its track
    # file of weight 1 is tracked with weight 0: a non-zero value faults the group
    S("sync_group_interface_weight_applies",
      conf(instance(150, body="track_interface {\n    trk0 weight -60\n  }"),
           instance(150, name="VI_2", vrid=52, vips=("192.0.2.102/24",),
                    body="track_file {\n    tf\n  }"),
           top="track_file tf {\n  file %DIR%/tf\n}\n"
               "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), start_peer(), settle(2),
       check("elected"), sh_a("ip", "link", "set", "trk0", "down"), until("a", "BACKUP"),
       settle(2), check("lowered"), sh_a("ip", "link", "set", "trk0", "up"),
       until("a", "MASTER", 8), settle(2), write("tf", "1\n"), until("a", "FAULT", inst="VI_2"),
       settle(2), check("file"), write("tf", "0\n"), until("a", "MASTER", 10, inst="VI_2"),
       settle(1.5)],
      peer=conf(instance(100), instance(100, name="VI_2", vrid=52, vips=("192.0.2.102/24",))),
      files={"tf": "0\n"}, dummy=True),
    # with sync_group_tracking_weight, a script tracked by a member (-60) and its group (-30)
    # counts once, with the group's weight: 150 - 30 stays above the peer
    S("sync_group_tracking_weight_counts_once",
      conf(instance(150, body="track_script {\n    chk weight -60\n  }"),
           instance(150, name="VI_2", vrid=52, vips=("192.0.2.102/24",)),
           top=script_block() + "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n"
               "  sync_group_tracking_weight\n  track_script {\n    chk weight -30\n  }\n}\n"),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), start_peer(), settle(2),
       check("elected"), flag("ok", False), settle(3), check("failed"), flag("ok", True),
       settle(2.5)],
      peer=conf(instance(100), instance(100, name="VI_2", vrid=52, vips=("192.0.2.102/24",))),
      flags=("ok",)),
    # --- adverts the peer must accept or discard, reloads of other kinds
    S("pair_peer_preempts_subject", conf(instance(150)),
      [*elected(), Do(lambda r: r.stop_peer(signal.SIGTERM), "peer stops"),
       Do(lambda r: (r.dir / "b" / "keepalived.conf").write_text(r.fill(peer(200), r.dir / "b")),
          "peer priority 200"),
       start_peer(), until("a", "BACKUP", 8), settle(2), check("preempted")],
      peer=peer(100)),
    S("advert_int_mismatch_is_discarded", conf(instance(150)),
      [*elected(), until("b", "MASTER", 10), settle(2), check("both")],   # B's interval: 2 s
      peer=peer(100, advert=2)),
    S("auth_pass_matching", conf(instance(150, body="authentication {\n    auth_type PASS\n"
                                                    "    auth_pass s3cret\n  }")),
      [*elected(), kill_peer(signal.SIGTERM), settle(1)],
      peer=peer(100, body="authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }")),
    S("auth_pass_mismatch_is_discarded", conf(instance(150, body="authentication {\n    auth_type PASS\n"
                                                                 "    auth_pass s3cret\n  }")),
      [*elected(), settle(3), check("both")],
      peer=peer(100, body="authentication {\n    auth_type PASS\n    auth_pass other\n  }"),
      allow={"check:both.wire.last": SILENT_MASTER, "check:end.wire.last": SILENT_MASTER},
      expect_py={"check:both.wire.last": {"b.vrid51": "100", "a.vrid51": "150"},
                 "check:end.wire.last": {"b.vrid51": "100", "a.vrid51": "150"}}),
    S("vip_set_mismatch", conf(instance(150, vips=(f"{VIP}/24", "192.0.2.101/24"))),
      [*elected(), settle(3), check("both"), kill_peer(signal.SIGTERM), settle(1)],
      peer=peer(100),
      allow={"check:both.wire.last": SILENT_MASTER},
      expect_py={"check:both.wire.last": {"b.vrid51": "100", "a.vrid51": "150"}}),
    S("two_instances_one_faults",
      conf(instance(150, body="track_script {\n    chk\n  }"),
           instance(150, name="VI_2", vrid=52, vips=("192.0.2.102/24",)), top=script_block()),
      [start(), until("a", "MASTER"), until("a", "MASTER", inst="VI_2"), start_peer(), settle(2),
       check("elected"), flag("ok", False), until("a", "FAULT"), peer_master(), settle(2), check("fault"),
       flag("ok", True), until("a", "MASTER", 8), settle(1.5)],
      peer=conf(instance(100), instance(100, name="VI_2", vrid=52, vips=("192.0.2.102/24",))),
      flags=("ok",)),
    S("reload_while_fault", conf(instance(150, body="track_script {\n    chk\n  }"), top=script_block()),
      [*elected(), flag("ok", False), until("a", "FAULT"), peer_master(), reload(), settle(3),
       check("reloaded"), flag("ok", True), until("a", "MASTER", 8), settle(1.5)],
      peer=peer(100), flags=("ok",)),
    S("reload_changes_vrid", conf(instance(150)),
      [*elected(), reload(conf(instance(150, vrid=61))), settle(5), check("reloaded")],
      peer=peer(100)),
    S("supervisor_killed", conf(instance(150)),
      [*elected(), Do(lambda r: r.kill_parent(), "parent SIGKILL"), settle(5), check("after")],
      peer=peer(100)),
]

BY_NAME = {sc.name: sc for sc in CATALOGUE}


def main(argv: list[str]) -> int:
    """python3 tests/conformance/scenarios.py NAME...: play scenarios, print both recordings."""
    import tempfile
    code = 0
    for name in argv or list(BY_NAME):
        sc = BY_NAME[name]
        with tempfile.TemporaryDirectory(prefix="kpscen") as tmp:
            os.chmod(tmp, 0o755)
            t0 = time.monotonic()
            k, p = run(sc, Path(tmp))
            diffs = compare(sc, k, p)
            print(f"--- {name} ({time.monotonic() - t0:.1f}s)")
            print(report(sc, diffs, k, p))
            if os.environ.get("KP_SCEN_VERBOSE"):
                for r in (k, p):
                    print(r.impl, json.dumps(r.reduced(), indent=1))
            if failures(sc, diffs):
                code = 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
