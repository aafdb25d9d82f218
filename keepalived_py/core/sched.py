"""A child's scheduling and memory, as keepalived 2.2.7 sets them (lib/process.c
set_process_priorities, set_process_cpu_affinity, increment_process_priority):

- `<role>_priority N`: nice N.
- `<role>_rt_priority N`: SCHED_RR at N (with SCHED_RESET_ON_FORK: scripts the child runs start
  as ordinary processes), and RLIMIT_RTTIME from `<role>_rlimit_rttime` (microseconds): the
  soft limit half of it (SIGXCPU, logged as keepalived does), the hard limit the value itself —
  but never below one second here (HARD_RTTIME_FLOOR): a Python child's start-up and collector
  can run longer without blocking than keepalived's C loop ever does, and the kernel kills a
  process at its hard limit. The real limit is logged.
- `<role>_no_swap`: mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT).
- `<role>_cpu_affinity`: sched_setaffinity.
- `max_auto_priority N`: when a timer of the child fires more than `min_auto_priority_delay`
  microseconds late, the child moves to SCHED_RR (at the minimum priority, then one step each
  time) up to N; `<role>_rlimit_rttime` then applies too.

Failures are logged (keepalived: "child process: cannot raise priority"...), never fatal.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

from keepalived_py.config.model_process import ChildSched, ProcessDefs
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.sched")

MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
HARD_RTTIME_FLOOR = 1_000_000           # microseconds: the least hard RLIMIT_RTTIME we set
_NAMES = {"vrrp": "VRRP", "checker": "Checker", "bfd": "BFD"}


def _libc() -> Any:
    from keepalived_py.core.process import _libc as libc
    return libc


def rttime_limits(rlimit_rttime: int) -> tuple[int, int]:
    """(soft, hard) RLIMIT_RTTIME for `<role>_rlimit_rttime` (keepalived: value/2, value)."""
    soft = max(1, rlimit_rttime // 2)
    return soft, max(rlimit_rttime, HARD_RTTIME_FLOOR)


def next_auto_priority(current: int, max_auto: int) -> int | None:
    """The SCHED_RR priority a late child moves to (None: no change)."""
    if max_auto <= 0:
        return None
    if current == 0:
        return 1                         # sched_get_priority_min(SCHED_RR)
    return current + 1 if current < max_auto else None


_current: ProcessSched | None = None


def current() -> ProcessSched | None:
    """This child's settings (None before it applied any): core/scriptenv.py reads them."""
    return _current


def current_realtime() -> tuple[int, int]:
    """(SCHED_RR priority, configured RLIMIT_RTTIME) of this process as keepalived's dump
    shows them ("current realtime priority", "current realtime time limit"); 0: none."""
    cur = _current
    if cur is None:
        return 0, 0
    return cur.rt_priority, cur.rttime_shown


class ProcessSched:
    """Applies one child's settings and raises it when its timers run late."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.rt_priority = 0             # the SCHED_RR priority in force (0: SCHED_OTHER)
        self.rttime_set = False
        self.locked = False
        self.orig_nice: int | None = None
        self.orig_rttime: tuple[int, int] | None = None
        self.orig_affinity: set[int] | None = None
        self.cfg = ChildSched()
        self.max_auto = 0
        self.min_delay = 1_000_000
        self.applied: ProcessDefs | None = None
        self.rttime_shown = 0           # the configured limit in force (keepalived's cur_rlimit_rttime)
        global _current
        _current = self

    # -- apply / reset ---------------------------------------------------------------------
    def apply(self, p: ProcessDefs, announce: bool = True) -> None:
        """Apply `p`'s settings for this role; `announce`: log what is in force now (else
        call announce() later: a child logs nothing before its first advert)."""
        self.reset()
        self.applied = p
        cfg = p.sched(self.role)
        self.cfg = cfg
        self.max_auto = p.max_auto_priority if p.max_auto_priority != -1 else 0
        self.min_delay = p.min_auto_priority_delay
        if cfg.rt_priority:
            self._realtime(cfg.rt_priority, cfg.rlimit_rttime)
        elif cfg.priority:
            self.orig_nice = os.getpriority(os.PRIO_PROCESS, 0)
            try:
                os.setpriority(os.PRIO_PROCESS, 0, cfg.priority)
            except OSError as e:
                log.info("sched.nice_failed", priority=cfg.priority, error=str(e),
                         compat=f"Unable to set process priority to {cfg.priority} -"
                                f" {os.strerror(e.errno or 0)}")
        if cfg.no_swap:
            if _libc().mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
                err = ctypes.get_errno()
                log.info("sched.mlockall_failed", error=os.strerror(err),
                         compat=f"Unable to lock process in memory - {os.strerror(err)}")
            else:
                self.locked = True
        if cfg.cpu_affinity:
            self.orig_affinity = os.sched_getaffinity(0)
            try:
                os.sched_setaffinity(0, cfg.cpu_affinity)
            except OSError as e:
                log.warning("sched.affinity_failed", cpus=list(cfg.cpu_affinity), error=str(e),
                            compat=f"unable to set cpu affinity to {self.role} process"
                                   f" ({os.strerror(e.errno or 0)})")
        if announce:
            self.announce()

    def announce(self) -> None:
        log.info("sched.applied", role=self.role, nice=os.getpriority(os.PRIO_PROCESS, 0),
                 rt_priority=self.rt_priority, locked=self.locked,
                 cpus=sorted(os.sched_getaffinity(0)))

    def _realtime(self, priority: int, rlimit_rttime: int) -> bool:
        try:
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK,
                                  os.sched_param(priority))
        except OSError as e:
            log.warning("sched.realtime_failed", priority=priority, error=str(e),
                        compat="child process: cannot raise priority")
            return False
        self.rt_priority = priority
        if rlimit_rttime and not self.rttime_set:
            _sigxcpu_handler(self.role)
            soft, hard = rttime_limits(rlimit_rttime)
            try:
                if self.orig_rttime is None:
                    self.orig_rttime = resource.getrlimit(resource.RLIMIT_RTTIME)
                resource.setrlimit(resource.RLIMIT_RTTIME, (soft, hard))
                self.rttime_set = True
                self.rttime_shown = rlimit_rttime
                if hard != rlimit_rttime:
                    log.info("sched.rttime_floor", configured=rlimit_rttime, soft=soft, hard=hard)
            except (OSError, ValueError) as e:
                log.warning("sched.rttime_failed", error=str(e),
                            compat="child process cannot set realtime rlimit")
        return True

    def reset(self) -> None:
        """Back to what the child inherited (keepalived's reset_process_priorities)."""
        if self.rt_priority:
            try:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
                self.rt_priority = 0
            except OSError:
                log.warning("sched.reset_failed",
                            compat="child process: cannot reset realtime scheduling")
        if self.rttime_set and self.orig_rttime is not None:
            try:
                resource.setrlimit(resource.RLIMIT_RTTIME, self.orig_rttime)
            except (OSError, ValueError):
                # raising a hard limit back needs CAP_SYS_RESOURCE; out of SCHED_RR the
                # limit counts nothing, so the lower one is harmless
                log.info("sched.rttime_kept", limit=resource.getrlimit(resource.RLIMIT_RTTIME))
            self.rttime_set = False
            self.rttime_shown = 0
        if self.orig_nice is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, self.orig_nice)
            except OSError:
                pass
            self.orig_nice = None
        if self.locked:
            _libc().munlockall()
            self.locked = False
        if self.orig_affinity is not None:
            try:
                os.sched_setaffinity(0, self.orig_affinity)
            except OSError:
                pass
            self.orig_affinity = None

    # -- max_auto_priority -----------------------------------------------------------------
    def late(self, lag: float) -> None:
        """A timer of the child fired `lag` seconds late."""
        if lag * 1e6 <= self.min_delay:
            return
        new = next_auto_priority(self.rt_priority, self.max_auto)
        if new is None:
            return
        log.info("sched.timer_late", lag=round(lag, 6),
                 compat=f"A thread timer expired {lag:.6f} seconds ago")
        if self._realtime(new, self.cfg.rlimit_rttime):
            log.info("sched.auto_priority", priority=new,
                     compat=f"Set realtime priority {new}")


def _sigxcpu_handler(role: str) -> None:
    """SIGXCPU at the soft RLIMIT_RTTIME: keepalived logs it (its default action kills)."""
    name = _NAMES.get(role, "Unknown")

    def on_xcpu(_sig: int, _frame: object) -> None:
        log.info("sched.sigxcpu", compat=f"{name} process has used too much CPU time,"
                                         f" {role}_rlimit_rttime may need to be increased")
    signal.signal(signal.SIGXCPU, on_xcpu)

