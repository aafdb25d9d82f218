"""vrrp_script: run a check command every `interval`, turn exit codes into an up/down state.

Theory of operation. `ScriptCounter` is keepalived's rise/fall counter (pure): `result`
runs from 0 to rise+fall-1; a success below rise-1 counts up, reaching rise reports OK and
jumps to the top; a failure above rise counts down, reaching rise (or any failure while the
script has not reported yet) reports FAILED and drops to 0. A script starts "not yet known"
(result rise-1: one success is enough) unless `init_fail`, which starts it FAILED.

`run_command` is the edge: the command is executed directly (no shell), as its user and
group, in its own process group, with no terminal and its output discarded, so a script
that prints megabytes or forks children cannot hurt the daemon. Past its timeout the group
gets SIGTERM, then SIGKILL; the exit is always reaped. `ScriptRunner` schedules every
vrrp_script on the event loop and never blocks it.
"""
from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping, Sequence

from keepalived_py.config.model import Script, VrrpScript
from keepalived_py.obs import slog
from keepalived_py.record import Record

log = slog.get_logger("keepalived_py.track.script")


class ScriptCounter(Record, kw_only=False, frozen=False):
    """keepalived's rise/fall accounting for one vrrp_script. No I/O."""

    rise: int = 1
    fall: int = 1
    result: int = 0
    reported: bool | None = None      # None: no result yet (INIT)

    @classmethod
    def start(cls, rise: int, fall: int, init_fail: bool) -> ScriptCounter:
        rise, fall = max(1, rise), max(1, fall)
        if init_fail:
            return cls(rise, fall, 0, False)
        return cls(rise, fall, rise - 1, None)

    @classmethod
    def resumed(cls, rise: int, fall: int, ok: bool) -> ScriptCounter:
        """A counter carried over a reload or a child restart with its known result:
        keepalived's SCRIPT_INIT_STATE_INIT_RELOAD keeps the script's state."""
        rise, fall = max(1, rise), max(1, fall)
        return cls(rise, fall, rise + fall - 1 if ok else 0, ok)

    def record(self, success: bool) -> bool | None:
        """Count one run; returns the new state when it changes (or is first known)."""
        top = self.rise + self.fall - 1
        if success:
            if self.result < self.rise - 1:
                self.result += 1
                return None
            if self.result == top and self.reported is True:
                return None
            changed = self.reported is not True
            self.result = top
            self.reported = True
            return True if changed else None
        if self.result > self.rise:
            self.result -= 1
            return None
        changed = self.reported is None or self.result == self.rise
        self.result = 0
        if changed:
            self.reported = False
            return False
        return None


class Outcome(Record, kw_only=False):
    success: bool
    exit_type: str              # "succeeded" | "failed" | "timed_out"
    reason: str = ""            # "exited with status 2", "due to signal 9", "cannot execute: ..."
    code: int | None = None     # the exit status when the command exited


def _creds(script: Script) -> dict[str, object]:
    """keepalived's setgid(gid), setgroups(1, &gid), setuid(uid): a user without a group runs
    with the user's primary group, and never keeps the daemon's supplementary groups.
    Raises KeyError for an unknown user or group."""
    import grp
    import pwd
    user = script.user if script.user not in (None, "root") else None
    group = script.group if script.group not in (None, "root") else None
    if user is None and group is None:
        return {}
    pw = pwd.getpwnam(user) if user is not None else None
    gid = grp.getgrnam(group).gr_gid if group is not None else (pw.pw_gid if pw else 0)
    kw: dict[str, object] = {"group": gid, "extra_groups": [gid]}
    if pw is not None:
        kw["user"] = pw.pw_uid
    return kw


async def run_command(script: Script, timeout: float | None) -> Outcome:
    """Run `script` once. Never raises for a bad script: the outcome says why it failed."""
    from keepalived_py.notify.scripts import as_user, refuse_unsafe
    script = as_user(script)                 # script_user / keepalived_script (issue 12.5)
    if (unsafe := refuse_unsafe(script)) is not None:
        return Outcome(False, "failed", unsafe)
    argv = list(script.argv)
    if not argv:
        return Outcome(False, "failed", "empty command")
    if argv[0].startswith("<"):
        # keepalived's special form "</path": succeed if the file can be opened
        path = argv[0][1:].strip()
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        except OSError as e:
            return Outcome(False, "failed", f"cannot open {path}: {os.strerror(e.errno or 0)}")
        return Outcome(True, "succeeded")
    from keepalived_py.core.scriptenv import exec_argv, prepare
    spawn, started = prepare()      # nice, rlimits, signals, umask as keepalived's (issue 12)
    try:
        proc = await asyncio.create_subprocess_exec(
            *exec_argv(argv), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True, close_fds=True,
            **_creds(script), **spawn)  # type: ignore[arg-type, misc]
    except (OSError, ValueError, KeyError) as e:
        detail = os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
        return Outcome(False, "failed", f"cannot execute {argv[0]}: {detail}")
    if started is not None:
        started(proc.pid)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        await _terminate_group(proc)
        return Outcome(False, "timed_out")
    finally:
        if proc.returncode is None:          # cancelled: never leave a child behind
            await _terminate_group(proc)
    if code == 0:
        return Outcome(True, "succeeded", code=0)
    if code < 0:
        return Outcome(False, "failed", f"due to signal {-code}")
    return Outcome(False, "failed", f"exited with status {code}", code=code)


async def _terminate_group(proc: asyncio.subprocess.Process, grace: float = 1.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            continue
        break
    try:                                    # whatever the script forked dies with it
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        # Seen with Debian's Python 3.11.2 when many scripts are cancelled at once: asyncio's
        # child watcher lost the exit, and proc.wait() would never return (a tracker stuck for
        # good). The process got SIGKILL above: reap it here if it is still ours to reap.
        log.warning("track.script.exit_lost", pid=proc.pid)
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pass


StateCallback = Callable[[str, bool], None]


class ScriptRunner:
    """Runs every vrrp_script on its interval; reports (name, ok) when a script's state changes."""

    def __init__(self, scripts: Sequence[VrrpScript], on_change: StateCallback,
                 known: Mapping[str, bool] | None = None) -> None:
        """`known`: results of scripts that did not change, carried over a reload or a child
        restart; they keep their state instead of starting again from INIT."""
        self.scripts = {s.name: s for s in scripts}
        known = known or {}
        self.counters = {s.name: ScriptCounter.resumed(s.rise, s.fall, known[s.name])
                         if s.name in known else ScriptCounter.start(s.rise, s.fall, s.init_fail)
                         for s in scripts}
        self.carried = {name for name in self.scripts if name in known}
        self.on_change = on_change
        self.runs = 0
        self.timeouts = 0
        self._tasks: list[asyncio.Task[None]] = []

    def state(self, name: str) -> bool | None:
        c = self.counters.get(name)
        return None if c is None else c.reported

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for name, c in self.counters.items():
            if name in self.carried:
                log.info("track.script.carried", script=name, ok=c.reported,
                         compat=f"VRRP_Script({name}) considered "
                                f"{'successful' if c.reported else 'failed'} on reload")
            # init_fail is not reported now: keepalived applies no script result before the
            # script's first run (its init_fail only means `rise` successes are needed)
        # spread the first runs over the first interval (at most 1 s), so that many scripts
        # are never forked in one burst on the loop that sends adverts
        n = len(self.scripts)
        self._tasks = [loop.create_task(self._run(s, min(s.interval, 1.0) * i / n))
                       for i, s in enumerate(self.scripts.values())]

    async def stop(self, grace: float = 5.0) -> None:
        """Cancel every script's loop (their processes are killed); bounded, so that a reload
        or a shutdown never waits on a script whose exit asyncio failed to see."""
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            if pending:
                log.warning("track.script.stop_incomplete", scripts=len(pending))
        self._tasks = []

    async def _run(self, vs: VrrpScript, offset: float) -> None:
        loop = asyncio.get_running_loop()
        timeout = vs.timeout if vs.timeout else vs.interval
        await asyncio.sleep(offset)
        next_at = loop.time()
        while True:
            outcome = await run_command(vs.script, timeout)
            self.runs += 1
            if outcome.exit_type == "timed_out":
                self.timeouts += 1
            change = self.counters[vs.name].record(outcome.success)
            if change is not None:
                log.info("track.script.changed", script=vs.name, ok=change,
                         exit_type=outcome.exit_type, reason=outcome.reason,
                         compat=f"VRRP_Script({vs.name}) {outcome.exit_type}"
                         + (f" ({outcome.reason})" if outcome.reason and not change else ""))
                self.on_change(vs.name, change)
            next_at = max(next_at + vs.interval, loop.time())
            await asyncio.sleep(next_at - loop.time())
