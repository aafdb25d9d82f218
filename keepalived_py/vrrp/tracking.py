"""Tracker results -> the instances' machine events, in the VRRP child. Edge.

Theory of operation. The monitors of track/ (scripts, processes, files; interfaces from
vrrp/links.py, BFD sessions from the BFD child) report results by (kind, name) to `tracked`;
the pure track/table.py `TrackingTable` says which instances they move and by how much;
vrrp/priority.py turns that into an effective priority and an instance's own FAULT, and a
sync group's member fault holds the others in FAULT. Each change reaches the machine as an
event (`PriorityChanged`, `FaultChanged`) through the daemon's `_apply`. Results of objects a
reload leaves unchanged, or of the child that died (respawn), are kept, so neither faults an
instance whose trackers are fine (keepalived: "VRRP_Script(chk) considered successful on
reload").
"""
from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import Config
from keepalived_py.obs import slog
from keepalived_py.track.table import TrackingTable
from keepalived_py.vrrp import fifo_events
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp import priority as vrrp_priority
from keepalived_py.vrrp.links import link_up

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

log = slog.get_logger("keepalived_py.vrrp")

Results = dict[tuple[str, str], bool | int]


class Tracking:
    """The tracking table and the monitors feeding it, for one VRRP child."""

    def __init__(self, daemon: VrrpDaemon) -> None:
        self.d = daemon
        self.table: TrackingTable | None = None
        self.trackers: list[Any] = []
        self.scripts: Any = None             # track.script.ScriptRunner, when scripts are tracked

    def start(self, config: Config, known: Results | None = None, restart: bool = False,
              monitors: bool = True) -> None:
        """Build the tracking table and start the monitors (`monitors`; else the caller calls
        `start_monitors` later). `known`: results of tracked objects whose definition did not
        change (reload) or of the child that died (respawn)."""
        known = known or {}
        self.table = TrackingTable(config, reloading=restart and bool(self.d.runners))
        t = self.table
        for key, value in known.items():
            if key[0] != "interface" and key[1] in t.watched(key[0]):
                t.values[key] = value
        for name in t.watched("interface"):
            t.update("interface", name, link_up(name))
        if monitors:
            self.start_monitors(config, known, restart)

    def start_monitors(self, config: Config, known: Results | None = None,
                       restart: bool = False) -> None:
        """The scripts, process and file monitors of the table's tracked objects (their
        modules imported here, only when used)."""
        d = self.d
        t = self.table
        assert t is not None
        known = known or {}
        scripts = [s for s in config.vrrp_scripts if s.name in t.watched("script")]
        self.scripts = None
        if scripts:
            from keepalived_py.track.script import ScriptRunner  # only when used (issue 16)
            carried = {n: bool(v) for (k, n), v in known.items() if k == "script"}
            runner = ScriptRunner(scripts, lambda n, ok: self.tracked("script", n, ok),
                                  known=carried)
            runner.start()
            self.trackers.append(runner)
            self.scripts = runner
        procs = [p for p in config.vrrp_track_processes if p.name in t.watched("process")]
        if procs:
            from keepalived_py.track.procmon import ProcessMonitor  # psutil: only when used
            conn = None
            if d.connector is not None:
                conn = socket.socket(fileno=os.dup(d.connector.fileno()))
            mon = ProcessMonitor(procs, lambda n, up: self.tracked("process", n, up),
                                 connector=conn)
            mon.rcv_bufs = config.global_defs.process.process_monitor   # *_rcv_bufs(_force)
            assert d.loop is not None
            d.loop.create_task(mon.start())
            self.trackers.append(mon)
        files = [f for f in config.vrrp_track_files if f.name in t.watched("file")]
        if files:
            from keepalived_py.track.file import FileMonitor
            fm = FileMonitor(files, lambda n, v: self.tracked("file", n, v), reload=restart)
            fm.start()
            self.trackers.append(fm)

    def stop(self) -> None:
        for tr in self.trackers:
            res = tr.stop()
            if asyncio.iscoroutine(res):
                assert self.d.loop is not None
                self.d.loop.create_task(res)
        self.trackers = []

    def unchanged_results(self, new: Config) -> Results:
        """Tracker results to keep over a reload: those of objects defined the same way."""
        if self.table is None:
            return {}
        # keepalived's clear_diff_script keeps a script's result by its name, even if its
        # definition changed; process and file results are re-read at once anyway
        defs_new = tracker_defs(new)
        return {key: v for key, v in self.table.values.items()
                if key[0] != "interface" and key in defs_new}

    def bfd_event(self, states: dict[str, bool]) -> None:
        """BFD sessions Up/Down, from the BFD child through the parent (issue 17)."""
        for name, up in states.items():
            if self.table is not None and self.table.values.get(("bfd", name)) != up:
                for edge in self.table.edges.get(("bfd", name), ()):
                    log.info("vrrp.track.bfd", instance=edge.instance, bfd=name, up=up,
                             compat=f"VRRP_Instance({edge.instance}) Tracked BFD instance {name}"
                                    f" is {'UP' if up else 'DOWN'}")
            self.tracked("bfd", name, up)

    def tracked(self, kind: str, name: str, value: bool | int) -> None:
        d = self.d
        if self.table is None:
            return
        if self.table.values.get((kind, name)) != value:
            d._write_state()                # a respawned child starts from these results
        for inst in self.table.update(kind, name, value):
            r = d.runners.get(inst)
            if r is not None:
                self.refresh(r)

    def fault_of(self, r: Runner) -> tuple[bool, str]:
        fault, reason = self.own_fault(r)
        if fault:
            return fault, reason
        group = r.cfg.sync_group
        if group:
            for other in self.d.runners.values():
                # the other member's fault as it is now, not as its machine last heard it (a
                # tracker result moving both would otherwise fault this one for nothing); a
                # member waiting for its scripts' first results holds nobody back
                if other is not r and other.cfg.sync_group == group and \
                        self.own_fault(other)[0] and \
                        not (self.table is not None and self.table.instance(other.name).pending):
                    return True, "sync group"
        return False, ""

    def own_fault(self, r: Runner) -> tuple[bool, str]:
        if r.cfg.use_ipvlan is not None and not r.vmac and r.cfg.interface:
            # the ipvlan could not be made: keepalived stays in FAULT ("interface vrrp.N
            # down"), never on the parent instead (vrrp/vmac.py ensure_ipvlan)
            return True, f"interface {r.cfg.use_ipvlan or 'ipvlan'} down"
        t = self.table.instance(r.name) if self.table is not None else None
        return vrrp_priority.own_fault(r.cfg, r.link_up, r.src is not None, t)

    def refresh(self, r: Runner, initial: bool = False) -> None:
        """The instance's effective priority and FAULT from the table, as machine events."""
        d = self.d
        if self.table is None or d.loop is None:
            return
        t = self.table.instance(r.name)
        prio = vrrp_priority.effective_priority(r.cfg.priority, t.delta)
        if prio != r.fsm.priority:
            log.info("vrrp.priority.changed", instance=r.name, old=r.fsm.priority, new=prio,
                     compat=f"({r.name}) Changing effective priority from {r.fsm.priority}"
                            f" to {prio}")
            d._apply(r, r.fsm.handle(m.PriorityChanged(prio), d.loop.time()))
            if r.cfg.notify_priority_changes:                        # -- issue 12
                fifo_events.write(d.fifos, [fifo_events.priority_line(r.name, r.fsm.state, prio)])
        if initial:
            return
        fault, reason = self.fault_of(r)
        if fault and r.name in d._silent_fault and r.fsm.state is m.State.FAULT and \
                not self.table.instance(r.name).pending:
            # a script's first result is a failure: keepalived announces the FAULT it was in
            d._silent_fault.discard(r.name)
            d._reason_line(r, m.StateChanged(m.State.INIT, m.State.FAULT, reason))
            d._announce(r, m.StateChanged(m.State.INIT, m.State.FAULT, reason))
            d._sync_group_state(r)
            for other in list(d.runners.values()):
                if other is not r and r.cfg.sync_group and other.cfg.sync_group == r.cfg.sync_group:
                    f2, r2 = self.fault_of(other)
                    if f2 != other.fsm.fault:
                        d._apply(other, other.fsm.handle(m.FaultChanged(f2, r2), d.loop.time()))
        if fault != r.fsm.fault:
            d._apply(r, r.fsm.handle(m.FaultChanged(fault, reason), d.loop.time()))
            group = r.cfg.sync_group
            if group:
                for other in list(d.runners.values()):
                    if other is not r and other.cfg.sync_group == group:
                        f2, r2 = self.fault_of(other)
                        if f2 != other.fsm.fault:
                            d._apply(other, other.fsm.handle(m.FaultChanged(f2, r2),
                                                             d.loop.time()))


def tracker_defs(config: Config) -> dict[tuple[str, str], Any]:
    """Every tracked object's definition by (kind, name), compared across a reload."""
    out: dict[tuple[str, str], Any] = {}
    for s in config.vrrp_scripts:
        out[("script", s.name)] = s
    for p in config.vrrp_track_processes:
        out[("process", p.name)] = p
    for f in config.vrrp_track_files:
        out[("file", f.name)] = f
    for b in config.bfd_instances:               # BFD hook (issue 17): a session's state
        out[("bfd", b.name)] = b.name           # survives any reload that keeps the instance
    return out
