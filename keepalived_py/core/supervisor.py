"""The parent: start, watch, restart and reload the VRRP, checker and BFD children.

Theory of operation. The parent validates the configuration, writes its own pidfile (refusing
to start if it names a live daemon), then runs one asyncio loop. Each child is forked from
the initialised parent and runs its role there, without exec (core/childrun.py; the parent
never imports the roles' netlink or packet code), with one end of a socketpair (the first VRRP
child, in the foreground, is forked at exec instead and started here: core/prefork.py); the parent
writes the child's pidfile right after the fork — one line, atomically — and rewrites it at
every respawn. Every
process looks like keepalived's to ps, pidof and pgrep: command line `keepalived ARGS...` and
comm `keepalived` (or process_name, vrrp_process_name, checker_process_name). Children send
heartbeats from their event loop and report `ready`. A child that exits or dies by any signal
is reaped at once (SIGCHLD -> waitpid loop, so no zombie survives) and restarted: the first
time at once, then with a doubling backoff (core/restart.py); with -R the whole daemon stops
instead. "At once" is in the SIGCHLD's own wake-up of the loop (asyncio's signal wake-up fd, no
polling): the successor is forked before the death is logged (issue 15). Every 0.5 s the
parent judges each child's progress (core/liveness.py): a stopped
child (SIGSTOP) is killed — and so restarted — within about two seconds; a slow one (a loaded
host, a starved VM) is left alone however late its loop runs; a ready child silent for a
minute, or a starting one that neither talks nor uses CPU for two, is killed.
SIGHUP reloads: the file is read and validated again; an invalid one is logged (file:line)
and nothing changes; a valid one is sent — as the validated model itself — to the running
children, a child the new configuration needs is started (and its pidfile appears), one it no
longer needs is stopped (and its pidfile goes). HUPs arriving during a reload are folded into
one more reload. SIGTERM/SIGINT stop everything and remove the pidfiles.
The BFD child (only with bfd_instance blocks, not with -B) reports sessions Up/Down to us;
we relay each to the VRRP and checker children (track_bfd, BFD_CHECK) and give a child we
(re)start the last state of every session.
"""
from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keepalived_py.config import LoadResult, load_config
from keepalived_py.config.model import Config
from keepalived_py.core import prefork, sdnotify, startstop, umask
from keepalived_py.core.channel import encode, read_message
from keepalived_py.core.child import (
    DUMP_SIGNALS,
    EXIT_CONFIG,
    EXIT_FATAL,
    EXIT_MISSING_PERMISSION,
    PREV_EXIT_ENV,
    DumpKind,
)
from keepalived_py.core.deathwatch import death_by_signal
from keepalived_py.core.liveness import PARENT_STALL, Liveness, Verdict
from keepalived_py.core.pidfile import pid_alive, read_pidfile, remove_pidfile, write_pidfile
from keepalived_py.core.process import ProcStat, comm_for, set_cmdline, set_name
from keepalived_py.core.restart import Backoff
from keepalived_py.errors import PidfileError
from keepalived_py.obs import slog
from keepalived_py.options import Options, resolve_pidfiles
from keepalived_py.record import Record, field

if TYPE_CHECKING:
    # asyncio (with ssl, concurrent.futures...) is imported once the first VRRP child has its
    # start (core/prefork.py): each use below imports it (a dictionary look-up after the first)
    import asyncio

log = slog.get_logger("keepalived_py.supervisor")

WATCH_INTERVAL = 0.5
EXTEND_EVERY = 10.0              # systemd: while starting children progress, extend the start timeout
# keepalived's exit statuses (lib/scheduler.h), so that systemd's RestartPreventExitStatus=
# can tell them apart; a child exiting FATAL, CONFIG or MISSING_PERMISSION ends the daemon
EXIT_OK = 0
EXIT_NO_CONFIG = 6
PERMANENT = {EXIT_FATAL: "FATAL", EXIT_CONFIG: "CONFIG", EXIT_MISSING_PERMISSION: "missing permission"}
ROLES = ("vrrp", "checker", "bfd")
RELOAD_READY_TIMEOUT = 30.0    # READY=1 anyway (STATUS says who is late) after a reload this old
EARLY_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}
# KEEPALIVED_PY_EXEC_CHILDREN=1: exec a fresh interpreter per child instead of forking one
# from the initialised parent (core/childrun.py)
EXEC_CHILDREN = os.environ.get("KEEPALIVED_PY_EXEC_CHILDREN", "") not in ("", "0")
_ALL_SIGNALS = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
_HANDLED_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2,
                    signal.SIGCHLD, signal.SIGRTMIN + 2, signal.SIGRTMIN + 29)


class Child(Record, kw_only=False, frozen=False):
    role: str
    pidfile: str
    pid: int = 0
    started: float = 0.0
    live: Liveness | None = None      # evidence of progress; None once killed or gone
    ready: bool = False
    wanted: bool = True
    died_at: float | None = None      # CLOCK_MONOTONIC of the last death, for the successor
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    restart: asyncio.TimerHandle | None = None
    spawns: int = 0
    reload_pending: bool = False      # sent a reload it has not answered yet
    reload_failed: bool = False


def needed_roles(options: Options, config: Config) -> set[str]:
    """keepalived's rule: -P / -C restrict; --all forces; else what the configuration uses."""
    if options.use_vrrp or options.use_checker:
        roles = set()
        if options.use_vrrp:
            roles.add("vrrp")
        if options.use_checker:
            roles.add("checker")
        return roles
    if options.all_children:
        return set(ROLES) - ({"bfd"} if options.no_bfd else set())
    roles = set()
    if config.has_vrrp:
        roles.add("vrrp")
    if config.has_checker:
        roles.add("checker")
    if config.bfd_instances and not options.no_bfd:     # keepalived's third child (issue 17)
        roles.add("bfd")
    return roles


class Supervisor:
    def __init__(self, options: Options, result: LoadResult) -> None:
        import asyncio
        assert result.config is not None
        self.options = options
        self.config: Config = result.config
        self._known_errors = _errors_of(result)
        self.pidfiles = resolve_pidfiles(options)
        self.children: dict[str, Child] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False
        self.done = asyncio.Event()
        self.exit_code = 0
        self._reload_wanted = False
        self._reloading = False
        self.connector: socket.socket | None = None     # proc connector opened before setns
        self._ready_sent = False
        self._reload_waiting = False       # READY=1 owed once the children applied a reload
        self.started_at = time.time()
        self.reloads = 0
        self.last_reload: dict[str, Any] | None = None   # {"at": wall time, "result": text}
        self.control: Any = None
        self._reload_timer: asyncio.TimerHandle | None = None
        self._watch_due = 0.0
        self._stat = ProcStat()             # the children's /proc/PID/stat, kept open
        self._extended_at = 0.0
        self.bfd_up: dict[str, bool] = {}   # last state of each BFD session, for new children

    # -- children ------------------------------------------------------------------------
    def spawn(self, child: Child, announce: Callable[[], None] | None = None) -> None:
        """Fork (or exec) `child`, then write its pidfile; `announce` (the log lines of the
        death this replaces) runs after the fork, so that nothing stands between a SIGCHLD
        and the successor's fork (a log write can block on a loaded host's disk or syslog)."""
        assert self.loop is not None
        child.restart = None
        adopted = prefork.take(child.role) if child.spawns == 0 else None
        if adopted is not None:     # forked at exec, started already (core/prefork.py)
            self._began(child, adopted.pid, adopted.sock, True, announce, adopted.early)
            return
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        os.set_inheritable(child_end.fileno(), True)
        connector = "-"
        if self.connector is not None and child.role == "vrrp":
            os.set_inheritable(self.connector.fileno(), True)
            connector = str(self.connector.fileno())
        me = os.getpid()
        forked = not EXEC_CHILDREN
        if forked and child.spawns == 0 and child.role == "checker":   # hook: issue 16.3
            from keepalived_py.core import rolewarm  # (its memory: core/rolewarm.py)
            rolewarm.preload(child.role, [c.role for c in self.children.values() if c.pid])
        env: dict[str, str] = {}
        argv: list[str] = []
        if not forked:
            env = dict(os.environ)
            if child.died_at is not None:
                env[PREV_EXIT_ENV] = repr(child.died_at)
            # the title at the end is the command line the child shows (core/process.set_cmdline)
            argv = [sys.executable, "-m", "keepalived_py.core.childrun", child.role, str(me),
                    str(child_end.fileno()), connector, "--", *title(self.options)]
        # Between fork and exec the child still has our signal handlers and shares our asyncio
        # wakeup descriptor: a signal meant for it (a quick `kill` of the new pid) would be read
        # by *our* loop - a SIGTERM for the child stopping the whole daemon. So signals are
        # blocked across the fork; the child drops the wakeup fd and our handlers, then takes
        # what is pending with the default actions, as the new program it is about to be.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
        if forked:
            gc.freeze()         # the parent's objects stay out of the child's collections
        pid = os.fork()
        if pid == 0:                                    # child: exec, or run the role here
            code = 127
            try:
                signal.set_wakeup_fd(-1)
                self._stat.keep(set())                  # (the watchdog's: not the child's)
                for sig in _HANDLED_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                if not forked:
                    os.execve(sys.executable, argv, env)
                from keepalived_py.core.childrun import run_forked  # hook: issue 16
                if child.died_at is not None:
                    os.environ[PREV_EXIT_ENV] = repr(child.died_at)
                # the options and configuration are ours already: no pickled copy to wait for
                code = run_forked(child.role, me, child_end.fileno(),
                                  None if connector == "-" else int(connector),
                                  start=(self.options, self.config))
            finally:
                _flush_log()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        child_end.close()
        self._began(child, pid, parent_end, forked, announce)

    def _began(self, child: Child, pid: int, parent_end: socket.socket, forked: bool,
               announce: Callable[[], None] | None, early: bytes | None = None) -> None:
        """A child forked (or adopted: `early`, what it sent already, its start logged by
        core/prefork.py): its pidfile, its announcement, its channel."""
        assert self.loop is not None
        now = self.loop.time()
        child.pid, child.started, child.ready = pid, now, False
        child.live = Liveness(now)
        self._stat.read(pid)    # its /proc/PID/stat opened now, not at a later watchdog tick
        child.spawns += 1
        try:
            write_pidfile(child.pidfile, pid)
        except PidfileError as e:
            log.error("supervisor.pidfile.failed", role=child.role, error=str(e))
            # never leave the pidfile naming the child this one replaces (a full disk still
            # allows the unlink; a read-only one does not, and that is logged above)
            stale = read_pidfile(child.pidfile)
            # (the child replaced may still be exiting: its death seen at once, deathwatch.py)
            if stale is not None and stale != pid and \
                    (not pid_alive(stale) or death_by_signal(stale) is not None):
                with contextlib.suppress(OSError):
                    remove_pidfile(child.pidfile, stale)
        if announce is not None:
            announce()
        if early is None:
            log.info("supervisor.child.started", role=child.role, pid=pid,
                     compat=f"Starting {_CHILD_NAMES[child.role]} child process, pid={pid}")
        child.reader_task = self.loop.create_task(self._talk(child, parent_end, not forked,
                                                             early))

    async def _talk(self, child: Child, sock: socket.socket, send_start: bool = True,
                    early: bytes | None = None) -> None:
        import asyncio
        child_pid = child.pid
        if early:
            # what the child sent before our loop ran (core/prefork.py) comes first
            reader = asyncio.StreamReader()
            reader.feed_data(early)
            protocol = asyncio.StreamReaderProtocol(reader)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_unix_connection(lambda: protocol, sock=sock)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        else:
            reader, writer = await asyncio.open_unix_connection(sock=sock)
        child.writer = writer
        if send_start:          # an exec'd child; a forked one has them from the fork
            writer.write(encode(("start", self.options, self.config)))
        if self.stopping and child.pid == child_pid:
            # stopped before this channel was up: the stop stop() could not send yet
            writer.write(encode(("stop", not (self.options.dont_release_vrrp
                                              if child.role == "vrrp"
                                              else self.options.dont_release_ipvs))))
        if child.role in ("vrrp", "checker") and self.bfd_up:
            writer.write(encode(("bfd", self._bfd_for(child.role, self.bfd_up))))
        pid = child.pid
        while True:
            msg = await read_message(reader)
            if msg is None and child.pid == pid:
                self._channel_closed(child, pid)       # hook: issue 15 (core/deathwatch.py)
            if msg is None or child.pid != pid:
                break
            assert self.loop is not None
            now = self.loop.time()
            live = child.live
            if live is not None:
                if msg[0] == "hb" and len(msg) == 3:
                    live.message(now, int(msg[1]), float(msg[2]))
                else:
                    live.message(now)
            if msg[0] == "ready":
                child.ready = True
                if live is not None:
                    live.became_ready(now)
                if child.spawns == 1 and not EXEC_CHILDREN:    # hook: issue 15 (core/rolewarm.py)
                    from keepalived_py.core import rolewarm
                    self.loop.call_later(rolewarm.WARM_AFTER, rolewarm.warm, child.role)
                if child.spawns > 1 and self._ready_sent:
                    sdnotify.notify(f"STATUS=running {len(self.children)} children"
                                    f" ({child.role} child respawned, pid {child.pid})")
                self._maybe_ready()
            elif msg[0] == "reloaded":
                child.ready = True
                child.reload_pending = False
                child.reload_failed = len(msg) > 1 and not msg[1]
                self._maybe_reloaded()
            elif msg[0] == "bfd" and child.role == "bfd" and len(msg) == 3:
                self._relay_bfd(str(msg[1]), bool(msg[2]))
        writer.close()

    def _bfd_for(self, role: str, states: dict[str, bool]) -> dict[str, bool]:
        """The sessions whose events go to `role` (bfd_instance's `vrrp` / `checker`)."""
        cfg = {b.name: b for b in self.config.bfd_instances}
        return {n: up for n, up in states.items()
                if n in cfg and (cfg[n].vrrp if role == "vrrp" else cfg[n].checker)}

    def _relay_bfd(self, name: str, up: bool) -> None:
        """The BFD child's pipe to the VRRP and checker children goes through us: one hop
        on the parent's loop, and a (re)started child gets the last state of every session."""
        self.bfd_up[name] = up
        for role in ("vrrp", "checker"):
            child = self.children.get(role)
            if child is not None and child.pid and (states := self._bfd_for(role, {name: up})):
                self._send(child, "bfd", states)

    def _send(self, child: Child, *msg: Any) -> None:
        if child.writer is not None and not child.writer.is_closing():
            child.writer.write(encode(msg))

    def _maybe_ready(self) -> None:
        if all(c.ready for c in self.children.values() if c.wanted):
            if not self._ready_sent:
                self._ready_sent = True
                sdnotify.notify("READY=1", f"STATUS=running {len(self.children)} children")
            else:
                self._maybe_reloaded()

    def _maybe_reloaded(self) -> None:
        """READY=1 after a reload only once every child has applied it (a child a reload started
        counts when it is ready); a child that could not apply it is named in STATUS=."""
        if not self._reload_waiting:
            return
        wanted = [c for c in self.children.values() if c.wanted]
        if any(c.reload_pending or not c.ready for c in wanted):
            return
        self._reload_waiting = False
        if self._reload_timer is not None:
            self._reload_timer.cancel()
            self._reload_timer = None
        failed = sorted(c.role for c in wanted if c.reload_failed)
        sdnotify.notify("READY=1", f"STATUS=reload failed in the {' and '.join(failed)} child"
                        if failed else f"STATUS=reloaded: running {len(wanted)} children")
        self._reload_result(f"failed in the {' and '.join(failed)} child" if failed else "applied")
        log.info("supervisor.reload.applied", failed=failed or None)

    def _reload_overdue(self) -> None:
        self._reload_timer = None
        if self._reload_waiting:
            late = sorted(c.role for c in self.children.values()
                          if c.wanted and (c.reload_pending or not c.ready))
            self._reload_waiting = False
            log.warning("supervisor.reload.slow", children=late)
            self._reload_result(f"not yet applied by the {' and '.join(late)} child")
            sdnotify.notify("READY=1", f"STATUS=reload not yet applied by the {' and '.join(late)}"
                            " child")

    def _channel_closed(self, child: Child, pid: int) -> None:
        """EOF from a child: a death by a signal is acted on now, as if reaped (the kernel's
        SIGCHLD comes only at the end of the exit); the waitpid loop collects the zombie."""
        if self.stopping or not child.wanted:
            return
        status = death_by_signal(pid)
        if status is not None:
            self._exited(child, status)

    def reap(self) -> None:
        """SIGCHLD: collect every exited child; restart the ones still wanted."""
        assert self.loop is not None
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for child in list(self.children.values()):
                if child.pid == pid:
                    self._exited(child, status)
                    break

    def _exited(self, child: Child, status: int) -> None:
        assert self.loop is not None
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"status {os.WEXITSTATUS(status)}")
        old = child.pid
        was_ready = child.ready
        child.died_at = time.monotonic()
        child.pid = 0
        child.ready = False
        if child.writer is not None:
            child.writer.close()
            child.writer = None
        if self.stopping or not child.wanted:
            remove_pidfile(child.pidfile, old)
            self.children.pop(child.role, None)
            if self.stopping and not self.children:
                self.done.set()
            return
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) in PERMANENT:
            code = os.WEXITSTATUS(status)
            log.error("supervisor.child.failed", role=child.role, pid=old, status=code,
                      compat=f"pid {old} exited with permanent error {PERMANENT[code]}. Terminating")
            sdnotify.notify(f"ERRNO={errno.EPERM if code == EXIT_MISSING_PERMISSION else errno.EINVAL}")
            remove_pidfile(child.pidfile, old)
            self.children.pop(child.role, None)
            self.exit_code = code
            self.stop()
            return
        if self.options.dont_respawn:
            log.error("supervisor.child.died", role=child.role, pid=old, how=how,
                      compat=f"{child.role} child process({old}) died: dont_respawn set - exiting")
            remove_pidfile(child.pidfile, old)
            self.exit_code = 1
            self.stop()
            return
        delay = child.backoff.next_delay(self.loop.time() - child.started, was_ready)
        child.reload_pending = False          # the successor starts with the current config

        def announce() -> None:
            log.warning("supervisor.child.died", role=child.role, pid=old, how=how,
                        restart_in=delay, compat=f"{child.role} child process({old}) died:"
                                                 " Respawning")
            sdnotify.notify(f"STATUS=respawning the {child.role} child (pid {old}, {how})")
        if delay == 0:
            # at once, in this SIGCHLD's wake-up: the successor is forked before anything else
            # (logging, other callbacks of this loop iteration) runs (issue 15)
            self.spawn(child, announce)
            return
        announce()
        child.restart = self.loop.call_later(delay, self.spawn, child)

    def watchdog(self) -> None:
        """Judge every child's progress (core/liveness.py); kill the ones not progressing.

        Reaping restarts a killed child. A tick that comes PARENT_STALL late means the parent
        itself did not run (starved, stopped): the children's clocks start again.
        """
        assert self.loop is not None
        now = self.loop.time()
        late = now - self._watch_due
        self._watch_due = now + WATCH_INTERVAL
        if late > PARENT_STALL:
            log.warning("supervisor.stalled", late=round(late, 1))
        stat = self._stat
        stat.keep({c.pid for c in self.children.values() if c.pid and c.live is not None})
        for child in self.children.values():
            live = child.live
            if not child.pid or live is None:
                continue
            if late > PARENT_STALL:
                live.restart_clocks(now)
                continue
            seen = stat.read(child.pid)
            verdict = live.observe(now, *(seen if seen is not None else (None, None)))
            if verdict is Verdict.SLOW:
                log.warning("supervisor.child.slow", role=child.role, pid=child.pid,
                            lag=round(live.lag, 2), seq=live.seq)
            elif verdict is Verdict.RECOVERED:
                log.info("supervisor.child.recovered", role=child.role, pid=child.pid,
                         max_lag=round(live.max_lag, 2))
            elif verdict.kill:
                log.error("supervisor.child.stuck", role=child.role, pid=child.pid,
                          reason=verdict.value, silent_for=round(now - live.last_message, 1),
                          state=seen[0] if seen else "?", ready=live.ready)
                child.live = None
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._extend_start(now)
        self.loop.call_later(WATCH_INTERVAL, self.watchdog)

    def _extend_start(self, now: float) -> None:
        """Before READY=1: while the children show progress, ask systemd for more start time
        (EXTEND_TIMEOUT_USEC), so that a slow host's start is not cut by TimeoutStartSec; a
        start with no sign of life for 3 * EXTEND_EVERY gets no more."""
        if self._ready_sent or now - self._extended_at < EXTEND_EVERY:
            return
        if any(c.live is not None and c.live.last_progress > self._extended_at
               for c in self.children.values()):
            self._extended_at = now
            sdnotify.notify(f"EXTEND_TIMEOUT_USEC={int(3 * EXTEND_EVERY * 1e6)}",
                            "STATUS=starting: children loading")

    # -- reload --------------------------------------------------------------------------
    def request_reload(self) -> None:
        if self.stopping:
            return
        self._reload_wanted = True
        if not self._reloading:
            assert self.loop is not None
            self.loop.create_task(self._reload())

    async def _reload(self) -> None:
        import asyncio

        from keepalived_py.core import reload_monitor
        self._reloading = True
        try:
            while self._reload_wanted and not self.stopping:
                self._reload_wanted = False
                sdnotify.reloading()
                log.info("supervisor.reload.start", compat="Reloading")
                proc = self.config.global_defs.process
                marker = reload_monitor.reload_file_path(proc.reload_file, proc.use_pid_dir)
                reload_monitor.create_reload_file(marker)        # global_defs reload_file
                try:
                    result = await asyncio.to_thread(load_config, self.options.config_file,
                                                     config_id=self.options.config_id)
                except OSError as e:
                    # no thread or module to load it with (EMFILE, ENOMEM: the first reload
                    # imports the thread pool): this reload fails, the running one is kept
                    why = e.strerror or str(e)
                    log.error("supervisor.reload.failed", error=why,
                              compat=f"Reload failed: {why} - keeping the running configuration")
                    sdnotify.notify("READY=1", f"STATUS=reload failed: {why}")
                    self._reload_result(f"failed: {why} (the running configuration is kept)")
                    continue
                finally:
                    reload_monitor.remove_reload_file(marker)
                errors = _errors_of(result)
                if not reload_monitor.check_passes(proc.reload_check_config,
                                                   result.diagnostics):   # reload_check_config
                    self._reload_result("rejected: reload_check_config found errors")
                    sdnotify.notify("READY=1", "STATUS=reload rejected: invalid configuration")
                    continue
                if result.config is None or result.diagnostics.aborted is not None or \
                        errors - self._known_errors:
                    # refused: the file cannot be read, or an edit added an error that the
                    # running configuration does not have (keepalived would apply a config it
                    # had to correct; we keep the running one). Errors that the running
                    # configuration already had (e.g. a rounded advert_int) do not block it.
                    for d in result.diagnostics.items:
                        log.error("config.invalid", diagnostic=str(d), compat=str(d))
                    log.error("supervisor.reload.rejected",
                              compat="Configuration is invalid - keeping the running one")
                    sdnotify.notify("READY=1", "STATUS=reload rejected: invalid configuration")
                    self._reload_result("rejected: invalid configuration (the running one is kept)")
                    continue
                # the configuration every child holds already (config/reuse.py reused the load):
                # the children are told so rather than sent it again (core/channel.py, issue 16)
                held = result.config is self.config
                self.config = umask.keep_last(result.config, self.config)
                self._known_errors = errors
                self._reload_time()
                startstop.save_config(self.config.global_defs.process.config_save_dir,
                                      result.files)
                names = {b.name for b in self.config.bfd_instances}      # sessions gone: forget
                self.bfd_up = {n: up for n, up in self.bfd_up.items() if n in names}
                set_name(comm_for("parent", self.config.global_defs))
                umask.apply(self.options.umask, self.config.global_defs.process)  # keepalived's
                running = {c.role for c in self.children.values() if c.pid}
                self._apply_roles()              # new children start with the new config
                for child in self.children.values():
                    child.reload_failed = False
                    if child.pid and child.wanted and child.role in running:
                        child.reload_pending = True
                        self._send(child, "reload", None if held else self.config)
                        if child.role in ("vrrp", "checker") and self.bfd_up:
                            # a reference new in this configuration learns its session's state
                            self._send(child, "bfd", self._bfd_for(child.role, self.bfd_up))
                self._reload_waiting = True
                if self._reload_timer is not None:
                    self._reload_timer.cancel()
                assert self.loop is not None
                self._reload_timer = self.loop.call_later(RELOAD_READY_TIMEOUT,
                                                          self._reload_overdue)
                self._maybe_reloaded()
                log.info("supervisor.reload.done")
        finally:
            self._reloading = False

    def _reload_time(self) -> None:
        """(Re)start the reload_time_file monitor for the configuration in force."""
        from keepalived_py.core import reload_monitor
        old = getattr(self, "_reload_monitor", None)
        if old is not None:
            old.stop()
        p = self.config.global_defs.process
        self._reload_monitor = reload_monitor.monitor_for(p.reload_time_file, p.reload_repeat,
                                                          self.request_reload)

    def _apply_roles(self) -> None:
        want = needed_roles(self.options, self.config)
        for role in ROLES:
            child = self.children.get(role)
            if role in want and child is None:
                child = Child(role, self.pidfiles[role])
                self.children[role] = child
                self.spawn(child)
            elif role not in want and child is not None:
                self._retire(child)

    def _retire(self, child: Child) -> None:
        child.wanted = False
        if child.restart is not None:
            child.restart.cancel()
            child.restart = None
        if child.pid:
            self._send(child, "stop", True)
            assert self.loop is not None
            pid = child.pid
            self.loop.call_later(self._child_wait(), self._force, pid)
        else:
            self.children.pop(child.role, None)

    def _child_wait(self) -> float:
        """child_wait_time (root keyword): how long a stopping child has before SIGKILL."""
        return float(self.config.global_defs.process.child_wait_time)

    def _force(self, pid: int) -> None:
        if any(c.pid == pid for c in self.children.values()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- signals -------------------------------------------------------------------------
    def forward(self, kind: DumpKind) -> None:
        for child in self.children.values():
            if child.pid:
                self._send(child, "dump", kind)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        sdnotify.notify("STOPPING=1")
        log.info("supervisor.stopping", compat="Stopping")
        release_vrrp = not self.options.dont_release_vrrp
        release_ipvs = not self.options.dont_release_ipvs
        assert self.loop is not None
        for child in list(self.children.values()):
            if child.restart is not None:
                child.restart.cancel()
            if child.pid:
                self._send(child, "stop", release_vrrp if child.role == "vrrp" else release_ipvs)
                self.loop.call_later(self._child_wait(), self._force, child.pid)
            else:
                self.children.pop(child.role, None)
        if not self.children:
            self.done.set()

    async def run(self) -> int:
        import asyncio
        self.loop = asyncio.get_running_loop()
        loop = self.loop
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        if not self.options.ignore_sigint:
            loop.add_signal_handler(signal.SIGINT, self.stop)
        for sig, kind in DUMP_SIGNALS.items():
            loop.add_signal_handler(sig, self.forward, kind)
        if prefork.started():
            # the VRRP child started at exec (core/prefork.py) is ours before any signal acts
            # (no startup_script then: the children start now either way)
            self._apply_roles()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, EARLY_SIGNALS)   # pending ones run now
        proc = self.config.global_defs.process
        await startstop.run_script("startup", proc.startup_script, proc.startup_script_timeout)
        if not self.stopping:               # (a TERM while the startup script ran: none)
            self._apply_roles()
        self.reap()     # a child forked at exec (core/prefork.py) that ended before our handler
        self._reload_time()                 # reload_time_file (core/reload_monitor.py)
        self._maybe_ready()
        from keepalived_py.core.process import trim_heap
        gc.collect()
        trim_heap()                 # the configuration's reading is over (issue 16)
        from keepalived_py.core import startgc
        startgc.resume()            # the collector start-up went without (core/startgc.py)
        await self._serve_control()
        if self.options.prometheus:
            await self._serve_metrics()
        self._watch_due = loop.time() + WATCH_INTERVAL
        loop.call_later(WATCH_INTERVAL, self.watchdog)
        interval = sdnotify.watchdog_interval()
        if interval:
            def pet() -> None:
                sdnotify.notify("WATCHDOG=1")
                loop.call_later(interval, pet)
            pet()
        await self.done.wait()
        self.reap()
        proc = self.config.global_defs.process
        await startstop.run_script("shutdown", proc.shutdown_script, proc.shutdown_script_timeout)
        if self.control is not None:
            await self.control.stop()
        return self.exit_code


    # -- what `keepalived-py status` asks the parent -----------------------------------------
    def _reload_result(self, result: str) -> None:
        self.reloads += 1
        self.last_reload = {"at": time.time(), "result": result}

    def status_json(self) -> str:
        import json
        return json.dumps({"role": "parent", "pid": os.getpid(), "started": self.started_at,
                           "reloads": self.reloads, "last_reload": self.last_reload,
                           "children": {c.role: c.pid for c in self.children.values()}}) + "\n"

    async def _serve_control(self) -> None:
        from keepalived_py.obs.control import ControlServer
        from keepalived_py.options import control_socket
        self.control = ControlServer(control_socket(self.options, "parent"),
                                     {"status": self.status_json})
        try:
            await self.control.start()
        except OSError as e:
            log.warning("obs.control.unavailable", error=str(e))
            self.control = None

    # -- Prometheus endpoint (keepalived-py: --prometheus) ------------------------------------
    async def _serve_metrics(self) -> None:
        """One endpoint for the whole daemon: each scrape asks the running children for their
        part over their control sockets, so checker metrics are there with no VRRP instance."""
        from keepalived_py.obs.metrics import serve
        try:
            await serve(self.options.prometheus or "", self._scrape)
        except (OSError, ValueError) as e:
            log.error("obs.prometheus.unavailable", address=self.options.prometheus, error=str(e))

    async def _scrape(self) -> str:
        import asyncio

        from keepalived_py.obs.control import aquery
        from keepalived_py.obs.metrics import combine
        from keepalived_py.options import control_socket
        roles = sorted(r for r in self.children if r != "bfd")   # BFD: no metrics

        async def part(role: str) -> str | None:
            try:
                return await aquery(control_socket(self.options, role), "metrics")
            except (OSError, TimeoutError):
                return None
        return combine(dict(zip(roles, await asyncio.gather(*map(part, roles)), strict=True)))


_CHILD_NAMES = {"vrrp": "VRRP", "checker": "Healthcheck", "bfd": "BFD"}


def _errors_of(result: LoadResult) -> set[tuple[str, str]]:
    """A configuration's errors, without their positions (an edit moves lines)."""
    from keepalived_py.config.tree import Severity
    return {(d.severity.value, d.message) for d in result.diagnostics.items
            if d.severity in (Severity.ERROR, Severity.FATAL)}


def _flush_log() -> None:
    """The log lines still waiting for structlog (obs/slogchain.py), before an os._exit or
    a print to stderr."""
    chain = sys.modules.get("keepalived_py.obs.slogchain")
    if chain is not None:
        try:
            chain.flush()
        except Exception:       # never in the way of the exit
            pass


def title(options: Options) -> list[str]:
    """The command line every process of the daemon shows: keepalived's, as it was given."""
    return ["keepalived", *options.command_line]


def run(options: Options) -> int:
    """The daemon's main: returns the process exit status, keepalived's (see EXIT_*)."""
    from keepalived_py.obs.logging import setup
    setup(options, "parent")
    set_cmdline(title(options))
    set_name("keepalived")
    # interfaces are checked where the VRRP child will look for them: here, or in -s's namespace
    result = load_config(options.config_file, config_id=options.config_id,
                         check_interfaces=not options.namespace)
    for d in result.diagnostics.items:
        log.warning("config.diagnostic", compat=str(d))
    if result.diagnostics.aborted is not None:
        _flush_log()                    # the lines before it first, on a shared console
        print(f"keepalived-py: configuration unreadable: "
              f"{result.diagnostics.items[-1] if result.diagnostics.items else ''}",
              file=sys.stderr)
        return result.diagnostics.aborted
    if result.config is None:
        # keepalived: "Config files missing '...'." (also a directory, a symlink loop) -> 6
        if not options.log_console:
            for d in result.diagnostics.items:
                print(f"keepalived-py: {d}", file=sys.stderr)
        log.error("supervisor.no_config", compat="Stopped Keepalived v2.2.7 (01/16,2022)")
        return EXIT_NO_CONFIG
    set_name(comm_for("parent", result.config.global_defs))
    options = startstop.apply_options(options, result.config.global_defs.process)
    pidfiles = resolve_pidfiles(options)
    parent_pidfile = pidfiles["parent"]
    running = _running(options, pidfiles)
    if running is not None:
        # keepalived 2.2.7 says this and exits 0: a second start is not a failure, and a
        # systemd unit with Restart=on-failure must not loop on it
        log.info("supervisor.already_running", pid=running[1], pidfile=running[0],
                 compat="daemon is already running")
        if not options.log_console:
            print(f"keepalived-py: daemon is already running (pid {running[1]}, {running[0]})",
                  file=sys.stderr)
        return EXIT_OK
    if not options.dont_fork:
        from keepalived_py.core.process import daemonize
        daemonize(options.umask)
    elif options.umask is not None:
        os.umask(options.umask)
    startstop.apply_parent(options, result.config.global_defs.process)
    startstop.save_config(result.config.global_defs.process.config_save_dir, result.files)
    if options.namespace or "/keepalived/" in parent_pidfile:
        old_mask = os.umask(0o022)      # rwxr-xr-x whatever the umask (keepalived's pidfile.c)
        try:
            for path in pidfiles.values():
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        finally:
            os.umask(old_mask)
    # From the moment the pidfile names us, a HUP/TERM must be acted on, never kill us: keep
    # them pending until run() has its handlers (unblocked there, before any child is forked).
    signal.pthread_sigmask(signal.SIG_BLOCK, EARLY_SIGNALS)
    try:
        write_pidfile(parent_pidfile, os.getpid())
    except PidfileError as e:
        # keepalived 2.2.7 logs this and exits 0 (nothing a restart would mend)
        _flush_log()                    # the lines before it first, on a shared console
        print(f"keepalived-py: {e}", file=sys.stderr)
        log.error("supervisor.pidfile.failed", error=str(e),
                  compat=f"pidfile_write : Cannot open {parent_pidfile} pidfile")
        return EXIT_OK
    connector = None
    if options.namespace:
        # the kernel serves process events only to the initial network namespace: open the
        # proc connector first, as keepalived does, then enter the namespace
        from keepalived_py.core.process import enter_netns
        from keepalived_py.track.procmon import open_connector
        try:
            connector = open_connector()
        except OSError:
            connector = None
        try:
            enter_netns(options.namespace)
        except OSError as e:
            # keepalived 2.2.7 exits 0 here too
            log.error("supervisor.netns.failed", namespace=options.namespace, error=str(e),
                      compat=f"Unable to set network namespace {options.namespace} - exiting")
            remove_pidfile(parent_pidfile, os.getpid())
            return EXIT_OK
        checked = load_config(options.config_file, config_id=options.config_id,
                              check_interfaces=True)
        for d in checked.diagnostics.items:
            if "interface" in d.message and d not in result.diagnostics.items:
                log.warning("config.diagnostic", compat=str(d))
        result = LoadResult(result.config, checked.diagnostics, result.files)
    assert result.config is not None
    if "vrrp" in needed_roles(options, result.config) and any(
            d.message == "Non-existent interface specified in configuration"
            for d in result.diagnostics.items):
        # keepalived's VRRP child exits CONFIG, and the parent with it: no respawn loop
        log.error("supervisor.interface.missing",
                  compat="Non-existent interface specified in configuration")
        remove_pidfile(parent_pidfile, os.getpid())
        return EXIT_CONFIG
    log.info("supervisor.started", pid=os.getpid(),
             compat=f"Starting Keepalived-py (compatible with v2.2.7), pid {os.getpid()}")
    # the VRRP child forked at exec gets its start now, before our own loop's imports
    prefork.settle(options, result.config, needed_roles(options, result.config),
                   pidfiles["vrrp"])
    import asyncio
    sup = Supervisor(options, result)
    sup.connector = connector
    try:
        code = asyncio.run(sup.run())
    finally:
        remove_pidfile(parent_pidfile, os.getpid())
    log.info("supervisor.stopped", compat="Stopped Keepalived")
    return code


def _running(options: Options, pidfiles: dict[str, str]) -> tuple[str, int] | None:
    """keepalived's check before starting: a live pid in the parent's pidfile or in the
    pidfile of a child this daemon would run (all of them unless -P / -C)."""
    roles = ["parent"]
    if options.use_vrrp or not options.use_checker:
        roles.append("vrrp")
    if options.use_checker or not options.use_vrrp:
        roles.append("checker")
    if not (options.use_vrrp or options.use_checker or options.no_bfd):
        roles.append("bfd")
    for role in roles:
        other = read_pidfile(pidfiles[role])
        if other is not None and other != os.getpid() and pid_alive(other):
            return pidfiles[role], other
    return None
