"""core/sched.py's pure rules, and a real child-like process it reschedules (no root needed for
nice increments, affinity to an allowed CPU)."""
from __future__ import annotations

import os

import pytest

from keepalived_py.config.model_process import ChildSched, ProcessDefs
from keepalived_py.core import sched


def test_rttime_limits_keep_a_hard_limit_of_at_least_a_second() -> None:
    assert sched.rttime_limits(10000) == (5000, 1_000_000)
    assert sched.rttime_limits(3_000_000) == (1_500_000, 3_000_000)
    assert sched.rttime_limits(2) == (1, 1_000_000)


def test_auto_priority_steps_from_the_minimum_to_max_auto_priority() -> None:
    assert sched.next_auto_priority(0, 0) is None          # max_auto_priority unset: never
    assert sched.next_auto_priority(0, 5) == 1
    assert sched.next_auto_priority(4, 5) == 5
    assert sched.next_auto_priority(5, 5) is None


def test_late_timer_below_the_delay_changes_nothing() -> None:
    s = sched.ProcessSched("vrrp")
    s.max_auto, s.min_delay = 10, 1_000_000
    s.late(0.5)
    assert s.rt_priority == 0


def _in_child(fn) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(fn())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_apply_sets_nice_and_affinity_and_reset_restores_them() -> None:
    cpu = min(os.sched_getaffinity(0))

    def child() -> int:
        before = os.getpriority(os.PRIO_PROCESS, 0)
        s = sched.ProcessSched("checker")
        s.apply(ProcessDefs(checker=ChildSched(priority=min(19, before + 3),
                                               cpu_affinity=(cpu,))))
        ok = os.getpriority(os.PRIO_PROCESS, 0) == min(19, before + 3) and \
            os.sched_getaffinity(0) == {cpu}
        s.reset()                     # back to the inherited nice needs CAP_SYS_NICE when lower
        return 0 if ok else 1
    assert _in_child(child) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_RR needs CAP_SYS_NICE")
def test_realtime_with_rlimit_and_current_values_for_the_dump() -> None:
    def child() -> int:
        import resource
        s = sched.ProcessSched("vrrp")
        s.apply(ProcessDefs(vrrp=ChildSched(rt_priority=3, rlimit_rttime=20000)))
        rr = os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
        lim = resource.getrlimit(resource.RLIMIT_RTTIME) == (10000, 1_000_000)
        shown = sched.current_realtime() == (3, 20000)
        s.reset()
        back = os.sched_getscheduler(0) == os.SCHED_OTHER and sched.current_realtime() == (0, 0)
        return 0 if (rr and lim and shown and back) else 1
    assert _in_child(child) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_RR needs CAP_SYS_NICE")
def test_a_late_timer_raises_to_sched_rr_up_to_max_auto_priority() -> None:
    def child() -> int:
        s = sched.ProcessSched("vrrp")
        s.apply(ProcessDefs(max_auto_priority=2, min_auto_priority_delay=1000))
        s.late(0.01)
        first = os.sched_getparam(0).sched_priority == 1
        s.late(0.01)
        s.late(0.01)
        second = os.sched_getparam(0).sched_priority == 2
        s.reset()
        return 0 if first and second else 1
    assert _in_child(child) == 0
