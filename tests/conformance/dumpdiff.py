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
from netlab import delete_netns, run_prefix, sh

REPO = Path(__file__).resolve().parents[2]
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
# seconds from both VRRP children being up to the dump: `state MASTER` instances (keepalived:
# MASTER after one advert interval) are MASTER, the others still BACKUP (down timer 3.6 s),
# and every tracker has had its first result - at least a second from any transition
SETTLE = 2.0

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
    ready: str                       # the log line saying the VRRP child is up
    proc: subprocess.Popen[bytes] | None = None

    def is_ready(self) -> bool:
        try:
            return self.ready in (self.dir / "log").read_text(errors="replace")
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request_dump(self) -> None:
        pid = self.pid("p.pid")
        if pid is not None and self.alive():
            os.kill(pid, signal.SIGUSR1)

    def start(self, conf: Path) -> None:
        env = {**os.environ, "TMPDIR": str(self.dir)}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        cmd = [*self.cmd, "-n", "-l", "-D", "-f", str(conf), "-p", str(self.dir / "p.pid"),
               "-r", str(self.dir / "v.pid"), "-c", str(self.dir / "c.pid"), "-b", str(self.dir / "b.pid")]
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
    tag: str = "dd"
    namespaces: list[str] = field(default_factory=list)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kp-dumpdiff-")))

    def __post_init__(self) -> None:
        try:
            for side in ("k", "p"):
                self._namespace(f"{self.prefix}-{self.tag}-{side}")
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
        runs = [Run(self.namespaces[0], [KEEPALIVED], self.root / "k", "Startup complete"),
                Run(self.namespaces[1], [sys.executable, "-m", "keepalived_py"], self.root / "p",
                    "child.ready role=vrrp")]
        path = self.root / "keepalived.conf"
        path.write_text(conf)
        for r in runs:
            shutil.rmtree(r.dir, ignore_errors=True)
            r.dir.mkdir()
        try:
            for r in runs:
                r.start(path)
            # each daemon is asked `settle` seconds after its own VRRP child is up (keepalived
            # is up long before an interpreter on a busy machine); a request lost to a busy
            # machine is asked again, 0.5 s later (still before a priority-100 backup's
            # Master_Down_Interval of 3.61 s: a re-ask 2 s later found it MASTER)
            data = [r.dir / "keepalived.data" for r in runs]
            ready: list[float | None] = [None, None]
            asked = [0, 0]
            end = time.monotonic() + 15 + settle
            while time.monotonic() < end:
                now = time.monotonic()
                for i, r in enumerate(runs):
                    if ready[i] is None and (r.is_ready() or not r.alive()):
                        ready[i] = now
                    t = ready[i]
                    if t is not None and not data[i].exists() and asked[i] < 3 and \
                            now >= t + settle + 0.5 * asked[i]:
                        r.request_dump()
                        asked[i] += 1
                if all(_complete(d) for d in data) or not all(r.alive() for r in runs):
                    break
                time.sleep(0.02)
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
            delete_netns(ns)
        self.namespaces.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_all(jobs: dict[str, tuple[str, float]], workers: int = 3,
            prepare: object = None) -> dict[str, Result]:
    """Every configuration of `jobs` (name -> (text, settle)) on `workers` benches at once;
    `prepare(bench)` (if given) runs before each configuration, and FILES in a text is
    replaced by that bench's files directory. Each bench is used by one thread at a time."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    benches: queue.Queue[Bench] = queue.Queue()
    made: list[Bench] = []
    try:
        for i in range(max(1, min(workers, len(jobs)))):
            b = Bench(tag=f"dd{i}")
            made.append(b)
            benches.put(b)

        def one(name: str) -> tuple[str, Result]:
            b = benches.get()
            try:
                if prepare is not None:
                    prepare(b)  # type: ignore[operator]
                text, settle = jobs[name]
                return name, b.dumps(text.replace("FILES", str(b.files)), settle=settle)
            finally:
                benches.put(b)

        with ThreadPoolExecutor(len(made)) as pool:
            return dict(pool.map(one, jobs))
    finally:
        for b in made:
            b.close()


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
