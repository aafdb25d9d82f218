"""notify_fifo / vrrp_notify_fifo / lvs_notify_fifo: one line per event, keepalived's format.

    INSTANCE "VI_1" MASTER 100
    GROUP "G1" BACKUP 0
    INSTANCE "VI_1" MASTER_PRIORITY 90

The FIFO is opened read-write and non-blocking (so opening never waits for a reader and a
reader that goes away does not raise SIGPIPE); a full pipe (nobody reading) drops the line and
counts it, it never blocks the daemon. If a *_fifo_script is configured it is started with the
FIFO's path as its argument and reads the lines, as in keepalived. A path that exists and is
not a FIFO is refused, never replaced; a missing one is created with mode 0600, owned by the
reader script's user (keepalived chowns it), and removed again at close (a FIFO that was
there before is left alone).

The *_fifo_script (keepalived lib/notify.c fifo_open) runs for as long as the FIFO is open, in
its own process group, as its user. keepalived 2.2.7 does not restart it when it exits: it logs
"vrrp notify fifo script terminated" (the checker child: "lvs notify fifo script terminated")
and carries on writing lines for whoever reads; so do we, so a script that exits at once costs
one line in the log and never a restart loop. At close (stop, or a reload that changes the FIFO)
the script gets SIGTERM, then SIGKILL if it is still there a second later.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat

from keepalived_py.config.model import Script
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.notify.fifo")


def vrrp_fifo_line(kind: str, name: str, state: str, priority: int) -> bytes:
    return f'{kind} "{name}" {state} {priority}\n'.encode()


def lvs_rs_fifo_line(rs: object, vs: object, up: bool) -> bytes:
    """keepalived ipwrapper.c notify_fifo_rs: RS [198.51.100.11]:tcp:8080 [192.0.2.100]:tcp:80 UP"""
    from keepalived_py.notify.smtp import format_rs, format_vs
    return f"RS {format_rs(rs, vs)} {format_vs(vs)} {'UP' if up else 'DOWN'}\n".encode()


def lvs_vs_fifo_line(vs: object, up: bool) -> bytes:
    """keepalived ipwrapper.c notify_fifo_vs: VS [192.0.2.100]:tcp:80 UP"""
    from keepalived_py.notify.smtp import format_vs
    return f"VS {format_vs(vs)} {'UP' if up else 'DOWN'}\n".encode()


class NotifyFifo:
    def __init__(self, path: str, script: Script | None = None, role: str = "vrrp",
                 script_security: bool = False) -> None:
        self.path = path
        self.fd = -1
        self.written = 0
        self.dropped = 0
        self.script = script
        self.role = role                     # "vrrp" or "lvs": keepalived's word in the log
        self.script_security = script_security
        self.created = False
        self.task: asyncio.Task[None] | None = None

    def open(self) -> bool:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            try:
                os.mkfifo(self.path, 0o600)
                self.created = True
                self._give_to_script_user()
            except OSError as e:
                log.error("notify.fifo.create_failed", path=self.path, error=os.strerror(e.errno or 0))
                return False
        else:
            if not stat.S_ISFIFO(st.st_mode):
                log.error("notify.fifo.not_a_fifo", path=self.path)
                return False
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            log.error("notify.fifo.open_failed", path=self.path, error=os.strerror(e.errno or 0))
            self._unlink()
            return False
        if self.script is not None:
            self._start_script(self.script)
        return True

    def _give_to_script_user(self) -> None:
        """keepalived chowns the FIFO it creates to the FIFO's user (the default script user):
        a reader script that runs as keepalived_script or script_user can open it."""
        if self.script is None:
            return
        from keepalived_py.notify.scripts import as_user
        s = as_user(self.script)
        if s.user in (None, "root") and s.group in (None, "root"):
            return
        import grp
        import pwd
        try:
            pw = pwd.getpwnam(s.user) if s.user not in (None, "root") else None
            gid = grp.getgrnam(s.group).gr_gid if s.group else (pw.pw_gid if pw else -1)
            os.chown(self.path, pw.pw_uid if pw else -1, gid)
        except (KeyError, OSError) as e:
            log.info("notify.fifo.chown_failed", path=self.path, error=str(e),
                     compat=f"Failed to set uid:gid for fifo {self.path}")

    def _start_script(self, script: Script) -> None:
        """Start the reader script with the FIFO's path as its last argument (needs a loop)."""
        if self.script_security and not script.argv[0].startswith("<"):
            from keepalived_py.notify.scripts import check_script_security
            verdict = check_script_security(script.argv[0])
            if not verdict.ok:
                log.warning("notify.fifo.script_unsafe", script=script.argv[0], path=verdict.path,
                            reason=verdict.reason,
                            compat=f"Unsafe permissions found for script '{script.argv[0]}'"
                                   " - disabling.")
                return
        from keepalived_py.track.script import run_command
        argv = (*script.argv, self.path)
        run = Script(argv=argv, text=script.text, user=script.user, group=script.group)
        role = self.role

        async def supervise() -> None:
            outcome = await run_command(run, timeout=None)
            log.info("notify.fifo.script_terminated", script=script.text, fifo=self.path,
                     reason=outcome.reason or outcome.exit_type,
                     compat=f"{role} notify fifo script terminated")
        self.task = asyncio.get_running_loop().create_task(supervise())
        log.debug("notify.fifo.script_started", script=script.text, fifo=self.path)

    @property
    def script_running(self) -> bool:
        return self.task is not None and not self.task.done()

    def _unlink(self) -> None:
        if self.created:
            # first, so that a script looping on reopening the FIFO cannot reopen this one
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.created = False

    def write(self, line: bytes) -> bool:
        if self.fd < 0:
            return False
        try:
            os.write(self.fd, line)
        except OSError as e:
            self.dropped += 1
            if e.errno not in (errno.EAGAIN, errno.EPIPE):
                log.warning("notify.fifo.write_failed", path=self.path, error=os.strerror(e.errno or 0))
            return False
        self.written += 1
        return True

    def close(self) -> None:
        """Close the FIFO (removing it if we created it); the script gets SIGTERM when the
        loop next runs. `aclose` also waits for the script to be gone."""
        self._unlink()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.task is not None and not self.task.done():
            self.task.cancel()                 # run_command's cancellation ends its group

    async def aclose(self) -> None:
        self.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self.task), 3.0)
            self.task = None


def open_fifos(specs: list[tuple[str | None, Script | None]], role: str,
               script_security: bool = False) -> list[NotifyFifo]:
    """Open a child's FIFOs: the global notify_fifo first, then its own (vrrp_ or lvs_); a path
    given twice is opened once, with the first script (keepalived ignores the second FIFO)."""
    out: list[NotifyFifo] = []
    seen: set[str] = set()
    for path, script in specs:
        if not path or path in seen:
            continue
        seen.add(path)
        f = NotifyFifo(path, script, role, script_security)
        if f.open():
            out.append(f)
    return out
