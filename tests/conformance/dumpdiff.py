"""Resolved-semantics comparison: keepalived 2.2.7 and keepalived-py on one configuration.

Theory of operation. A `Bench` owns two network namespaces built identically (same interface
names, indexes, MAC and IP addresses), one for keepalived and one for keepalived-py, and is
reused for every configuration. `Bench.dumps(conf)` starts both daemons at once on the same
text, waits until both VRRP children are up plus a short settle time, sends SIGUSR1 to both
parents, reads both keepalived.data files (each daemon gets its own TMPDIR: 2.2.7 honours
TMPDIR), stops both and returns the two texts. `parse` turns a keepalived.data text into
sections -> objects -> fields, and `compare` lists every field whose value differs, ignoring
only what is a pid, a time, a counter or a file descriptor (`IGNORED`).

Namespaces hold only veth pairs whose two ends are in the same namespace (eth0<->eth9,
eth1<->eth8), so no advert ever reaches another daemon: every instance resolves alone.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from netlab import run_prefix, sh

REPO = Path(__file__).resolve().parents[2]
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
SETTLE = 1.2          # seconds after the VRRP child's pidfile appears, before the dump

# (section, field) pairs never compared: pids, times, counters, descriptors, socket details
IGNORED: dict[str, set[str]] = {
    # Master router: what keepalived prints before any advert is heard is uninitialised memory
    # Password: deliberately never printed by keepalived-py (the file is world-readable)
    "VRRP Topology": {"Last transition", "Read timeout", "fd_in", "No sockets allocated",
                      "Master router", "Password"},
    "VRRP Scripts": {"Result", "State"},
    "VRRP Track processes": {"Fork delay timer not running", "Fork delay timer running",
                             "Terminate delay timer not running",
                             "Terminate delay timer running"},
    "Interfaces": {"Reset ARP config counter 0"},
}
SKIPPED_SECTIONS = {"VRRP Sockpool"}
# interfaces only the bench has; their sections are compared, the host's never exist here
INTERFACES = (("eth0", "eth9", "02:00:00:00:00:01", "02:00:00:00:00:09"),
              ("eth1", "eth8", "02:00:00:00:00:02", "02:00:00:00:00:08"))
ADDRESSES = (("eth0", "192.0.2.1/24"), ("eth0", "2001:db8::1/64"), ("eth1", "198.51.100.1/24"))

Fields = dict[str, object]          # name -> str | True | list[str]


def parse(text: str) -> dict[str, dict[str, Fields]]:
    """keepalived.data -> {section: {object: {field: value}}}. The global section's single
    object is ''. A field is `Key = value` (or `Key: value`), a header ending in ':' whose
    deeper-indented lines form a list, or a bare line (a flag, value True)."""
    out: dict[str, dict[str, Fields]] = {}
    section = ""
    obj: Fields = {}
    listing: list[str] | None = None
    for raw in text.splitlines():
        m = re.fullmatch(r"------< (.*) >------", raw.strip())
        if m and not raw.startswith("  "):
            section = m.group(1)
            out.setdefault(section, {})
            obj = out[section].setdefault("", {}) if section == "Global definitions" else {}
            listing = None
            continue
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 1 and section != "Global definitions":
            key, _, rest = line.partition(",")
            obj = out.setdefault(section, {}).setdefault(key, {})
            if rest:
                obj["_head"] = rest.strip()
            listing = None
            continue
        if indent >= 5 and listing is not None:
            listing.append(line)
            continue
        listing = None
        if line.endswith(":") and " = " not in line:
            name = line[:-1].rstrip()
            name = re.sub(r" \(\d+\)$", "", name)     # "Virtual IP (2):" counts its own list
            listing = []
            obj[name] = listing
        elif " = " in line:
            k, _, v = line.partition(" = ")
            obj[k] = v
        elif ": " in line:
            k, _, v = line.partition(": ")
            obj[k.rstrip(" ")] = v
        elif line.startswith("fd_in "):
            obj["fd_in"] = line
        else:
            obj[line] = True
    return out


@dataclass(frozen=True)
class Difference:
    section: str
    obj: str
    field: str
    keepalived: object
    ours: object

    def __str__(self) -> str:
        where = f"{self.section}/{self.obj}" if self.obj else self.section
        return f"{where}: {self.field}: keepalived={self.keepalived!r} ours={self.ours!r}"


def compare(theirs: str, ours: str) -> list[Difference]:
    """Every field whose value differs (missing on one side counts), except IGNORED ones."""
    a, b = parse(theirs), parse(ours)
    diffs: list[Difference] = []
    for section in sorted(set(a) | set(b)):
        if section in SKIPPED_SECTIONS:
            continue
        if section not in a or section not in b:
            diffs.append(Difference(section, "", "<section>", section in a, section in b))
            continue
        skip = IGNORED.get(section, set())
        for obj in sorted(set(a[section]) | set(b[section])):
            fa, fb = a[section].get(obj), b[section].get(obj)
            if fa is None or fb is None:
                diffs.append(Difference(section, obj, "<object>", fa is not None, fb is not None))
                continue
            for name in list(fa) + [n for n in fb if n not in fa]:
                if name in skip:
                    continue
                if fa.get(name) != fb.get(name):
                    diffs.append(Difference(section, obj, name, fa.get(name), fb.get(name)))
    return diffs


@dataclass
class Run:
    """One daemon started in one namespace on one configuration."""

    ns: str
    cmd: list[str]
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, conf: Path) -> None:
        env = {**os.environ, "TMPDIR": str(self.dir)}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        cmd = [*self.cmd, "-n", "-l", "-D", "-f", str(conf), "-p", str(self.dir / "p.pid"),
               "-r", str(self.dir / "v.pid"), "-c", str(self.dir / "c.pid")]
        self.log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def pid(self, name: str) -> int | None:
        try:
            return int((self.dir / name).read_text().strip())
        except (OSError, ValueError):
            return None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(4)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(4)
        self.proc = None
        self.log.close()


@dataclass
class Result:
    keepalived: str
    ours: str
    logs: tuple[str, str]

    def differences(self) -> list[Difference]:
        return compare(self.keepalived, self.ours)


@dataclass
class Bench:
    prefix: str = field(default_factory=run_prefix)
    namespaces: list[str] = field(default_factory=list)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kp-dumpdiff-")))

    def __post_init__(self) -> None:
        try:
            for side in ("k", "p"):
                self._namespace(f"{self.prefix}-dd-{side}")
        except BaseException:
            self.close()
            raise

    def _namespace(self, ns: str) -> None:
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        for a, b, mac_a, mac_b in INTERFACES:
            sh("ip", "-n", ns, "link", "add", a, "address", mac_a, "type", "veth", "peer",
               "name", b, "address", mac_b)
        for dev, addr in ADDRESSES:
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev, *(["nodad"] if ":" in addr else []))
        for a, b, _, _ in INTERFACES:
            sh("ip", "-n", ns, "link", "set", b, "up")
            sh("ip", "-n", ns, "link", "set", a, "up")

    @property
    def files(self) -> Path:
        """A directory for files configurations name (track files, scripts): both daemons
        see the same one."""
        d = self.root / "files"
        d.mkdir(exist_ok=True)
        return d

    def dumps(self, conf: str, settle: float = SETTLE) -> Result:
        runs = [Run(self.namespaces[0], [KEEPALIVED], self.root / "k"),
                Run(self.namespaces[1], [sys.executable, "-m", "keepalived_py"], self.root / "p")]
        path = self.root / "keepalived.conf"
        path.write_text(conf)
        for r in runs:
            shutil.rmtree(r.dir, ignore_errors=True)
            r.dir.mkdir()
        try:
            for r in runs:
                r.start(path)
            _wait(lambda: all(r.pid("v.pid") or r.proc.poll() is not None for r in runs), 10)
            time.sleep(settle)
            for r in runs:
                pid = r.pid("p.pid")
                if pid is not None and r.proc is not None and r.proc.poll() is None:
                    os.kill(pid, signal.SIGUSR1)
            data = [r.dir / "keepalived.data" for r in runs]
            _wait(lambda: all(_complete(d) for d in data), 5)
            texts = [d.read_text() if d.exists() else "" for d in data]
        finally:
            for r in runs:
                r.terminate()           # both at once, then wait for each
            for r in runs:
                r.stop()
        logs = tuple((r.dir / "log").read_text(errors="replace") for r in runs)
        return Result(texts[0], texts[1], logs)  # type: ignore[arg-type]

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _complete(path: Path) -> bool:
    """keepalived writes the file in place: wait until its size stops changing."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    time.sleep(0.05)
    return size > 0 and path.stat().st_size == size


def _wait(cond: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


if __name__ == "__main__":     # python3 tests/conformance/dumpdiff.py CONF...: print both dumps
    with Bench() as bench:
        for arg in sys.argv[1:]:
            res = bench.dumps(Path(arg).read_text())
            print(f"===== {arg} keepalived\n{res.keepalived}\n===== ours\n{res.ours}")
            print("===== differences")
            for d in res.differences():
                print(d)
