"""core/process.ProcStat: the watchdog's /proc/PID/stat kept open and read with pread."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from keepalived_py.core.process import ProcStat, read_proc_stat


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_procstat_reads_as_read_proc_stat_and_follows_a_stop() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    stat = ProcStat()
    try:
        first = stat.read(child.pid)
        assert first is not None and first[0] in "RS"
        assert read_proc_stat(child.pid) is not None
        os.kill(child.pid, signal.SIGSTOP)
        for _ in range(100):
            seen = stat.read(child.pid)
            if seen is not None and seen[0] == "T":
                break
            time.sleep(0.01)
        assert seen is not None and seen[0] == "T"
        assert seen == read_proc_stat(child.pid)        # the same answer, from the open fd
        os.kill(child.pid, signal.SIGCONT)
    finally:
        child.kill()
        child.wait()
    # reaped: the descriptor names that process, gone now (whatever the pid holds later)
    assert stat.read(child.pid) is None
    assert child.pid not in stat._fds


def test_procstat_keeps_one_descriptor_per_pid_and_closes_the_others() -> None:
    before = _fds()
    stat = ProcStat()
    me = os.getpid()
    for _ in range(5):
        assert stat.read(me) is not None
    assert len(_fds() - before) == 1
    stat.keep({me})
    assert len(_fds() - before) == 1
    stat.keep(set())
    assert _fds() == before
    assert stat.read(2 ** 22 + 1) is None and _fds() == before    # no such pid
