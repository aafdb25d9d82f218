"""The parent: start, watch, restart and reload the VRRP and checker children.

Theory of operation. The parent validates the configuration, writes its own pidfile (refusing
to start if it names a live daemon), then runs one asyncio loop. Each child is forked and
exec'd (core/childrun.py) with one end of a socketpair; the parent writes the child's pidfile
right after the fork — one line, atomically — and rewrites it at every respawn. Children
report `ready`, then a heartbeat every 0.5 s. A child that exits or dies by any signal is
reaped at once (SIGCHLD -> waitpid loop, so no zombie survives) and restarted: the first time
at once, then with a doubling backoff (core/restart.py); with -R the whole daemon stops
instead. A child whose heartbeat is 2.5 s late (stopped, or its loop blocked) is killed and
so restarted. SIGHUP reloads: the file is read and validated again; an invalid one is logged
(file:line) and nothing changes; a valid one is sent — as the validated model itself — to the
running children, a child the new configuration needs is started (and its pidfile appears),
one it no longer needs is stopped (and its pidfile goes). HUPs arriving during a reload are
folded into one more reload. SIGTERM/SIGINT stop everything and remove the pidfiles.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from keepalived_py.config import LoadResult, load_config
from keepalived_py.config.model import Config
from keepalived_py.core import sdnotify
from keepalived_py.core.channel import encode, read_message
from keepalived_py.core.child import PREV_EXIT_ENV, DumpKind
from keepalived_py.core.pidfile import pid_alive, read_pidfile, remove_pidfile, write_pidfile
from keepalived_py.core.restart import Backoff
from keepalived_py.errors import PidfileError
from keepalived_py.options import Options, resolve_pidfiles

log = structlog.get_logger("keepalived_py.supervisor")

HEARTBEAT_TIMEOUT = 2.5
STOP_TIMEOUT = 5.0
ROLES = ("vrrp", "checker")
EARLY_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}
FORWARDED = {
    signal.SIGUSR1: DumpKind.DATA,
    signal.SIGUSR2: DumpKind.STATS,
    signal.SIGRTMIN + 2: DumpKind.JSON,
    signal.SIGRTMIN + 29: DumpKind.STATS_CLEAR,
}


@dataclass
class Child:
    role: str
    pidfile: str
    pid: int = 0
    started: float = 0.0
    last_hb: float = 0.0
    ready: bool = False
    wanted: bool = True
    died_at: float | None = None      # CLOCK_MONOTONIC of the last death, for the successor
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    restart: asyncio.TimerHandle | None = None
    spawns: int = 0


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
        return set(ROLES)
    roles = set()
    if config.has_vrrp:
        roles.add("vrrp")
    if config.has_checker:
        roles.add("checker")
    return roles


class Supervisor:
    def __init__(self, options: Options, result: LoadResult) -> None:
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

    # -- children ------------------------------------------------------------------------
    def spawn(self, child: Child) -> None:
        assert self.loop is not None
        child.restart = None
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        os.set_inheritable(child_end.fileno(), True)
        extra: list[str] = []
        if self.connector is not None and child.role == "vrrp":
            os.set_inheritable(self.connector.fileno(), True)
            extra = [str(self.connector.fileno())]
        me = os.getpid()
        env = dict(os.environ)
        if child.died_at is not None:
            env[PREV_EXIT_ENV] = repr(child.died_at)
        pid = os.fork()
        if pid == 0:                                    # child: exec at once
            try:
                os.execve(sys.executable, [sys.executable, "-m", "keepalived_py.core.childrun",
                                           child.role, str(me), str(child_end.fileno()), *extra],
                          env)
            finally:
                os._exit(127)
        child_end.close()
        now = self.loop.time()
        child.pid, child.started, child.last_hb, child.ready = pid, now, now, False
        child.spawns += 1
        try:
            write_pidfile(child.pidfile, pid)
        except PidfileError as e:
            log.error("supervisor.pidfile.failed", role=child.role, error=str(e))
        log.info("supervisor.child.started", role=child.role, pid=pid,
                 compat=f"Starting {'VRRP' if child.role == 'vrrp' else 'Healthcheck'} child"
                        f" process, pid={pid}")
        child.reader_task = self.loop.create_task(self._talk(child, parent_end))

    async def _talk(self, child: Child, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        child.writer = writer
        writer.write(encode(("start", self.options, self.config)))
        pid = child.pid
        while True:
            msg = await read_message(reader)
            if msg is None or child.pid != pid:
                break
            assert self.loop is not None
            child.last_hb = self.loop.time()
            if msg[0] == "ready":
                child.ready = True
                self._maybe_ready()
            elif msg[0] == "reloaded":
                child.ready = True
        writer.close()

    def _send(self, child: Child, *msg: Any) -> None:
        if child.writer is not None and not child.writer.is_closing():
            child.writer.write(encode(msg))

    def _maybe_ready(self) -> None:
        if all(c.ready for c in self.children.values() if c.wanted):
            if not self._ready_sent:
                self._ready_sent = True
                sdnotify.notify("READY=1", f"STATUS=running {len(self.children)} children")

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
        if self.options.dont_respawn:
            log.error("supervisor.child.died", role=child.role, pid=old, how=how,
                      compat=f"{child.role} child process({old}) died: dont_respawn set - exiting")
            remove_pidfile(child.pidfile, old)
            self.exit_code = 1
            self.stop()
            return
        delay = child.backoff.next_delay(self.loop.time() - child.started, was_ready)
        log.warning("supervisor.child.died", role=child.role, pid=old, how=how, restart_in=delay,
                    compat=f"{child.role} child process({old}) died: Respawning")
        child.restart = self.loop.call_later(delay, self.spawn, child)

    def watchdog(self) -> None:
        """Kill children whose heartbeat is late (stopped or blocked); reaping restarts them."""
        assert self.loop is not None
        now = self.loop.time()
        for child in self.children.values():
            if child.pid and now - child.last_hb > HEARTBEAT_TIMEOUT:
                log.error("supervisor.child.stuck", role=child.role, pid=child.pid,
                          silent_for=round(now - child.last_hb, 2))
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.last_hb = now
        self.loop.call_later(0.5, self.watchdog)

    # -- reload --------------------------------------------------------------------------
    def request_reload(self) -> None:
        if self.stopping:
            return
        self._reload_wanted = True
        if not self._reloading:
            assert self.loop is not None
            self.loop.create_task(self._reload())

    async def _reload(self) -> None:
        self._reloading = True
        try:
            while self._reload_wanted and not self.stopping:
                self._reload_wanted = False
                sdnotify.reloading()
                log.info("supervisor.reload.start", compat="Reloading")
                result = await asyncio.to_thread(load_config, self.options.config_file,
                                                 config_id=self.options.config_id)
                errors = _errors_of(result)
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
                    continue
                self.config = result.config
                self._known_errors = errors
                self._apply_roles()
                for child in self.children.values():
                    if child.pid and child.wanted:
                        self._send(child, "reload", self.config)
                sdnotify.notify("READY=1", "STATUS=reloaded")
                log.info("supervisor.reload.done")
        finally:
            self._reloading = False

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
            self.loop.call_later(STOP_TIMEOUT, self._force, pid)
        else:
            self.children.pop(child.role, None)

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
                self.loop.call_later(STOP_TIMEOUT, self._force, child.pid)
            else:
                self.children.pop(child.role, None)
        if not self.children:
            self.done.set()

    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        loop = self.loop
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        if not self.options.ignore_sigint:
            loop.add_signal_handler(signal.SIGINT, self.stop)
        for sig, kind in FORWARDED.items():
            loop.add_signal_handler(sig, self.forward, kind)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, EARLY_SIGNALS)   # pending ones run now
        self._apply_roles()
        self._maybe_ready()
        loop.call_later(0.5, self.watchdog)
        interval = sdnotify.watchdog_interval()
        if interval:
            def pet() -> None:
                sdnotify.notify("WATCHDOG=1")
                loop.call_later(interval, pet)
            pet()
        await self.done.wait()
        self.reap()
        return self.exit_code


def _errors_of(result: LoadResult) -> set[tuple[str, str]]:
    """A configuration's errors, without their positions (an edit moves lines)."""
    from keepalived_py.config.tree import Severity
    return {(d.severity.value, d.message) for d in result.diagnostics.items
            if d.severity in (Severity.ERROR, Severity.FATAL)}


def run(options: Options) -> int:
    """The daemon's main: returns the process exit status."""
    from keepalived_py.obs.logging import setup
    setup(options, "parent")
    result = load_config(options.config_file, config_id=options.config_id)
    for d in result.diagnostics.items:
        log.warning("config.diagnostic", compat=str(d))
    if result.diagnostics.aborted is not None:
        print(f"keepalived-py: configuration unreadable: "
              f"{result.diagnostics.items[-1] if result.diagnostics.items else ''}",
              file=sys.stderr)
        return result.diagnostics.aborted
    if result.config is None:
        log.error("supervisor.no_config", compat=f"Unable to read configuration file"
                                                 f" {options.config_file}")
        result = LoadResult(Config(), result.diagnostics, result.files)
    pidfiles = resolve_pidfiles(options)
    parent_pidfile = pidfiles["parent"]
    other = read_pidfile(parent_pidfile)
    if other is not None and other != os.getpid() and pid_alive(other):
        print(f"keepalived-py: daemon is already running (pid {other}, {parent_pidfile})",
              file=sys.stderr)
        return 1
    if not options.dont_fork:
        from keepalived_py.core.process import daemonize
        daemonize(options.umask)
    elif options.umask is not None:
        os.umask(options.umask)
    if options.namespace or "/keepalived/" in parent_pidfile:
        for path in pidfiles.values():
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    # From the moment the pidfile names us, a HUP/TERM must be acted on, never kill us: keep
    # them pending until run() has its handlers (unblocked there, before any child is forked).
    signal.pthread_sigmask(signal.SIG_BLOCK, EARLY_SIGNALS)
    try:
        write_pidfile(parent_pidfile, os.getpid())
    except PidfileError as e:
        print(f"keepalived-py: {e}", file=sys.stderr)
        log.error("supervisor.pidfile.failed", error=str(e))
        return 1
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
            log.error("supervisor.netns.failed", namespace=options.namespace, error=str(e),
                      compat=f"Unable to set network namespace {options.namespace} - exiting")
            remove_pidfile(parent_pidfile, os.getpid())
            return 1
    log.info("supervisor.started", pid=os.getpid(),
             compat=f"Starting Keepalived-py (compatible with v2.2.7), pid {os.getpid()}")
    sup = Supervisor(options, result)
    sup.connector = connector
    try:
        code = asyncio.run(sup.run())
    finally:
        remove_pidfile(parent_pidfile, os.getpid())
    log.info("supervisor.stopped", compat="Stopped Keepalived")
    return code
