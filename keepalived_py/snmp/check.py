"""The checker child's SNMP subagent (enable_snmp_checker): KEEPALIVED-MIB check part, traps.

Glue: it reads the checker daemon's virtual/real servers into check_mib facts per request and
sends realServerStateChange / virtualServerQuorumStateChange (with enable_traps).
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import Config
from keepalived_py.snmp import check_mib as cm
from keepalived_py.snmp import vrrp_mib as vm
from keepalived_py.snmp.client import AgentxClient
from keepalived_py.snmp.mib import View
from keepalived_py.snmp.vrrp import global_facts, ttl

if TYPE_CHECKING:
    from keepalived_py.check.daemon import CheckerDaemon

IDENT = (*vm.KEEPALIVED, 3)


class CheckSubagent:
    def __init__(self, daemon: CheckerDaemon, config: Config) -> None:
        self.daemon, self.config = daemon, config
        g = config.global_defs
        # the global scalars come from the VRRP child's subagent when it runs one
        self.subtrees = [vm.K_CHECK] if g.enable_snmp_vrrp else [vm.K_GLOBAL, vm.K_CHECK]
        self.client = AgentxClient(g.snmp_socket, IDENT, "keepalived-py checker subagent",
                                   self.subtrees, self.view)
        self.traps_sent = 0
        self._view: tuple[float, View] | None = None

    def start(self) -> None:
        self.client.start()

    def configure(self, config: Config) -> None:
        self.config = config
        self._view = None

    async def stop(self) -> None:
        await self.client.stop()

    def facts(self) -> list[cm.VirtualFacts]:
        out = []
        runs = {id(r.vs): r for r in self.daemon.servers.values()}
        by_vs = {}
        for r in runs.values():
            by_vs[(r.vs.address, r.vs.port, r.vs.fwmark, r.vs.group, r.vs.protocol)] = r
        for n, vs in enumerate(self.config.virtual_servers, 1):
            run = by_vs.get((vs.address, vs.port, vs.fwmark, vs.group, vs.protocol))
            reals = []
            for k, rs in enumerate(vs.real_servers, 1):
                rr = run.reals.get((str(rs.address), rs.port)) if run is not None else None
                up = rr.up if rr is not None else False
                fails = sum(c.state.failures for c in rr.checkers) if rr is not None else 0
                reals.append(cm.RealFacts(k, str(rs.address), rs.port or vs.port or 0, up,
                                          rs.weight, inhibit=rs.inhibit_on_failure,
                                          notify_up=rs.notify_up is not None,
                                          notify_down=rs.notify_down is not None,
                                          failed_checks=fails, name=rs.snmp_name))
            if vs.sorry_server is not None:
                s = vs.sorry_server
                reals.append(cm.RealFacts(len(reals) + 1, str(s.address), s.port or vs.port or 0,
                                          True, s.weight, sorry=True))
            out.append(cm.VirtualFacts(
                n, str(vs.address) if vs.address is not None else None, vs.port or 0,
                vs.fwmark, vs.group, vs.protocol, vs.lvs_sched, vs.lvs_method, vs.delay_loop,
                vs.quorum, vs.hysteresis, run.quorum_up if run is not None else True,
                vs.alpha, vs.omega, vs.ha_suspend, vs.virtualhost, vs.persistence_timeout,
                tuple(reals), vs.snmp_name))
        return out

    async def view(self) -> View:
        """Facts on the loop, rows on a worker thread (as vrrp.VrrpSubagent.view)."""
        now = time.monotonic()
        if self._view is not None and now < self._view[0]:
            return self._view[1]
        facts, config, subtrees = self.facts(), self.config, tuple(self.subtrees)

        def build() -> View:
            rows: list[Any] = cm.check_rows(facts)
            if vm.K_GLOBAL in subtrees:
                rows += vm.global_rows(global_facts(config))
            return View(rows, subtrees)
        view = await asyncio.to_thread(build)
        self._view = (now + ttl(time.monotonic() - now), view)
        return view

    def real_server_changed(self, vs: Any, rs: Any) -> None:
        self._view = None
        if not self.config.global_defs.enable_traps:
            return
        for v in self.facts():
            if (v.address, v.port, v.fwmark, v.group) != (
                    str(vs.address) if vs.address is not None else None, vs.port or 0,
                    vs.fwmark, vs.group):
                continue
            for r in v.reals:
                if not r.sorry and r.address == str(rs.address) and \
                        r.port == (rs.port or vs.port or 0):
                    oid, vbs = cm.real_server_trap(v, r, global_facts(self.config).router_id)
                    self.traps_sent += self.client.notify(oid, vbs)
                    return
