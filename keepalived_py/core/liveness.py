"""Is a child alive and making progress? The supervisor's judgement, pure (no clock, no /proc).

Theory of operation. A slow host is not a stuck child. On a loaded machine or in a VM where
everything runs 10-30 times slower, importing the child's modules alone can take seconds and a
ready child's event loop can run late; killing such a child for silence only makes it start
again, slowly, and be killed again — it never runs. So the supervisor kills a child only on
evidence that it is not progressing:

* **Stopped.** The kernel says the process is stopped (/proc/PID/stat state `T`, or `t`
  under a tracer) at every look for `STOPPED_LIMIT` seconds and nothing came from it
  meanwhile: SIGSTOP, a debugger holding it. Found within about two seconds whether or not
  the child is ready — a stopped process makes no progress however fast the machine is.
* **Ready and silent.** A ready child's event loop runs a 0.5 s timer and measures how late
  it fired (loop lag); it sends a heartbeat carrying a sequence number and that lag every
  `BEAT_EVERY`-th time, and every time the lag is `LAG_TOLD` or more or the last one sent was
  (`beat_due`: the supervisor hears each late beat and the first on time again, as if every
  beat were sent, and wakes up for a child's beat every 2 s instead of every 0.5 s, issue
  16.2). Lag is reported (`Verdict.SLOW`), never punished; only `READY_SILENCE_LIMIT` (60 s)
  without any message kills: a loop that has not run a 0.5 s timer for a minute is not
  sending adverts (the peers took over after ~3 advert intervals) and a restart costs little
  next to staying wedged.
* **Starting and hung.** A child that has not said `ready` is never killed for silence or
  slowness: while it uses CPU time it is starting, however slowly (a restart would only
  repeat the same work). It is killed only when it has neither sent anything nor used any CPU
  for `START_STALL_LIMIT` (120 s) — blocked for good in a call that will not return. The
  first start under systemd is bounded by TimeoutStartSec as well (READY=1 is sent only once
  the children are ready).

Silence is counted only while the supervisor itself was running on time: when its own 0.5 s
tick comes `PARENT_STALL` late (the parent was starved or stopped too), every clock restarts,
since messages waiting unread in the socket are not the children's fault.
"""
from __future__ import annotations

import enum

from keepalived_py.record import Record

STOPPED_LIMIT = 1.5
READY_SILENCE_LIMIT = 60.0
START_STALL_LIMIT = 120.0
SLOW_LAG = 1.0          # a heartbeat this late (s) is reported as slow
PARENT_STALL = 2.0      # the supervisor's own tick this late: restart every clock
STOPPED_STATES = frozenset("Tt")
BEAT_EVERY = 4          # a heartbeat sent every 4th look at the loop's lag (every 2 s) ...
LAG_TOLD = 0.25         # ... and every one this late (s), or after one that was


def beat_due(seq: int, lag: float, told: float) -> bool:
    """Does the child send heartbeat `seq`, `lag` s late? `told`: the lag of the last one sent."""
    return seq % BEAT_EVERY == 0 or lag >= LAG_TOLD or told >= LAG_TOLD


class Verdict(enum.Enum):
    OK = "ok"
    SLOW = "slow"                   # report once: the loop runs late, the child is left alone
    RECOVERED = "recovered"         # report once: the lag is back under SLOW_LAG
    STOPPED = "stopped"             # kill: stopped for STOPPED_LIMIT
    SILENT = "silent"               # kill: ready, no message for READY_SILENCE_LIMIT
    HUNG = "hung"                   # kill: not ready, no message and no CPU for START_STALL_LIMIT

    @property
    def kill(self) -> bool:
        return self in (Verdict.STOPPED, Verdict.SILENT, Verdict.HUNG)


class Liveness(Record, kw_only=False, frozen=False):
    """One child process's evidence. `now` is the supervisor's monotonic clock."""

    started: float
    ready: bool = False
    last_message: float = 0.0
    seq: int = -1                   # last heartbeat sequence number seen
    lag: float = 0.0                # last reported loop lag (s)
    max_lag: float = 0.0
    slow: bool = False
    stopped_since: float | None = None
    cpu: int = -1                   # last seen utime+stime (clock ticks)
    cpu_changed: float = 0.0        # when it last changed

    def __post_init__(self) -> None:
        self.last_message = self.started
        self.cpu_changed = self.started

    def message(self, now: float, seq: int | None = None, lag: float | None = None) -> None:
        """Anything arrived from the child (ready, heartbeat, reply)."""
        self.last_message = now
        self.stopped_since = None
        if seq is not None:
            self.seq = seq
        if lag is not None:
            self.lag = max(0.0, lag)
            self.max_lag = max(self.max_lag, self.lag)

    def became_ready(self, now: float) -> None:
        self.ready = True
        self.message(now)

    @property
    def last_progress(self) -> float:
        """When it last showed life: a message, or CPU time used."""
        return max(self.last_message, self.cpu_changed)

    def restart_clocks(self, now: float) -> None:
        """The supervisor itself was not running: what it did not see is not evidence."""
        self.last_message = max(self.last_message, now)
        self.cpu_changed = max(self.cpu_changed, now)
        self.stopped_since = None

    def observe(self, now: float, state: str | None, cpu: int | None) -> Verdict:
        """A look at the process: its /proc state letter and CPU ticks (None: unreadable)."""
        if cpu is not None and cpu != self.cpu:
            self.cpu, self.cpu_changed = cpu, now
        if state is not None and state in STOPPED_STATES:
            if self.stopped_since is None:
                self.stopped_since = now
            elif now - self.stopped_since >= STOPPED_LIMIT:
                return Verdict.STOPPED
        else:
            self.stopped_since = None
        silent = now - self.last_message
        if self.ready:
            if silent >= READY_SILENCE_LIMIT:
                return Verdict.SILENT
        elif silent >= START_STALL_LIMIT and now - self.cpu_changed >= START_STALL_LIMIT:
            return Verdict.HUNG
        if self.ready and not self.slow and self.lag >= SLOW_LAG:
            self.slow = True
            return Verdict.SLOW
        if self.slow and self.lag < SLOW_LAG:
            self.slow = False
            return Verdict.RECOVERED
        return Verdict.OK

