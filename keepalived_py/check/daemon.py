"""The healthcheck child: checkers per real server, and the balancing table kept in step.

Every checker is a job in one scheduler heap (check/probe.py): when it is due a TCP_CHECK is a
non-blocking connect on the prober's epoll set, any other kind a short task; the result feeds
its pure CheckState, which sets the next due time. The first checks of a configuration are
spread over the first delay_loop (no thundering herd at start or reload). A result goes to the
run's CURRENT real server object (a reload replaces those; a checker kept across a reload is
re-pointed at the new one). A real server's up/down change recomputes its virtual
server's targets (realserver.targets) and the dataplane (check/dataplane.py: IPVS where the
kernel has it or `dataplane ipvs` is set, else nftables) brings that server's service in step;
a failed apply is retried with backoff, an unusable dataplane is one error (set up again
quietly with backoff; checks and VRRP go on).
Reload diffs by identity — a virtual server by address/port/protocol/fwmark/group, a real server
by address/port, a checker by its whole configuration — so unchanged checkers keep their state
and schedule; removed virtual servers, real servers and sorry servers disappear from the table,
including a sorry server that has the address of a real server.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import field
from typing import Any

from keepalived_py.check import probe
from keepalived_py.check.dataplane import Dataplane, vs_id
from keepalived_py.check.genl import ipvs_available
from keepalived_py.check.nft import NftDataplane
from keepalived_py.check.realserver import CheckState, targets
from keepalived_py.config.model import Config
from keepalived_py.config.model_lvs import Checker, RealServer, VirtualServer
from keepalived_py.core.child import DumpKind
from keepalived_py.notify.fifo import lvs_rs_fifo_line, lvs_vs_fifo_line, open_fifos
from keepalived_py.obs import slog
from keepalived_py.options import Options
from keepalived_py.record import Record

log = slog.get_logger("keepalived_py.check")


class CheckerRun(Record, kw_only=False, frozen=False, eq=False):
    checker: Checker
    state: CheckState
    vs: VirtualServer
    real: RealRun                  # the CURRENT real server object (re-pointed on reload)
    task: asyncio.Task[None] | None = None
    alive: bool = True             # False once removed: a late result is dropped
    host: str = ""                 # where the check connects (connect_ip or the server)
    port: int = 0
    mark: int = 0                  # probe.PROBE_MARK: not tracked by conntrack
    bind: Checker | None = None    # the checker, when it has socket options (probe.bind_socket)
    due: float | None = None       # when the check in progress was due


class RealRun(Record, kw_only=False, frozen=False, eq=False):
    rs: RealServer
    ident: str = ""                          # its virtual server's vs_id
    checkers: list[CheckerRun] = field(default_factory=list)
    dynamic_weight: int | None = None        # MISC_CHECK misc_dynamic
    unroutable: bool = False                 # said once (check.realserver.unroutable)

    @property
    def up(self) -> bool:
        return all(c.state.up for c in self.checkers)


class VsRun(Record, kw_only=False, frozen=False):
    vs: VirtualServer
    reals: dict[tuple[str, int | None], RealRun] = field(default_factory=dict)
    applied: tuple[Any, ...] | None = None
    quorum_up: bool = True


def rs_key(rs: RealServer) -> tuple[str, int | None]:
    return (str(rs.address), rs.port)


class CheckerDaemon:
    role = "checker"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.dataplane: Dataplane = NftDataplane()
        self.kind = "nftables"
        self.servers: dict[str, VsRun] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._dirty: set[str] = set()
        self.files: dict[str, str] = {}
        self.tls: Any = None        # the SSL block's client context, when SSL_GET needs one
        self._dumps: Any = None
        self._flush: asyncio.Task[None] | None = None
        from keepalived_py.notify.smtp import CheckAlerts
        self.alerts = CheckAlerts(Config())
        self.fifos: list[Any] = []
        self._fifo_defs: tuple[Any, ...] = ()
        self.bfd_up: dict[str, bool] = {}      # BFD sessions, from the BFD child (BFD_CHECK)
        self.snmp: Any = None                # snmp.check.CheckSubagent (issue 17)
        self.scheduler: probe.Scheduler | None = None
        self.prober: probe.TcpProber | None = None
        self._new: list[CheckerRun] = []      # checkers to start, spread over a delay_loop
        self._vips: set[str] = set()          # virtual addresses (probes to them are tracked)
        self.dataplane_ok = True
        self._failed: set[str] = set()        # virtual servers whose apply failed
        self._backoff = 0.0
        self._retry: asyncio.TimerHandle | None = None
        self._setup_task: asyncio.Task[None] | None = None
        self.ipvs_globals: Any = None        # check.lvs_globals.IpvsGlobals (issue 13)
        self._synced = False                 # the first _sync is the start (rs_init_notifies)
        self.globals = Config().global_defs
        self.log_all_failures = False        # global_defs checker_log_all_failures

    async def start(self, config: Config) -> None:
        self.loop = asyncio.get_running_loop()
        self.log_all_failures = config.global_defs.process.checker_log_all_failures
        self.scheduler = probe.Scheduler(self.loop, self._fire)
        self.prober = probe.TcpProber(self.loop, self._tcp_done)
        from keepalived_py.notify.scripts import Notifier
        self.notifier = Notifier(script_security=config.global_defs.enable_script_security)
        from keepalived_py.notify.smtp import CheckAlerts
        self.alerts = CheckAlerts(config)                  # smtp_alert mails
        self._open_fifos(config)
        choice = self.options.dataplane or config.global_defs.dataplane
        has_ipvs = await ipvs_available() if choice == "auto" else None
        if choice == "ipvs" or has_ipvs:
            from keepalived_py.check.ipvs import IpvsDataplane  # (pyroute2's IPVS API)
            self.dataplane = IpvsDataplane()
            self.kind = "ipvs"
        how = (f"--dataplane={choice}" if self.options.dataplane
               else f"dataplane {choice} configured")
        reason = (how if has_ipvs is None else
                  "auto: the kernel has IPVS" if has_ipvs else
                  "auto: the kernel has no IPVS (no 'IPVS' generic netlink family)")
        log.info("check.dataplane", kind=self.kind, reason=reason,
                 compat=f"Using the {self.kind} dataplane ({reason})")
        self.dataplane.groups = {g.name: g for g in config.virtual_server_groups}
        self.globals = config.global_defs
        if self.kind == "ipvs":          # lvs_flush, lvs_timeouts, sync daemon (issue 13)
            from keepalived_py.check.lvs_globals import IpvsGlobals
            from keepalived_py.options import resolve_pidfiles
            pid = resolve_pidfiles(self.options)["checker"]
            self.ipvs_globals = IpvsGlobals(os.path.join(
                os.path.dirname(pid) or "/run", f".{os.path.basename(pid)}.keepalived-py.ipvs"))
            if config.global_defs.lvs_flush:
                self.ipvs_globals.flush()
            self.ipvs_globals.configure(config.global_defs, reload=False)
        else:
            g = config.global_defs
            unused = [k for k, on in (("lvs_sync_daemon", g.lvs_sync_daemon is not None),
                                      ("lvs_timeouts", any(g.lvs_timeouts))) if on]
            if unused:                       # never silently: they are IPVS settings
                log.warning("check.nft.ipvs_only", keywords=unused,
                            compat=f"{', '.join(unused)}: IPVS settings, not used by the"
                                   " nftables dataplane")
            if g.lvs_flush:                  # every start, a respawn too (not a reload)
                await self.dataplane.flush_all()
        if not await self.dataplane.setup():
            self.dataplane_ok = False
            self._setup_task = self.loop.create_task(self._setup_again())
            log.error("check.dataplane.unavailable", kind=self.kind,
                      compat="no load-balancing dataplane: " + (
                          "IPVS is not usable" if self.kind == "ipvs" else
                          "the kernel has no IPVS and nftables is not usable (nft failed)"
                          if has_ipvs is False else "nftables is not usable (nft failed)")
                      + "; virtual servers are checked but not balanced")
        await self._sync(config)
        self._configure_snmp(config)          # hook (issue 17)
        if self.kind == "nftables":
            self._watch = self.loop.create_task(self._watch_dataplane())
        from keepalived_py.obs.control import ControlServer
        from keepalived_py.options import control_socket
        self.control: ControlServer | None = ControlServer(
            control_socket(self.options, "checker"),
            {"status": lambda: json.dumps({"role": "checker", "dataplane": self.kind,
                                           "virtual_servers": self.snapshot(),
                                           "scheduler": self.scheduler_stats(),
                                           "smtp": self.alerts.mailer.counters()
                                           if self.alerts.mailer else {}}) + "\n",
             "checks": lambda: json.dumps(self.scheduler_stats()) + "\n",
             "metrics": self.metrics_text})
        try:
            await self.control.start()
        except OSError as e:
            log.warning("obs.control.unavailable", error=str(e))
            self.control = None

    def _open_fifos(self, config: Config) -> None:
        g = config.global_defs
        self._fifo_defs = _fifo_defs(config)
        self.fifos = open_fifos([(g.notify_fifo, g.notify_fifo_script),
                                 (g.lvs_notify_fifo, g.lvs_notify_fifo_script)], "lvs",
                                g.enable_script_security)

    def _fifo_write(self, line: bytes) -> None:
        for f in self.fifos:
            f.write(line)

    async def _watch_dataplane(self) -> None:
        """Another tool may remove our nftables tables (nftables.service's config begins with
        `flush ruleset`): look once per (shortest) delay_loop and put them back as they were,
        without touching the checkers' state."""
        pruned = False
        while True:
            loops = [run.vs.delay_loop for run in self.servers.values() if run.vs.delay_loop]
            await asyncio.sleep(max(1.0, min(loops, default=5.0)))
            if not pruned and (self._flush is None or self._flush.done()):
                # the configured servers are applied: what a previous checker left goes
                pruned = True
                n = await self.dataplane.prune()
                if n:
                    log.info("check.nft.pruned", chains=n)
            if not self.servers or not self.dataplane_ok or await self.dataplane.present():
                continue
            log.warning("check.nft.table_missing", table="keepalived_py",
                        compat="nftables table keepalived_py was removed by another tool"
                               " - restoring it")
            if await self.dataplane.restore():
                log.info("check.nft.restored", virtual_servers=len(self.servers))

    def metrics_text(self) -> str:
        from keepalived_py.obs.metrics import render_checker
        return render_checker(self.snapshot())

    async def reload(self, config: Config) -> None:
        self.log_all_failures = config.global_defs.process.checker_log_all_failures
        self.alerts.configure(config)
        self.globals = config.global_defs
        if self.ipvs_globals is not None:                   # issue 13
            self.ipvs_globals.configure(config.global_defs, reload=True)
            assert self.loop is not None
            self.loop.call_later(3.0, self.ipvs_globals.reassert)
        if _fifo_defs(config) != self._fifo_defs:          # an unchanged FIFO keeps its reader
            for f in self.fifos:
                await f.aclose()
            self._open_fifos(config)
        await self._sync(config)
        self._configure_snmp(config)          # hook (issue 17)

    async def stop(self, release: bool) -> None:
        if getattr(self, "_watch", None) is not None:
            self._watch.cancel()
        for run in self.servers.values():
            if run.vs.omega and run.vs.quorum_down is not None and run.quorum_up:
                self.notifier.launch(run.vs.quorum_down)  # type: ignore[arg-type]
        await self.notifier.drain(2.0)
        if self.snmp is not None:             # hook (issue 17)
            await self.snmp.stop()
            self.snmp = None
        await self.alerts.close(0.0)    # keepalived 2.2.7's shutdown mails never leave either
        for f in self.fifos:
            await f.aclose()
        if getattr(self, "control", None) is not None:
            await self.control.stop()  # type: ignore[union-attr]
        for run in self.servers.values():
            self._cancel(run.reals.values())
        for t in (self._setup_task, self._retry):
            if t is not None:
                t.cancel()
        if self.scheduler is not None:
            self.scheduler.close()
        if self.prober is not None:
            self.prober.close()
        if self.ipvs_globals is not None:                   # issue 13
            self.ipvs_globals.stop(self.globals, release)
        if release:                               # False with -I (dont_release_ipvs)
            await self.dataplane.teardown()
        self.servers.clear()

    def dump(self, kind: DumpKind) -> None:
        """SIGUSR1: keepalived_check.data; the other dumps are the VRRP child's."""
        if kind is not DumpKind.DATA:
            return
        from keepalived_py.obs import dumps
        if self._dumps is None:
            def render(_: str) -> tuple[str, str]:
                return (dumps.dump_path("check", namespace=self.options.namespace),
                        dumps.format_check_data(self.snapshot()))
            self._dumps = dumps.DumpWriter(render)
        self._dumps.request("check")

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"virtual_server": vs_id(r.vs), "address": str(r.vs.address), "port": r.vs.port,
                 "protocol": r.vs.protocol, "fwmark": r.vs.fwmark,
                 "sorry": bool(r.applied and r.applied[1]),
                 "backends": [f"{t.address}:{t.port}" for t in (r.applied[0] if r.applied else ())],
                 "real_servers": [{"address": k[0], "port": k[1], "up": rr.up,
                                   "weight": rr.rs.weight,
                                   "checks": [c.state.checks for c in rr.checkers],
                                   "last_result": [c.state.last_reason for c in rr.checkers]}
                                  for k, rr in r.reals.items()]}
                for r in self.servers.values()]

    # -- configuration diff --------------------------------------------------------------------
    async def _sync(self, config: Config) -> None:
        assert self.loop is not None
        self.tls = _tls(config)
        self.dataplane.groups = {g.name: g for g in config.virtual_server_groups}
        self.files = {f.name: f.file for f in config.vrrp_track_files}
        wanted = {vs_id(vs): vs for vs in config.virtual_servers}
        self._vips = {str(vs.address) for vs in config.virtual_servers if vs.address is not None}
        starting = not self._synced
        self._synced = True
        for ident in list(self.servers):
            if ident not in wanted:
                gone_vs = self.servers.pop(ident)
                self._cancel(gone_vs.reals.values())
                self._failed.discard(ident)
                await self.dataplane.remove(gone_vs.vs)
                log.info("check.vs.removed", vs=ident)
        for ident, vs in wanted.items():
            run = self.servers.get(ident)
            if run is None:
                run = VsRun(vs)
                self.servers[ident] = run
                _say_foreign(vs)
            run.vs = vs
            keep: dict[tuple[str, int | None], RealRun] = {}
            for rs in vs.real_servers:
                old = run.reals.get(rs_key(rs))
                keep[rs_key(rs)] = rr = self._real(ident, vs, rs, old)
                if old is None and starting and config.global_defs.rs_init_notifies and rr.up:
                    # rs_init_notifies: a server up from the start is announced (ipwrapper.c)
                    if rs.notify_up is not None:
                        self.notifier.launch(rs.notify_up)  # type: ignore[arg-type]
                    self._fifo_write(lvs_rs_fifo_line(rs, vs, True))
            gone = [r for k, r in run.reals.items() if k not in keep]
            for r in gone:
                if r.up:
                    self.alerts.realserver_removed(vs, r.rs, stopping=False)
            self._cancel(gone)
            run.reals = keep
            run.applied = None                      # re-evaluate this server's table
            self._dirty.add(ident)
        checkers = sum(len(rr.checkers) for r in self.servers.values() for rr in r.reals.values())
        probe.ensure_fd_limit(checkers)
        if self.prober is not None:           # idle probe sockets: no more than probes to run
            self.prober.trim(checkers)
        self._start_new()
        await self._apply_dirty()

    def _real(self, ident: str, vs: VirtualServer, rs: RealServer,
              old: RealRun | None) -> RealRun:
        assert self.loop is not None
        rr = RealRun(rs, ident)
        if old is not None:
            rr.dynamic_weight, rr.unroutable = old.dynamic_weight, old.unroutable
        previous = {c.checker: c for c in old.checkers} if old else {}
        now = self.loop.time()
        for ch in rs.checkers:
            prev = previous.pop(ch, None)
            if prev is not None:                      # unchanged: keep state and schedule
                prev.vs, prev.real = vs, rr           # results go to the current objects
                self._target(prev)
                rr.checkers.append(prev)
                continue
            # keepalived's first check: 1 s + a random part of warmup (default: delay_loop)
            st = CheckState.from_config(ch, vs, now, random.random())
            run = CheckerRun(ch, st, vs, rr)
            self._target(run)
            rr.checkers.append(run)
            if ch.kind == "BFD_CHECK":
                # event-driven: the BFD child's Up/Down (bfd_event), nothing to poll
                name = bfd_check_name(ch)
                if name in self.bfd_up:
                    self._bfd_result(vs, rr, run, self.bfd_up[name])
            else:
                self._new.append(run)
        self._cancel_runs(previous.values())
        return rr

    def _target(self, run: CheckerRun) -> None:
        ch, rs = run.checker, run.real.rs
        run.host = str(ch.connect_ip) if ch.connect_ip else str(rs.address)
        run.port = ch.connect_port or rs.port or run.vs.port or 0
        run.bind = ch if probe.needs_binding(ch) else None
        # the checker's own connections are not tracked (nftables: check/nft.py), except
        # to a virtual address, which needs conntrack for its DNAT
        run.mark = probe.PROBE_MARK if self.kind == "nftables" and run.host not in self._vips \
            else 0

    def _start_new(self) -> None:
        """Schedule the checkers this configuration added (their first checks are spread by
        CheckState.from_config over warmup, by default one delay_loop: no thundering herd)."""
        new, self._new = self._new, []
        if self.scheduler is None:
            return
        for run in new:
            self.scheduler.schedule(run, run.state.next_at)

    def _cancel(self, reals: Any) -> None:
        for rr in reals:
            self._cancel_runs(rr.checkers)

    @staticmethod
    def _cancel_runs(runs: Any) -> None:
        for c in runs:
            c.alive = False                     # the scheduler drops it; a late result too
            if c.task is not None:
                c.task.cancel()

    # -- checking -----------------------------------------------------------------------------
    def _fire(self, run: CheckerRun, due: float, now: float) -> None:
        """The scheduler's callback: start `run`'s check (due at `due`)."""
        assert self.loop is not None and self.prober is not None
        vs = run.vs
        run.due = due
        if vs.ha_suspend and vs.address is not None and not _is_local(str(vs.address)):
            # ha_suspend: no checks while the virtual address is not ours (VRRP backup)
            run.state.next_at = now + run.state.delay_loop
            self._reschedule(run)
            return
        if run.checker.kind == "TCP_CHECK":
            self.prober.connect(run, run.host, run.port, run.state.timeout, run.bind,
                                run.mark)
        else:
            run.task = self.loop.create_task(self._run_other(run))

    def _reschedule(self, run: CheckerRun) -> None:
        if run.alive and self.scheduler is not None:
            self.scheduler.schedule(run, run.state.next_at)

    def _tcp_done(self, run: CheckerRun, err: int) -> None:
        """The prober's callback: one TCP_CHECK result (an errno, 0 when connected)."""
        if not run.alive:
            return
        rr = run.real
        if not err and not rr.unroutable:
            self._result(run, True, "connected")      # the steady state
            return
        if err in probe.UNROUTABLE:
            if not rr.unroutable:
                rr.unroutable = True
                log.warning("check.realserver.unroutable", realserver=f"{run.host}:{run.port}",
                            error=os.strerror(err),
                            compat=f"Real server {_fmt_rs(run.vs, rr.rs)} of VS"
                                   f" {_fmt_vs(run.vs)} is not reachable from this host"
                                   f" ({os.strerror(err)}); it stays down until it is")
        elif rr.unroutable:
            rr.unroutable = False
            log.info("check.realserver.routable", realserver=f"{run.host}:{run.port}")
        self._result(run, err == 0, "connected" if err == 0 else probe.reason(err))

    async def _run_other(self, run: CheckerRun) -> None:
        """Any checker but TCP_CHECK: one check as a task."""
        try:
            from keepalived_py.check import checkers  # (TCP_CHECK: probe.py alone)
            if run.checker.kind == "MISC_CHECK" and run.checker.misc_dynamic:
                ok, reason, weight = await checkers.misc_check(run.checker, run.state.timeout)
                if run.alive and weight != run.real.dynamic_weight:
                    run.real.dynamic_weight = weight
                    self._mark(run.real)
            else:
                ok, reason = await checkers.run_checker(
                    run.checker, str(run.real.rs.address), run.real.rs.port or run.vs.port or 0,
                    run.state.timeout, self.files, self.tls)
        except asyncio.CancelledError:
            raise
        except Exception as e:                   # a checker bug is a failed check, once
            log.error("check.checker.error", kind=run.checker.kind, error=repr(e))
            ok, reason = False, f"checker error: {e}"
        run.task = None
        self._result(run, ok, reason)

    def _result(self, run: CheckerRun, ok: bool, reason: str) -> None:
        """One check's verdict, for the run's current real server and virtual server."""
        if not run.alive:
            return
        assert self.loop is not None
        vs, rr = run.vs, run.real
        state = run.state
        was_up = rr.up if len(rr.checkers) > 1 else state.up
        first = not state.has_run
        change = state.result(ok, self.loop.time(), reason, run.due)
        if self.scheduler is not None:             # (alive: the next check)
            self.scheduler.schedule(run, state.next_at)
        if change is None and not first and (ok or not self.log_all_failures):
            return                  # the steady state: nothing changed, nothing to say
        port = rr.rs.port or vs.port or 0
        if not ok and was_up and change is None and self.log_all_failures:
            log.info("check.failure", realserver=f"{rr.rs.address}:{port}", reason=reason,
                     compat=_failure_line(run.checker.kind, vs, str(rr.rs.address), port))
        if change is None and first and run.state.has_run:
            # keepalived logs a checker's first verdict even when nothing changes
            log.info("check.realserver.first", realserver=f"{rr.rs.address}:{port}", up=ok,
                     compat=_check_line(run.checker.kind, vs, str(rr.rs.address), port, ok,
                                        run.state.retry))
            if run.checker.kind == "MISC_CHECK":   # check_misc.c mails its first verdict too
                self.alerts.checker_changed(vs, rr.rs, run.checker.kind, ok, False)
        if change is not None and rr.up != was_up:
            script = rr.rs.notify_up if rr.up else rr.rs.notify_down
            if script is not None:
                self.notifier.launch(script)  # type: ignore[arg-type]
            self._fifo_write(lvs_rs_fifo_line(rr.rs, vs, rr.up))
            if self.snmp is not None:     # hook (issue 17)
                self.snmp.real_server_changed(vs, rr.rs)
        if change is not None:
            self.alerts.checker_changed(vs, rr.rs, run.checker.kind, change, rr.up != was_up)
            log.warning("check.realserver.changed", realserver=f"{rr.rs.address}:{port}",
                        up=change, reason=reason,
                        compat=_check_line(run.checker.kind, vs, str(rr.rs.address), port,
                                           change, run.state.retry))
            self._mark(rr)

    def scheduler_stats(self) -> dict[str, Any]:
        """Totals for the status/`checks` control command (cheap with 10,000 servers)."""
        sch, pr = self.scheduler, self.prober
        runs = [c for r in self.servers.values() for rr in r.reals.values() for c in rr.checkers]
        # (`is not None`: both have a length, 0 when nothing is queued or in flight)
        return {"checkers": len(runs), "checks": sum(c.state.checks for c in runs),
                "started": sch.started if sch is not None else 0,
                "queued": len(sch) if sch is not None else 0,
                "in_flight": len(pr) if pr is not None else 0,
                "sockets_made": pr.made if pr is not None else 0,
                "drift": sch.drift() if sch is not None else {}}

    def bfd_event(self, states: dict[str, bool]) -> None:
        """BFD hook (issue 17): sessions Up/Down from the BFD child, through the parent."""
        self.bfd_up.update(states)
        for run in self.servers.values():
            for rr in run.reals.values():
                for c in rr.checkers:
                    name = bfd_check_name(c.checker)
                    if c.checker.kind == "BFD_CHECK" and name in states:
                        self._bfd_result(run.vs, rr, c, states[name])

    def _bfd_result(self, vs: VirtualServer, rr: RealRun, run: CheckerRun, up: bool) -> None:
        port = rr.rs.port or vs.port or 0
        was_up = rr.up
        name = bfd_check_name(run.checker)
        change = run.state.event(up, f"BFD {name} {'up' if up else 'down'}")
        if change is None:
            return
        log.warning("check.realserver.changed", realserver=f"{rr.rs.address}:{port}", up=change,
                    bfd=name, compat=f"BFD check of [{name}] RS({_fmt_rs(vs, rr.rs)}) is"
                                     f" {'UP' if change else 'DOWN'}")
        if rr.up != was_up:
            script = rr.rs.notify_up if rr.up else rr.rs.notify_down
            if script is not None:
                self.notifier.launch(script)  # type: ignore[arg-type]
            self._fifo_write(lvs_rs_fifo_line(rr.rs, vs, rr.up))
        self.alerts.checker_changed(vs, rr.rs, run.checker.kind, change, rr.up != was_up)
        self._mark(rr)

    def _configure_snmp(self, config: Config) -> None:
        """enable_snmp_checker: the subagent, imported only when enabled (issue 17)."""
        from keepalived_py.snmp import with_command_line  # -x / -A
        config = with_command_line(config, self.options)
        g = config.global_defs
        key = (g.snmp_socket, g.enable_snmp_vrrp, g.enable_traps) if g.enable_snmp_checker else None
        if key != getattr(self, "_snmp_key", None) and self.snmp is not None:
            assert self.loop is not None
            self.loop.create_task(self.snmp.stop())
            self.snmp = None
        self._snmp_key = key
        if key is not None and self.snmp is None:
            from keepalived_py.snmp.check import CheckSubagent
            self.snmp = CheckSubagent(self, config)
            self.snmp.start()
        elif self.snmp is not None:
            self.snmp.configure(config)

    def _mark(self, rr: RealRun) -> None:
        self._dirty.add(rr.ident)
        self._schedule_apply()

    def _schedule_apply(self) -> None:
        if self._flush is None or self._flush.done():
            assert self.loop is not None
            self._flush = self.loop.create_task(self._apply_dirty())

    async def _apply_dirty(self) -> None:
        while self._dirty:
            ident = self._dirty.pop()
            run = self.servers.get(ident)
            if run is None:
                continue
            reals = list(run.reals.values())
            up = {i: rr.up for i, rr in enumerate(reals)}
            weights = {i: rr.dynamic_weight for i, rr in enumerate(reals)
                       if rr.dynamic_weight is not None}
            tgts, sorry = targets(run.vs, up, weights, run.quorum_up)
            was_up, run.quorum_up = run.quorum_up, any(t.weight for t in tgts) and not sorry
            if was_up != run.quorum_up:
                script = run.vs.quorum_up if run.quorum_up else run.vs.quorum_down
                log.warning("check.vs.quorum", vs=ident, up=run.quorum_up)
                if script is not None:
                    self.notifier.launch(script)  # type: ignore[arg-type]
                self._fifo_write(lvs_vs_fifo_line(run.vs, run.quorum_up))
                self.alerts.quorum_changed(run.vs, run.quorum_up,
                                           sum(t.weight for t in tgts) if not sorry else 0)
            key = (tgts, sorry)
            if key == run.applied or not self.dataplane_ok:
                continue             # (an unusable dataplane: applied once it is back)
            if await self.dataplane.apply(run.vs, tgts):
                run.applied = key
                self._failed.discard(ident)
                if sorry:
                    log.warning("check.vs.sorry", vs=ident,
                                compat=f"Adding sorry server {tgts[0].address}:{tgts[0].port}"
                                       " to VS")
            else:
                self._failed.add(ident)
        if self._failed:
            self._retry_later()
        else:
            self._backoff = 0.0

    def _retry_later(self) -> None:
        """A failed apply is tried again after 0.5 s, doubling up to 30 s while it fails."""
        if self._retry is not None or self.loop is None:
            return
        self._backoff = min(30.0, max(0.5, self._backoff * 2))
        # said once per failing streak (the nft/IPVS error itself is logged once too)
        say = log.warning if self._backoff == 0.5 else log.debug
        say("check.dataplane.retry", kind=self.kind, virtual_servers=len(self._failed),
            delay=self._backoff)

        def again() -> None:
            self._retry = None
            self._dirty |= self._failed & set(self.servers)
            self._failed.clear()
            self._schedule_apply()
        self._retry = self.loop.call_later(self._backoff, again)

    async def _setup_again(self) -> None:
        """The dataplane was unusable at start (no nft binary, no nftables in the kernel, no
        IPVS): try again quietly, 1 s doubling to 60 s; when it works, apply everything."""
        delay = 1.0
        while not self.dataplane_ok:
            await asyncio.sleep(delay)
            delay = min(60.0, delay * 2)
            if await self.dataplane.setup():
                self.dataplane_ok = True
                log.info("check.dataplane.available", kind=self.kind,
                         compat=f"The {self.kind} dataplane is usable now")
                for ident, run in self.servers.items():
                    run.applied = None
                    self._dirty.add(ident)
                self._schedule_apply()


def _tls(config: Config) -> Any:
    """The client context SSL_GET checks use (the SSL block's certificate and key), built only
    when the configuration has an SSL_GET checker: the module and the context (its CA store)
    cost memory and start-up time that a TCP_CHECK-only checker child does not need."""
    if not any(ch.kind == "SSL_GET" for vs in config.virtual_servers
               for rs in vs.real_servers for ch in rs.checkers):
        return None
    from keepalived_py.check.checkers import insecure_tls
    return insecure_tls(config.ssl)


def _fifo_defs(config: Config) -> tuple[Any, ...]:
    g = config.global_defs
    return (g.notify_fifo, g.notify_fifo_script, g.lvs_notify_fifo, g.lvs_notify_fifo_script,
            g.enable_script_security)


def _say_foreign(vs: VirtualServer) -> None:
    """One line for a virtual address this host does not have (yet: VRRP may add it)."""
    if vs.address is None or _is_local(str(vs.address)):
        return
    log.info("check.vs.foreign", vs=_fmt_vs(vs),
             compat=f"Virtual server {_fmt_vs(vs)}: {vs.address} is not an address of this"
                    " host; its traffic is balanced when it is routed here (or once VRRP"
                    " adds it)")


def _fmt_vs(vs: VirtualServer) -> str:
    """keepalived's FMT_VS: [address]:proto:port, or FWM n, or the group name."""
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    if vs.group is not None:
        return str(vs.group)
    return f"[{vs.address}]:{(vs.protocol or 'TCP').lower()}:{vs.port or 0}"


def _is_local(address: str) -> bool:
    """Is `address` configured here (binding to it works)?"""
    import socket
    fam = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def create(options: Options) -> CheckerDaemon:
    return CheckerDaemon(options)


def bfd_check_name(ch: Checker) -> str | None:
    """The bfd_instance a BFD_CHECK follows (its `name`)."""
    return dict(ch.options).get("name") if ch.kind == "BFD_CHECK" else None


def _fmt_rs(vs: VirtualServer, rs: RealServer) -> str:
    """keepalived's FMT_RS: [address]:proto:port."""
    port = rs.port or vs.port or 0
    return f"[{rs.address}]:{(vs.protocol or 'TCP').lower()}:{port}"


def _failure_line(kind: str, vs: VirtualServer, address: str, port: int) -> str:
    """global_defs checker_log_all_failures: each failed check of a server still up
    (keepalived's check_tcp.c "TCP connection to ... failed." and its friends)."""
    trio = f"[{address}]:{(vs.protocol or 'TCP').lower()}:{port}"
    if kind == "TCP_CHECK":
        return f"TCP connection to {trio} failed."
    return f"{kind} on service {trio} failed."


def _check_line(kind: str, vs: VirtualServer, address: str, port: int, up: bool,
                retry: int) -> str:
    """keepalived 2.2.7's checker lines (check_tcp.c and friends), with its
    "[address]:proto:port" service form, which scripts grep for."""
    proto = (vs.protocol or "TCP").lower()
    trio = f"[{address}]:{proto}:{port}"
    if up:
        if kind == "TCP_CHECK":
            return f"TCP connection to {trio} success."
        return f"{kind} on service {trio} success."
    if retry:
        return f"{kind} on service {trio} failed after {retry} retries."
    return f"{kind} on service {trio} failed."

