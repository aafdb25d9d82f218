"""Respawn to first advert (issue 15): a master's VRRP child (with a script, file, process and
interface tracker) SIGKILLed beside HOGS niced CPU hogs, ROUNDS times. Printed per kill: the
load, the last advert before it and the first after it (kernel receive times at the backup),
the time the parent and the new child waited for a CPU meanwhile (/proc/PID/schedstat run_delay:
the parent's over [kill, first advert] from tests/stallwatch.py, the new child's in its first
second), and any KPMARK lines the child logged (ad-hoc instrumentation: `KPMARK <monotonic>
<label>` on stderr). Run as root:

    python bench/respawn.py [HOGS=6] [ROUNDS=3]
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "chaos"))
sys.path.insert(0, str(ROOT / "tests"))

from chaoslab import Cluster  # noqa: E402
from stallwatch import StallWatch  # noqa: E402


def run_delay(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0

TOP = """vrrp_script chk {
  script "/bin/true"
  interval 1
  weight 10
}
vrrp_track_file tf {
  file /tmp/kprespawn-tf
  weight 1
}
vrrp_track_process tp {
  process init
  weight 2
}
"""
EXTRA = ("track_script {\n    chk\n  }\n  track_file {\n    tf\n  }\n"
         "  track_process {\n    tp\n  }\n  track_interface {\n    eth0\n  }\n")


def main(argv: list[str]) -> int:
    hogs_n = int(argv[0]) if argv else 6
    rounds = int(argv[1]) if len(argv) > 1 else 3
    prefix = os.environ.get("KP_NS_PREFIX", "kp") + "respawn-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chmod(tmp, 0o755)
        with Cluster(Path(tmp), advert=1.0, tag="rs", top={"n1": TOP},
                     extra={"n1": EXTRA}) as c:
            c.start(("n1", "n2"))
            del c.daemons["n3"]
            c.elected(60)
            sniff = c.nodes["n2"].popen([sys.executable, str(ROOT / "tests" / "chaos" / "hostile.py"),
                                         "sniff", "192.0.2.1"], stdout=subprocess.PIPE, text=True)
            assert sniff.stdout is not None and sniff.stdout.readline().strip() == "ready"
            hogs = [subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", "while 1: pass"])
                    for _ in range(hogs_n)]
            d = c.daemons["n1"]
            parent = d.pid("p")
            assert parent is not None
            kills: list[tuple[float, float, float]] = []
            sw = StallWatch(pids=[parent]).start()
            try:
                time.sleep(8)                 # the supervisor has the VRRP code (core/rolewarm.py)
                for _ in range(rounds):
                    old = d.pid("v")
                    assert old is not None
                    t = time.monotonic()
                    os.kill(old, signal.SIGKILL)
                    time.sleep(1)
                    new = d.pid("v")
                    kills.append((t, os.getloadavg()[0],
                                  run_delay(new) if new not in (None, old) else float("nan")))
                    time.sleep(11)
            finally:
                sw.stop()
                for h in hogs:
                    h.kill()
                    h.wait()
            sniff.terminate()
            times = [float(x) for x in sniff.communicate(timeout=5)[0].split()]
            log = (d.dir / "log").read_text(errors="replace")
            marks = [(float(a), b) for a, b in re.findall(r"KPMARK (\S+) (\S+)", log)]
            for t, load, child_wait in kills:
                first = next((x for x in times if x > t), t)
                last = max((x for x in times if x < t), default=t)
                ms = [(n, round((x - t) * 1e3)) for x, n in marks if t < x < t + 10]
                print(f"load {load:.1f}: last advert {(last - t) * 1e3:.0f} ms, first after the"
                      f" kill {(first - t) * 1e3:.0f} ms; CPU wait: parent"
                      f" {sw.waited(parent, t, first) * 1e3:.0f} ms, new child (first second)"
                      f" {child_wait * 1e3:.0f} ms; host stall {sw.stalled(t, first) * 1e3:.0f} ms"
                      + (f"; marks {ms}" if ms else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
