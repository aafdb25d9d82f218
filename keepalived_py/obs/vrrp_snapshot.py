"""What the VRRP child shows of itself: the per-instance snapshot behind the dumps
(keepalived.data/.stats/.json), the control socket's `status` and `metrics`. Edge (reads the
running daemon; the renderers it feeds, obs/dumps.py, obs/vrrp_data.py, obs/metrics.py, are
pure).

Theory of operation. `snapshot` is one dict per instance: configuration, the machine's
state and counters (vrrp/stats.py's one table, plus the daemon's drops) and the runtime half
of keepalived.data's instance section. `renderer` gives obs/dumps.DumpWriter its function:
the snapshot is taken on the loop, keepalived.data's interface and command lookups run on the
writer thread.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keepalived_py.obs import dumps
from keepalived_py.vrrp import stats as vrrp_stats

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon


def snapshot(d: VrrpDaemon) -> list[dict[str, Any]]:
    out = []
    for r in d.runners.values():
        stats = vrrp_stats.zeroed()
        stats.update(r.fsm.stats)
        for k, v in r.drops.items():
            stats[k] = stats.get(k, 0) + v
        out.append({
            "name": r.name, "state": r.fsm.state.value, "version": r.cfg.version,
            "interface": r.ifname, "src_ip": str(r.src or ""),
            "mcast_dst": str(r.dsts[0]) if r.dsts else "", "vrid": r.cfg.virtual_router_id,
            "priority": r.cfg.priority, "effective_priority": r.fsm.priority,
            "advert_int": r.cfg.advert_int, "accept": r.cfg.accept,
            "preempt": not r.cfg.nopreempt, "last_transition": r.last_transition,
            "master_down_interval": r.fsm.down_timer_shown(),
            "garp_delay": r.cfg.garp_master_delay, "garp_repeat": r.cfg.garp_master_repeat,
            "vips": [f"{a.address} dev {a.dev or r.ifname} scope {a.scope or 'global'}"
                     for a in r.cfg.virtual_ipaddress],
            "excluded_vips": [f"{a.address} dev {a.dev or r.ifname}"
                              for a in r.cfg.virtual_ipaddress_excluded],
            "stats": stats, **runtime_of(d, r)})
    return out


def runtime_of(d: VrrpDaemon, r: Runner) -> dict[str, Any]:
    """The runtime half of keepalived.data's instance section (obs/vrrp_data.py)."""
    t = d.tracking.instance(r.name) if d.tracking is not None else None
    delta = t.delta if t is not None else 0
    fsm = r.fsm
    return {"wantstate": fsm.wantstate.value, "holding": r.holding,
            # the owner's too: keepalived adds the weights, only its effective one stays
            "total_priority": r.cfg.priority + delta,
            "master_router": str(fsm.master_source or ""),
            "master_priority": fsm.master_priority,
            "master_advert_int": fsm.master_adver_int,
            # keepalived counts unicast_fault_no_peer without peers as one more fault
            "faults": (len(t.reasons) if t is not None else 0)
            + int(r.cfg.unicast_fault_no_peer and not r.cfg.unicast_peer)
            # use_ipvlan: its config fault, and its interface down when it was not made
            + int(r.cfg.ipvlan_fault) + int(r.cfg.use_ipvlan is not None and not r.vmac),
            "fd": r.sock.fileno() if r.sock is not None else -1,
            "read_timeout": wall(fsm.next_deadline(), d.loop),
            "ifindex": r.sock.ifindex if r.sock is not None else 0,
            "vmac": r.vmac,
            # per-address VMACs (vrrp/addr_vmac.py): the device each address is on
            "addr_vmacs": {n: d.addr_vmacs.keys[n][0] for n in d.addr_vmacs.names_of(r.name)
                           if n in d.addr_vmacs.keys},
            "devs": [a.dev for a in r.cfg.virtual_ipaddress + r.cfg.virtual_ipaddress_excluded]}


def data_runtime(d: VrrpDaemon) -> dict[str, Any]:
    """Tracker results for keepalived.data (the interfaces are read on the writer thread)."""
    scripts: dict[str, int] = {}
    processes: dict[str, int] = {}
    for tr in d.track.trackers:
        for name, c in getattr(tr, "counters", {}).items():
            scripts[name] = c.result
        for name, q in getattr(tr, "quorums", {}).items():
            processes[name] = len(q.pids)
    values = d.tracking.values.items() if d.tracking is not None else ()
    files = {n: int(v) for (k, n), v in values if k == "file"}
    c = d.config
    progs = {s.script.argv[0] for s in c.vrrp_scripts if s.script.argv}
    notifies = [*(i.notify for i in c.vrrp_instances), *(g.notify for g in c.vrrp_sync_groups)]
    progs |= {n.argv[0] for nt in notifies for n in vars_of(nt) if n.argv}
    bfd = {n: bool(v) for (k, n), v in values if k == "bfd"}
    return {"scripts": scripts, "processes": processes, "files": files, "bfd": bfd,
            "router_id": socket.gethostname(),
            "commands": [p for p in progs if p.startswith("/")]}


def status_json(d: VrrpDaemon) -> str:
    return json.dumps({"role": "vrrp", "pid": os.getpid(), "instances": snapshot(d),
                       "sockets": [{"interface": s.ifname, "family": s.family,
                                    "received": s.received, "sent": s.sent,
                                    "drops": dict(s.drops),
                                    "kernel_drops": s.kernel_drops,
                                    "lane": sorted(map(str, s.lane_sources)),
                                    "lane_received": s.lane_received,
                                    "lane_kernel_drops": s.lane_kernel_drops,
                                    "rcvbuf": s.rcvbuf_bytes()}
                                   for s in d.sockets.values()],
                       "smtp": d.alerts.mailer.counters()
                                if d.alerts is not None and d.alerts.mailer else {}}) + "\n"


def metrics_text(d: VrrpDaemon) -> str:
    from keepalived_py.obs.metrics import render
    from keepalived_py.obs.vrrp_data import script_states
    return render(snapshot(d), {  # type: ignore[arg-type]
        "transitions": dict(d.transitions), "failover_seconds": d.failovers,
        "scripts": script_states(d.config, data_runtime(d)["scripts"])})


def renderer(d: VrrpDaemon) -> Callable[[str], tuple[str, Any]]:
    """obs/dumps.DumpWriter's render function: a dump kind -> (path, text or a function
    giving it on the writer thread)."""
    def render(k: str) -> tuple[str, Any]:
        snap = snapshot(d)
        g = d.config.global_defs
        path = dumps.dump_path(k, data_use_instance=g.data_use_instance,
                               namespace=d.options.namespace)
        if k == "data" and g.state_dump_file:
            path = g.state_dump_file
        if k == "data":
            from keepalived_py.obs.vrrp_data import format_vrrp_data
            config, runtime = d.config, data_runtime(d)

            def data_text() -> str:     # on the writer thread, off the loop
                runtime["interfaces"] = dumps.read_interfaces()
                runtime["commands"] = {p: os.path.realpath(p) for p in runtime["commands"]}
                return format_vrrp_data(config, snap, runtime)  # type: ignore[arg-type]
            return path, data_text
        text = {"stats": dumps.format_stats, "json": dumps.format_json}[k](snap)  # type: ignore[arg-type]
        return path, text
    return render


def wall(deadline: float | None, loop: asyncio.AbstractEventLoop | None) -> float | None:
    """A loop-clock deadline as wall-clock time (keepalived.data's Read timeout)."""
    if deadline is None or loop is None:
        return None
    return time.time() + (deadline - loop.time())


def vars_of(n: Any) -> list[Any]:
    """The notify scripts set in a model.Notify."""
    return [v for k in n.__slots__ if k != "smtp_alert" and (v := getattr(n, k)) is not None]
