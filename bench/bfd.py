"""BFD: failure detection time at 10 ms and 50 ms intervals, and CPU per session, for
keepalived-py's BFD child beside keepalived 2.2.7's, both against FRR's bfdd.

Detection: one session (multiplier 3) between the daemon (node a) and bfdd (node c) on a
namespace LAN; once Up at the fast rate, bfdd is frozen (SIGSTOP: it goes silent without an
AdminDown) and the daemon's own "(B1) Expired after N ms" line gives the silence it needed to
declare the session Down; bfdd is then continued and the session comes back Up for the next
trial. The bound is RFC 5880's Detection Time, multiplier x interval.

CPU: `--sessions` sessions at 10 ms and at 50 ms, all Up, for `--seconds`; utime+stime of the daemon's BFD
child from /proc, as % of one core per session. Run as root (needs the frr package):

    python bench/bfd.py [--trials 10] [--sessions 20] [--seconds 10] [--no-keepalived]
"""
from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from netlab import Lab, Node

BFDD = "/usr/lib/frr/bfdd"
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        parts = f.read().rsplit(b")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def bfdd(node: Node, d: Path, peers: list[tuple[str, str]], ms: int) -> tuple[object, Path]:
    frr = pwd.getpwnam("frr")
    os.chown(d, frr.pw_uid, frr.pw_gid)
    conf = d / "bfdd.conf"
    conf.write_text("bfd\n" + "".join(
        f" peer {p} local-address {loc}\n  receive-interval {ms}\n  transmit-interval {ms}\n"
        f"  detect-multiplier 3\n !\n" for p, loc in peers) + "!\n")
    os.chmod(conf, 0o644)
    proc = node.popen([BFDD, "-f", str(conf), "-i", str(d / "bfdd.pid"), "--vty_socket", str(d),
                       "--bfdctl", str(d / "bfdd.sock"), "-u", "frr", "-g", "frr",
                       "-A", "127.0.0.1", "-P", "0"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, d


def daemon(node: Node, d: Path, which: str, sessions: list[tuple[str, str]], ms: int
           ) -> tuple[subprocess.Popen[bytes], Path]:
    conf = d / "k.conf"
    conf.write_text("".join(
        f"bfd_instance B{i + 1} {{\n  neighbor_ip {n}\n  source_ip {s}\n  min_rx {ms}\n"
        f"  min_tx {ms}\n  multiplier 3\n}}\n" for i, (n, s) in enumerate(sessions)))
    pids = ["-p", f"{d}/p.pid", "-r", f"{d}/v.pid", "-c", f"{d}/c.pid", "-b", f"{d}/b.pid"]
    if which == "ours":
        cmd = [sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(conf), *pids]
    else:
        cmd = [KEEPALIVED, "-n", "-l", "-D", "-f", str(conf), *pids]
    log = d / "log"
    p = node.popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    return p, log


def ups(log: Path) -> int:
    return log.read_text(errors="replace").count("Entering Up state")


def wait(pred: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def is_up(log: Path) -> bool:
    text = log.read_text(errors="replace")
    return text.rfind("(B1) Entering Up state") > text.rfind("(B1) Entering Down state")


def detection(which: str, ms: int, trials: int) -> list[int]:
    with Lab(tag=f"bb{ms}") as lab, tempfile.TemporaryDirectory(prefix="kp-bfdb-") as tmp:
        lan = lab.lan()
        a = lab.node("a", lan, "192.0.2.1/24")
        c = lab.node("c", lan, "192.0.2.3/24")
        os.chmod(tmp, 0o755)                          # bfdd runs as user frr
        (Path(tmp) / "c").mkdir()
        (Path(tmp) / "a").mkdir()
        frr, _ = bfdd(c, Path(tmp) / "c", [("192.0.2.1", "192.0.2.3")], ms)
        _, log = daemon(a, Path(tmp) / "a", which, [("192.0.2.3", "192.0.2.1")], ms)
        out = []
        for _ in range(trials):
            if not wait(lambda: is_up(log), 15):
                print(f"  {which} {ms} ms: session not Up", file=sys.stderr)
                break
            for _ in range(10):                       # 1 s Up without a flap: at the fast rate
                n = ups(log)
                time.sleep(1.0)
                if ups(log) == n and is_up(log):
                    break
            mark = len(log.read_text(errors="replace"))
            os.kill(frr.pid, signal.SIGSTOP)  # type: ignore[attr-defined]
            wait(lambda mark=mark: "(B1) Expired after" in log.read_text(errors="replace")[mark:], 5)
            os.kill(frr.pid, signal.SIGCONT)  # type: ignore[attr-defined]
            m = re.search(r"\(B1\) Expired after (\d+) ms", log.read_text(errors="replace")[mark:])
            if m:
                out.append(int(m.group(1)))
        return out


def cpu(which: str, sessions: int, seconds: float, ms: int) -> float | None:
    with Lab(tag="bbcpu") as lab, tempfile.TemporaryDirectory(prefix="kp-bfdb-") as tmp:
        lan = lab.lan()
        mine = [f"198.51.100.{i + 1}/24" for i in range(sessions)]
        theirs = [f"198.51.100.{i + 101}/24" for i in range(sessions)]
        a = lab.node("a", lan, *mine)
        c = lab.node("c", lan, *theirs)
        pairs = [(t.split("/")[0], m.split("/")[0]) for m, t in zip(mine, theirs, strict=True)]
        os.chmod(tmp, 0o755)                          # bfdd runs as user frr
        (Path(tmp) / "c").mkdir()
        (Path(tmp) / "a").mkdir()
        bfdd(c, Path(tmp) / "c", [(m, t) for t, m in pairs], ms)
        _, log = daemon(a, Path(tmp) / "a", which, pairs, ms)
        if not wait(lambda: ups(log) >= sessions, 30):
            print(f"  {which}: only {ups(log)}/{sessions} sessions Up", file=sys.stderr)
            return None
        time.sleep(1.0)
        pid = int((Path(tmp) / "a" / "b.pid").read_text())
        t0, c0 = time.monotonic(), ticks(pid)
        time.sleep(seconds)
        used = (ticks(pid) - c0) / HZ
        flaps = ups(log) - sessions
        if flaps:
            print(f"  {which} {ms} ms: {flaps} re-Up(s) during the run (sessions flapped: the"
                  " figure undercounts, a Down session sends once a second)")
        return 100.0 * used / (time.monotonic() - t0) / sessions


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--no-keepalived", action="store_true")
    args = ap.parse_args()
    whos = ["ours"] + ([] if args.no_keepalived or not os.path.exists(KEEPALIVED) else ["keepalived"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    for ms in (10, 50):
        for who in whos:
            got = detection(who, ms, args.trials)
            if got:
                bound = 3 * ms
                print(f"detection {ms:2d} ms x3 {who:10s}: n={len(got)} median {statistics.median(got)}"
                      f" ms, max {max(got)} ms (bound {bound} ms, +10 ms: "
                      f"{sum(g <= bound + 10 for g in got)}/{len(got)} within)")
    for ms in (10, 50):
        for who in whos:
            per = cpu(who, args.sessions, args.seconds, ms)
            if per is not None:
                print(f"cpu {ms:2d} ms {who:10s}: {per:.2f} % of a core per session"
                      f" ({args.sessions} sessions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
