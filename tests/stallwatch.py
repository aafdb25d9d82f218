"""A host-stall canary for timing tests.

A timing claim ("adverts on time within 5 ms under a flood") is about the daemon, but a test
measures it on a shared 2-core machine where the whole host sometimes does not run anybody for
tens of milliseconds (a hypervisor's steal, a burst of other tests' work). Such a stall delays the
daemon and every other process alike; it says nothing about the daemon.

`StallWatch` runs a tiny canary process beside the test: it sleeps TICK seconds in a loop and
reports every wake-up later than THRESHOLD, as an interval of CLOCK_MONOTONIC time during which a
runnable process could not run. A test keeps its bound and judges each measured delay minus the
host stall that overlapped it (`stalled(a, b)`), and prints both figures. A daemon that is late on
its own (a blocking call on its loop, a wrong timer) is late while the canary runs on time, and
still fails the test.

    with StallWatch() as sw:
        ... measure gaps (CLOCK_MONOTONIC) ...
    excess = gap - bound - sw.stalled(a, b)

A sleeping canary cannot see CPU contention: a process that sleeps 2 ms at a time is woken on
time on a host full of runnable processes, while a daemon with work to do (a flood to read)
waits its turn on the run queue. `StallWatch(pids=[...])` also follows the kernel's own account
of that wait for the given processes (the run_delay of /proc/PID/schedstat: time runnable but not
running), sampled at every canary tick; `waited(pid, a, b)` is how long `pid` waited for a CPU
inside [a, b]. A delay the daemon spent waiting for a CPU is the host's; what is left is the
daemon's own (its loop busy, a wrong timer):

    excess = gap - bound - max(sw.stalled(a, b), sw.waited(pid, a, b))
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from types import TracebackType

_CANARY = r"""
import sys, time
tick, threshold = float(sys.argv[1]), float(sys.argv[2])
pids = sys.argv[3:]
def run_delay(pid):
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None
m = time.monotonic
last = {p: (m(), run_delay(p)) for p in pids}
print("ready", flush=True)
while True:
    t0 = m()
    time.sleep(tick)
    t1 = m()
    if t1 - t0 - tick > threshold:
        print(f"{t0 + tick:.6f} {t1:.6f}", flush=True)
    for p in pids:
        t, d = last[p]
        now = run_delay(p)
        if now is not None and d is not None and now - d > 0.0005:
            print(f"w {p} {t:.6f} {t1:.6f} {now - d:.6f}", flush=True)
        last[p] = (t1, now)
"""


class StallWatch:
    """A canary process; `stalls` are the (start, end) CLOCK_MONOTONIC intervals it overslept."""

    def __init__(self, tick: float = 0.002, threshold: float = 0.010,
                 pids: Iterable[int] = ()) -> None:
        self.tick = tick
        self.threshold = threshold
        self.pids = [int(p) for p in pids]
        self.stalls: list[tuple[float, float]] = []
        # per followed pid: (start, end, seconds it waited for a CPU in that interval)
        self.waits: dict[int, list[tuple[float, float, float]]] = {p: [] for p in self.pids}
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> StallWatch:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CANARY, str(self.tick), str(self.threshold),
             *map(str, self.pids)],
            stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("stallwatch: the canary did not start")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            words = line.split()
            try:
                if words and words[0] == "w":
                    pid, a, b, w = int(words[1]), float(words[2]), float(words[3]), float(words[4])
                    with self._lock:
                        self.waits[pid].append((a, b, w))
                    continue
                a, b = (float(x) for x in words)
            except (ValueError, KeyError, IndexError):
                continue
            with self._lock:
                self.stalls.append((a, b))

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)

    def __enter__(self) -> StallWatch:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stalled(self, a: float, b: float) -> float:
        """Seconds of host stall inside [a, b] (CLOCK_MONOTONIC), the canary's tick included
        once per stall (a stall is only seen at the canary's next wake-up)."""
        with self._lock:
            stalls = list(self.stalls)
        total = 0.0
        for s, e in stalls:
            lo, hi = max(a, s - self.tick), min(b, e)
            if hi > lo:
                total += hi - lo
        return total

    def waited(self, pid: int, a: float, b: float) -> float:
        """Seconds `pid` (one of `pids`) spent runnable but not running (waiting for a CPU)
        inside [a, b]; a sample interval that straddles an end counts pro rata."""
        with self._lock:
            waits = list(self.waits.get(pid, ()))
        total = 0.0
        for s, e, w in waits:
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                total += w * (hi - lo) / (e - s) if e > s else w
        return total

    def worst(self) -> float:
        with self._lock:
            return max((e - s for s, e in self.stalls), default=0.0)

    def figures(self) -> dict[str, float]:
        with self._lock:
            n = len(self.stalls)
            waited = {p: round(sum(w for _, _, w in v), 3) for p, v in self.waits.items()}
        out: dict[str, float] = {"host_stalls": n, "host_stall_worst": round(self.worst(), 4)}
        for p, w in waited.items():
            out[f"cpu_wait_s[{p}]"] = w
        return out


def now() -> float:
    return time.monotonic()
