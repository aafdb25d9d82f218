"""vrrp_track_process, the pure part: which processes match, and when a quorum counts as up.

Theory of operation. keepalived matches a process exactly (not a regular expression):
  * no parameters, no param_match, no full_command: the process name (/proc/PID/comm, at most
    15 characters) equals `process` (compared on its first 15 characters);
  * full_command without parameters or param_match: argv[0] equals `process`;
  * parameters or param_match given: the command line (argv joined by NUL) against `process`
    and the parameters: exactly by default, `partial` (the process may have more arguments
    after the configured ones), `initial` (the configured text is a prefix: the last parameter
    may be longer).
A tracker is up while quorum <= matching processes <= quorum_max. A change seen after the
initial scan waits `fork_delay` before counting as up and `terminate_delay` before counting as
down, so that a restart (terminate then fork) does not flap; a change that reverts within the
delay is never reported. Time is an input; deadlines are outputs.
"""
from __future__ import annotations

from dataclasses import field

from keepalived_py.config.model import VrrpTrackProcess
from keepalived_py.record import Record

TASK_COMM_LEN = 16  # the kernel keeps 15 characters of a process name


class ProcessInfo(Record, kw_only=False):
    """What the monitor knows of one live process."""

    pid: int
    comm: str
    cmdline: tuple[str, ...] = ()   # empty when not read (no tracker needs it) or a kernel thread


class ProcessSpec(Record, kw_only=False):
    name: str
    process: str
    params: tuple[str, ...]
    param_match: str | None       # None: exact; "partial"; "initial"
    full_command: bool

    @classmethod
    def from_config(cls, t: VrrpTrackProcess) -> ProcessSpec:
        return cls(t.name, t.process, tuple(t.parameters), t.param_match, t.full_command)

    @property
    def needs_cmdline(self) -> bool:
        return self.full_command or bool(self.params) or self.param_match is not None

    def matches(self, info: ProcessInfo) -> bool:
        if not self.needs_cmdline:
            return info.comm == self.process[: TASK_COMM_LEN - 1]
        if not info.cmdline:
            return False
        if not self.params and self.param_match is None:
            return info.cmdline[0] == self.process
        want = "\0".join((self.process, *self.params))
        have = "\0".join(info.cmdline)
        if self.param_match == "initial":
            return have.startswith(want)
        if self.param_match == "partial":
            return have == want or have.startswith(want + "\0")
        return have == want


class ProcessQuorum(Record, kw_only=False, frozen=False):
    """Counting and delays for one vrrp_track_process. No I/O."""

    spec: ProcessSpec
    quorum: int = 1
    quorum_max: int | None = None
    fork_delay: float = 0.0
    terminate_delay: float = 0.0
    pids: set[int] = field(default_factory=set)
    reported: bool | None = None          # None until the initial scan is applied
    _pending: tuple[bool, float] | None = None

    @classmethod
    def from_config(cls, t: VrrpTrackProcess) -> ProcessQuorum:
        fork = t.fork_delay if t.fork_delay is not None else t.delay
        term = t.terminate_delay if t.terminate_delay is not None else t.delay
        return cls(ProcessSpec.from_config(t), t.quorum, t.quorum_max, fork or 0.0, term or 0.0)

    def _quorate(self) -> bool:
        n = len(self.pids)
        return n >= self.quorum and (self.quorum_max is None or n <= self.quorum_max)

    def initial(self, pids: set[int]) -> bool:
        """Apply the start-up scan; the result is reported at once (no delay)."""
        self.pids = set(pids)
        self.reported = self._quorate()
        self._pending = None
        return self.reported

    def _reconsider(self, now: float) -> bool | None:
        up = self._quorate()
        if up == self.reported:
            self._pending = None
            return None
        delay = self.fork_delay if up else self.terminate_delay
        if delay <= 0:
            self.reported = up
            self._pending = None
            return up
        if self._pending is None or self._pending[0] != up:
            self._pending = (up, now + delay)
        return None

    def added(self, pid: int, now: float) -> bool | None:
        """A matching process appeared; returns the new reported state if it changed now."""
        if pid in self.pids:
            return None
        self.pids.add(pid)
        return self._reconsider(now)

    def removed(self, pid: int, now: float) -> bool | None:
        if pid not in self.pids:
            return None
        self.pids.discard(pid)
        return self._reconsider(now)

    def resync(self, pids: set[int], now: float) -> bool | None:
        """Replace the whole set (a polling round or a lost-events rescan)."""
        self.pids = set(pids)
        return self._reconsider(now)

    def next_deadline(self) -> float | None:
        return None if self._pending is None else self._pending[1]

    def expire(self, now: float) -> bool | None:
        """Timer: report a pending change whose delay has passed."""
        if self._pending is None or now < self._pending[1]:
            return None
        up, _ = self._pending
        self._pending = None
        if up != self._quorate() or up == self.reported:
            return None
        self.reported = up
        return up
