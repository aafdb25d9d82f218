"""notify_* scripts: launched on state changes, never waited for on the VRRP path.

Theory of operation. `vrrp_notify_args` builds keepalived's argument list for the generic
`notify` script (TYPE NAME STATE PRIORITY, priority 0 for groups); the state-specific scripts
(notify_master...) get no extra arguments. `Notifier.launch` starts the command directly (no
shell), as the script's user, in its own process group, with output discarded, and reaps it
in the background; the number running at once is bounded so a flapping instance cannot fork
the host to death. `check_script_security` is keepalived's enable_script_security rule: every
component of the script's path must be owned by root and not writable by a non-root group or
by others (directories with the sticky bit excepted); the first unsafe component is named.

Users (keepalived lib/notify.c get_default_script_user). A script runs as its own `user NAME
[GROUP]` (vrrp_script, MISC_CHECK) or the user and group written after a notify script; else
as global `script_user USER [GROUP]`; else as `keepalived_script` when that user exists; else
as the daemon's own user. `set_script_defaults` records the global part once per configuration
(start and reload of each child) and `as_user` applies it; `run_command`, which every script
goes through, calls `as_user` and, under enable_script_security, refuses an unsafe script.
"""
from __future__ import annotations

import asyncio
import os
import stat

from keepalived_py.config.model import Script
from keepalived_py.obs import slog
from keepalived_py.record import Record

log = slog.get_logger("keepalived_py.notify")

MAX_RUNNING = 64
DEFAULT_SCRIPT_USER = "keepalived_script"


class ScriptDefaults(Record, kw_only=False):
    user: str | None = None          # None: the daemon's own user
    group: str | None = None
    security: bool = False


_defaults = ScriptDefaults()
_unsafe_logged: set[str] = set()


def script_defaults_of(g: object) -> ScriptDefaults:
    """The default user of scripts without one, from global_defs (looks up keepalived_script)."""
    security = bool(getattr(g, "enable_script_security", False))
    user = getattr(g, "script_user", None)
    if user:
        return ScriptDefaults(user, getattr(g, "script_group", None), security)
    import pwd
    try:
        pwd.getpwnam(DEFAULT_SCRIPT_USER)
    except KeyError:
        return ScriptDefaults(None, None, security)
    return ScriptDefaults(DEFAULT_SCRIPT_USER, None, security)


def set_script_defaults(g: object) -> ScriptDefaults:
    """Record the configuration's script defaults for this process (each child, each load)."""
    global _defaults
    _defaults = script_defaults_of(g)
    _unsafe_logged.clear()
    return _defaults


def as_user(script: Script, defaults: ScriptDefaults | None = None) -> Script:
    """`script` with the default user and group applied when it names no user of its own."""
    d = _defaults if defaults is None else defaults
    if script.user is not None or d.user is None:
        return script
    return Script(argv=script.argv, text=script.text, user=d.user, group=d.group, pos=script.pos)


def refuse_unsafe(script: Script) -> str | None:
    """Under enable_script_security, why `script` must not run (logged once per path)."""
    if not _defaults.security or not script.argv:
        return None
    verdict = check_script_security(script.argv[0])
    if verdict.ok:
        return None
    if script.argv[0] not in _unsafe_logged:
        _unsafe_logged.add(script.argv[0])
        log.warning("notify.script.unsafe", script=script.argv[0], path=verdict.path,
                    reason=verdict.reason,
                    compat=f"Unsafe permissions found for script '{script.argv[0]}' - disabling.")
    return f"unsafe permissions: {verdict.path} {verdict.reason}"


def vrrp_notify_args(kind: str, name: str, state: str, priority: int) -> tuple[str, ...]:
    """Extra arguments keepalived appends to a generic notify script: TYPE NAME STATE PRIO."""
    return (kind, name, state, str(priority))


class SecurityVerdict(Record, kw_only=False):
    ok: bool
    path: str = ""          # the component found unsafe or missing
    reason: str = ""


def check_script_security(argv0: str) -> SecurityVerdict:
    """keepalived's check of a script path (enable_script_security). Pure but for lstat."""
    if argv0.startswith("<"):
        return SecurityVerdict(True)
    if "/" not in argv0:
        from shutil import which
        found = which(argv0)
        if found is None:
            return SecurityVerdict(False, argv0, "not found in PATH")
        argv0 = found
    path = os.path.abspath(argv0)
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        comp = "/".join(parts[:i]) or "/"
        last = i == len(parts)
        try:
            st = os.lstat(comp)
        except OSError as e:
            return SecurityVerdict(False, comp, os.strerror(e.errno or 0))
        if not last and not stat.S_ISDIR(st.st_mode):
            return SecurityVerdict(False, comp, "not a directory")
        if last and not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            return SecurityVerdict(False, comp, "not a regular file")
        if st.st_uid != 0:
            return SecurityVerdict(False, comp, f"owned by uid {st.st_uid}, not root")
        checks_write = stat.S_ISREG(st.st_mode) or (stat.S_ISDIR(st.st_mode)
                                                     and not st.st_mode & stat.S_ISVTX)
        if checks_write and st.st_gid != 0 and st.st_mode & stat.S_IWGRP:
            return SecurityVerdict(False, comp, f"writable by group {st.st_gid}")
        if checks_write and st.st_mode & stat.S_IWOTH:
            return SecurityVerdict(False, comp, "writable by everyone")
    if os.path.islink(path):
        real = os.path.realpath(path)
        if real != path:
            return check_script_security(real)
    return SecurityVerdict(True)


class Notifier:
    """Starts notify scripts without waiting for them; reaps them in the background."""

    def __init__(self, *, script_security: bool = False) -> None:
        self.script_security = script_security
        self.launched = 0
        self.refused = 0
        self.dropped = 0
        self._running: set[asyncio.Task[None]] = set()
        self._unsafe_logged: set[str] = set()

    def launch(self, script: Script, extra_args: tuple[str, ...] = ()) -> bool:
        """Start `script` (with `extra_args`) now; False if refused or over the limit."""
        if not script.argv:
            return False
        if self.script_security:
            verdict = check_script_security(script.argv[0])
            if not verdict.ok:
                self.refused += 1
                if script.argv[0] not in self._unsafe_logged:
                    self._unsafe_logged.add(script.argv[0])
                    log.warning("notify.script.unsafe", script=script.argv[0],
                                path=verdict.path, reason=verdict.reason,
                                compat=f"Unsafe permissions found for script '{script.argv[0]}'"
                                       " - disabling.")
                return False
        if len(self._running) >= MAX_RUNNING:
            self.dropped += 1
            log.warning("notify.script.dropped", script=script.text, running=len(self._running))
            return False
        task = asyncio.get_running_loop().create_task(self._run(script, extra_args))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        self.launched += 1
        return True

    async def _run(self, script: Script, extra_args: tuple[str, ...]) -> None:
        from keepalived_py.track.script import run_command
        argv = (*script.argv, *extra_args)
        outcome = await run_command(Script(argv=argv, text=script.text, user=script.user,
                                           group=script.group), timeout=None)
        if not outcome.success:
            log.info("notify.script.failed", script=script.text, reason=outcome.reason)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for running notify scripts (at stop: notify_stop must run to the end)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)
