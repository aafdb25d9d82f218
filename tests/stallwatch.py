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
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from types import TracebackType

_CANARY = r"""
import sys, time
tick, threshold = float(sys.argv[1]), float(sys.argv[2])
print("ready", flush=True)
m = time.monotonic
while True:
    t0 = m()
    time.sleep(tick)
    t1 = m()
    if t1 - t0 - tick > threshold:
        print(f"{t0 + tick:.6f} {t1:.6f}", flush=True)
"""


class StallWatch:
    """A canary process; `stalls` are the (start, end) CLOCK_MONOTONIC intervals it overslept."""

    def __init__(self, tick: float = 0.002, threshold: float = 0.010) -> None:
        self.tick = tick
        self.threshold = threshold
        self.stalls: list[tuple[float, float]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> StallWatch:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CANARY, str(self.tick), str(self.threshold)],
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
            try:
                a, b = (float(x) for x in line.split())
            except ValueError:
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

    def worst(self) -> float:
        with self._lock:
            return max((e - s for s, e in self.stalls), default=0.0)

    def figures(self) -> dict[str, float]:
        with self._lock:
            n = len(self.stalls)
        return {"host_stalls": n, "host_stall_worst": round(self.worst(), 4)}


def now() -> float:
    return time.monotonic()
