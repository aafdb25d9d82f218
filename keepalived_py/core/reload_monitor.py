"""global_defs reload_time_file / reload_repeat: a reload at the time the file names, as
keepalived 2.2.7's core/reload_monitor.c schedules it.

The file holds one line: `HH:MM:SS` (the next such time, today or tomorrow), `YY-MM-DD
HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, local time, or UTC with a trailing `Z`. At that time the
parent reloads (as on SIGHUP) and removes the file — unless `reload_repeat` is set and the
line has no date: then the same time comes again the next day. A missing, empty or invalid
file, or a date in the past, cancels a scheduled reload (logged as keepalived does).

keepalived follows the file with inotify; here it is looked at every second (POLL), so an
edit is seen within a second; the reload itself is a timer at the exact time.

Also `reload_file`: a file that exists while the parent re-reads its configuration (keepalived
creates it mode 0644 and removes it once the configuration is read).
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.supervisor")

POLL = 1.0
DEFAULT_RELOAD_FILE = "/run/keepalived.reload"
INVALID, PAST = -1, -2


def parse_datetime(text: str, now: float) -> tuple[float, bool] | int:
    """(epoch seconds, date given) for the file's line, INVALID or PAST (as keepalived)."""
    utc = text.endswith("Z")
    body = text[:-1] if utc else text
    fmt = {8: "%H:%M:%S", 17: "%y-%m-%d %H:%M:%S", 19: "%Y-%m-%d %H:%M:%S"}.get(len(body))
    if fmt is None:
        log.info("reload.time.format", compat=f"Reload time {text} format is incorrect - ignoring")
        return INVALID
    base = time.gmtime(now) if utc else time.localtime(now)
    try:
        parsed = time.strptime(body, fmt)
    except ValueError:
        log.info("reload.time.invalid", compat=f"Reload date/time {text} invalid - ignoring")
        return INVALID
    if len(body) == 8:              # a time alone: today's date
        fields = (base.tm_year, base.tm_mon, base.tm_mday,
                  parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    else:
        fields = parsed[:6]
    tm = (*fields, 0, 0, -1)
    import calendar
    t = float(calendar.timegm(tm)) if utc else time.mktime(tm)  # type: ignore[arg-type]
    if t <= now:
        if len(body) != 8:
            log.info("reload.time.past", compat=f"Reload time {text} is in the past - ignoring")
            return PAST
        t += 86400                  # tomorrow (keepalived: tm_mday++ and mktime again)
    return t, len(body) >= 17


class ReloadMonitor:
    """Watches reload_time_file; calls `reload()` at the time it names."""

    def __init__(self, path: str, repeat: bool, reload: Callable[[], None]) -> None:
        self.path, self.repeat, self.reload = path, repeat, reload
        self.when: float | None = None          # the scheduled wall time
        self.date_given = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: tuple[float, int] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._cancel(False)

    async def _watch(self) -> None:
        while True:
            try:
                st = os.stat(self.path)
                sig: tuple[float, int] | None = (st.st_mtime, st.st_size)
            except OSError:
                sig = None
            if sig != self._seen:
                self._seen = sig
                self.read()
            await asyncio.sleep(POLL)

    def read(self) -> None:
        try:
            with open(self.path) as f:
                line = f.readline(21).rstrip("\n")
        except OSError:
            self._cancel(True)
            return
        if not line:
            self._cancel(True)
            return
        got = parse_datetime(line, time.time())
        if isinstance(got, int):
            log.info("reload.time.ignored",
                     compat=f"Invalid reload time '{line}' specified - ignoring" if got == INVALID
                     else "Reload date/time is in the past - ignoring")
            self._cancel(True)
            return
        when, self.date_given = got
        if when == self.when:
            return
        shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        if self.when is not None:
            old = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.when))
            log.info("reload.time.updated", compat=f"Reload time updated from {old} to {shown}")
        else:
            log.info("reload.time.scheduled", compat=f"Scheduling reload for {shown}")
        self._cancel(False)
        self.when = when
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + max(0.0, when - time.time()), self._fire)

    def _cancel(self, announce: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            if announce and self.when is not None:
                shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.when))
                log.info("reload.time.cancelled", compat=f"Cancelling reload scheduled for {shown}")
        self.when = None

    def _fire(self) -> None:
        self._timer = None
        self.when = None
        if not self.repeat or self.date_given:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        else:
            self._seen = None       # the same time again tomorrow: read it once more
        self.reload()


def monitor_for(path: str | None, repeat: bool, reload: Callable[[], None]
                ) -> ReloadMonitor | None:
    """A started monitor for reload_time_file (None when the configuration has none)."""
    if not path:
        return None
    m = ReloadMonitor(path, repeat, reload)
    m.start()
    return m


def check_passes(log_path: str | None, diagnostics: Any) -> bool:
    """global_defs reload_check_config: the new configuration's -t lines go to `log_path`
    (truncated first); any error, warning or security problem (a non-zero -t) refuses the
    reload, as keepalived's config-test child does. None: no check (True)."""
    if log_path is None:
        return True
    try:
        with open(log_path, "w") as f:
            f.writelines(f"{d}\n" for d in diagnostics.items)
    except OSError as e:
        log.info("reload.check.log_failed", path=log_path, error=e.strerror)
    if diagnostics.exit_code == 0:
        return True
    log.info("reload.check.failed",
             compat=f"New config failed validation, see {log_path} for details")
    return False


def reload_file_path(configured: str | None, pid_dir: bool) -> str | None:
    """reload_file's path (None: not configured; "" : keepalived's default name)."""
    if configured is None:
        return None
    if configured:
        return configured
    return "/run/keepalived/keepalived.reload" if pid_dir else DEFAULT_RELOAD_FILE


def create_reload_file(path: str | None) -> None:
    if path is None:
        return
    old = os.umask(0o022)           # rw-r--r-- whatever the daemon's umask
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    except OSError as e:
        log.info("reload.file.failed", path=path, error=e.strerror,
                 compat=f"Failed to create reload file ({path}) {e.errno} - {e.strerror}")
    finally:
        os.umask(old)


def remove_reload_file(path: str | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass
