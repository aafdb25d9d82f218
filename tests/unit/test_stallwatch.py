"""tests/stallwatch.py: the canary's CPU-wait accounting (/proc/PID/schedstat run_delay) for
followed processes, which a sleeping canary's own stalls cannot show."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from stallwatch import StallWatch


def test_waited_counts_the_part_of_each_sample_inside_the_window() -> None:
    sw = StallWatch(pids=[7])
    sw.waits[7] = [(10.0, 10.002, 0.002), (10.002, 10.102, 0.08), (11.0, 11.01, 0.005)]
    assert abs(sw.waited(7, 10.0, 10.5) - 0.082) < 1e-9
    assert abs(sw.waited(7, 10.052, 10.102) - 0.04) < 1e-9        # half of the second sample
    assert sw.waited(7, 10.2, 10.9) == 0.0
    assert sw.waited(8, 0.0, 20.0) == 0.0                         # not followed


def test_a_busy_process_sharing_its_cpu_is_seen_waiting() -> None:
    """Two busy processes on one CPU: each waits about half the time; the canary (on any
    CPU) reports it while its own sleeps may well be on time."""
    cpu = min(os.sched_getaffinity(0))
    spin = "import time\nend = time.monotonic() + 1.2\nwhile time.monotonic() < end: pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        for p in procs:
            os.sched_setaffinity(p.pid, {cpu})
        with StallWatch(pids=[procs[0].pid]) as sw:
            t0 = time.monotonic()
            time.sleep(0.6)
            t1 = time.monotonic()
            waited = sw.waited(procs[0].pid, t0, t1)
        assert waited > 0.1, (waited, sw.figures())
        assert f"cpu_wait_s[{procs[0].pid}]" in sw.figures()
    finally:
        for p in procs:
            p.kill()
            p.wait()
