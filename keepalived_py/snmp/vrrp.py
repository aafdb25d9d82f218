"""The VRRP child's SNMP subagent: KEEPALIVED-MIB global+vrrp, VRRP-MIB, VRRPV3-MIB, traps.

Glue only: it reads the daemon's instances into vrrp_mib facts (per request, so answers are
current) and hands rows and notifications to the AgentX client. Which subtrees it registers
follows enable_snmp_vrrp / enable_snmp_rfcv2 / enable_snmp_rfcv3; traps need enable_traps.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import Config
from keepalived_py.snmp import vrrp_mib as vm
from keepalived_py.snmp.client import AgentxClient
from keepalived_py.snmp.mib import View

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

IDENT = (*vm.KEEPALIVED, 2)        # our Open id: the vrrp subtree, as keepalived's subagent

SCRIPT_COLUMNS = {"notify_master": 22, "notify_backup": 23, "notify_fault": 24,
                  "notify_stop": 25, "notify": 26, "notify_master_rx_lower_pri": 31}


def global_facts(config: Config) -> vm.GlobalFacts:
    g = config.global_defs
    return vm.GlobalFacts(router_id=g.router_id or socket.gethostname(),
                          smtp_server=g.smtp_server if g.smtp_server and _is_ip(g.smtp_server)
                          else None,
                          smtp_timeout=int(g.smtp_connect_timeout) if g.smtp_server else 0,
                          smtp_port=g.smtp_server_port if g.smtp_server else 0,
                          email_from=g.notification_email_from, emails=g.notification_email,
                          email_faults=not g.no_email_faults, smtp_alert=g.smtp_alert,
                          smtp_alert_vrrp=g.smtp_alert_vrrp,
                          smtp_alert_checker=g.smtp_alert_checker, traps=g.enable_traps,
                          lvs_flush=g.lvs_flush, dbus=g.enable_dbus,
                          lvs_flush_on_stop=g.lvs_flush_on_stop is not None)


def _is_ip(s: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _mac(ifname: str) -> bytes:
    with contextlib.suppress(OSError, ValueError):
        text = Path(f"/sys/class/net/{ifname}/address").read_text().strip()
        return bytes(int(x, 16) for x in text.split(":"))
    return b""


def _ifindex(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        return 0


VIEW_TTL = 0.25     # a walk is many requests: one view serves them for this long (seconds),
VIEW_COST = 5       # or for this many times what reading the facts cost the loop, if longer


def ttl(cost: float) -> float:
    """How long a view stays: short, unless building it was costly (1000 instances: their
    facts take the loop ~0.1 s; the view then serves a walk for ~0.5 s)."""
    return max(VIEW_TTL, VIEW_COST * cost)


class VrrpSubagent:
    def __init__(self, daemon: VrrpDaemon, config: Config) -> None:
        self.daemon = daemon
        self._view: tuple[float, View] | None = None
        self._links: dict[str, tuple[int, bytes]] = {}
        self.started = time.monotonic()
        self.config = config
        self.group_states: dict[str, str] = {}
        self.traps_sent = 0
        g = config.global_defs
        subtrees = []
        if g.enable_snmp_vrrp:
            subtrees += [vm.K_GLOBAL, vm.K_VRRP]
        if g.enable_snmp_rfcv2:
            subtrees.append(vm.VRRP_MIB)
        if g.enable_snmp_rfcv3:
            subtrees.append(vm.VRRPV3_MIB)
        self.client = AgentxClient(g.snmp_socket, IDENT, "keepalived-py VRRP subagent", subtrees, self.view)

    def start(self) -> None:
        self.client.start()

    def configure(self, config: Config) -> None:
        self.config = config
        self._view = None
        self._links.clear()

    async def stop(self) -> None:
        await self.client.stop()

    # -- facts ----------------------------------------------------------------------------------
    def facts(self) -> tuple[list[vm.InstanceFacts], list[vm.GroupFacts]]:
        d = self.daemon
        order = {i.name: n for n, i in enumerate(self.config.vrrp_instances, 1)}
        groups_of = {m: g.name for g in self.config.vrrp_sync_groups for m in g.group}
        now = time.monotonic()
        self._links.clear()                   # interfaces may have changed since the last view
        out = []
        for r in d.runners.values():
            out.append(self._instance(r, order.get(r.name, len(order) + 1), groups_of, now))
        out.sort(key=lambda i: i.index)
        return out, self.group_facts(order)

    def group_facts(self, order: dict[str, int] | None = None) -> list[vm.GroupFacts]:
        d = self.daemon
        if order is None:
            order = {i.name: n for n, i in enumerate(self.config.vrrp_instances, 1)}
        groups = []
        for n, g in enumerate(self.config.vrrp_sync_groups, 1):
            state = d._group_states.get(g.name)
            groups.append(vm.GroupFacts(n, g.name, state.value if state is not None else "INIT",
                                        tuple(order[m] for m in g.group if m in order),
                                        bool(g.notify.smtp_alert), g.notify.notify is not None,
                                        g.sync_group_tracking_weight))
        return groups

    def _link(self, ifname: str) -> tuple[int, bytes]:
        """ifIndex and MAC of an interface, read once per view (many instances share one)."""
        got = self._links.get(ifname)
        if got is None:
            got = self._links[ifname] = (_ifindex(ifname), _mac(ifname))
        return got

    def _instance(self, r: Runner, index: int, groups_of: dict[str, str],
                  now: float) -> vm.InstanceFacts:
        c, fsm = r.cfg, r.fsm
        stats: dict[str, int] = dict(fsm.stats)
        for k, v in r.drops.items():
            stats[k] = stats.get(k, 0) + v
        n = c.notify
        scripts = {col: " ".join(s.argv) for key, col in SCRIPT_COLUMNS.items()
                   if (s := getattr(n, key, None)) is not None}
        addresses = tuple(vm.AddressFacts(str(a.address.ip), a.address.network.prefixlen,
                                          str(a.brd) if a.brd else None, a.scope,
                                          a.dev or r.ifname, self._link(a.dev or r.ifname)[0],
                                          r.holding)
                          for a in c.virtual_ipaddress)
        ifindex, mac = self._link(r.ifname)
        return vm.InstanceFacts(
            index=index, name=r.name, vrid=c.virtual_router_id, version=c.version,
            family=c.family, state=fsm.state.value, initial_state=c.state.value,
            wanted_state=fsm.wantstate.value, base_priority=c.priority, priority=fsm.priority,
            holding=r.holding, interface=r.ifname, ifindex=ifindex,
            mac=mac, track_primary=not c.dont_track_primary,
            advert_int=c.advert_int, preempt=not c.nopreempt, preempt_delay=c.preempt_delay,
            auth_type=c.auth_type, sync_group=groups_of.get(r.name),
            garp_delay=c.garp_master_delay, smtp_alert=bool(n.smtp_alert),
            notify_exec=any(getattr(n, k, None) is not None for k in SCRIPT_COLUMNS),
            scripts=scripts, accept=c.accept, mcast=str(r.dsts[0]) if r.dsts else "",
            primary=str(r.src or ""), master=str(fsm.master_source or ""), addresses=addresses,
            stats=stats, up_seconds=now - self.started,
            new_master_reason=3 if fsm.state.value == "MASTER" else 0)

    async def view(self) -> View:
        """The view for a request: the facts are read on the loop (cheap), the rows are built
        and sorted on a worker thread (1000 instances: some 85,000 rows, a second of CPU that
        must not hold VRRP's timers)."""
        now = time.monotonic()
        if self._view is not None and now < self._view[0]:
            return self._view[1]
        instances, groups = self.facts()
        config = self.config
        view = await asyncio.to_thread(self.build, config, instances, groups)
        self._view = (now + ttl(time.monotonic() - now), view)
        return view

    @staticmethod
    def build(config: Config, instances: list[vm.InstanceFacts],
              groups: list[vm.GroupFacts]) -> View:
        g = config.global_defs
        rows: list[Any] = []
        subtrees = []
        if g.enable_snmp_vrrp:
            rows += vm.global_rows(global_facts(config)) + vm.vrrp_rows(instances, groups)
            subtrees += [vm.K_GLOBAL, vm.K_VRRP]
        if g.enable_snmp_rfcv2:
            rows += vm.rfc2787_rows(instances, g.enable_traps)
            subtrees.append(vm.VRRP_MIB)
        if g.enable_snmp_rfcv3:
            rows += vm.rfc6527_rows(instances)
            subtrees.append(vm.VRRPV3_MIB)
        return View(rows, subtrees)

    # -- notifications --------------------------------------------------------------------------
    def state_changed(self, r: Runner, old: str, new: str) -> None:
        """The traps of one transition: built from this instance only (a failover of many
        instances costs each of them its own facts, not everyone's)."""
        self._view = None
        g = self.config.global_defs
        if not g.enable_traps:
            return
        order = {i.name: n for n, i in enumerate(self.config.vrrp_instances, 1)}
        groups_of = {m: grp.name for grp in self.config.vrrp_sync_groups for m in grp.group}
        facts = replace(self._instance(r, order.get(r.name, 0), groups_of, time.monotonic()),
                        state=new)
        router_id = global_facts(self.config).router_id
        traps = []
        if g.enable_snmp_vrrp:
            traps.append(vm.instance_trap(facts, router_id))
        if new == "MASTER":
            if g.enable_snmp_rfcv2 and facts.version == 2 and facts.family == 4:
                traps.append(vm.new_master_v2(facts))
            if g.enable_snmp_rfcv3:
                traps.append(vm.new_master_v3(facts))
        for oid, vbs in traps:
            self.traps_sent += self.client.notify(oid, vbs)
        loop = self.daemon.loop
        if loop is not None and g.enable_snmp_vrrp:
            loop.call_soon(self._groups_changed)

    def _groups_changed(self) -> None:
        groups = self.group_facts()
        router_id = global_facts(self.config).router_id
        for grp in groups:
            if self.group_states.get(grp.name) != grp.state and grp.state != "INIT":
                self.group_states[grp.name] = grp.state
                oid, vbs = vm.group_trap(grp, router_id)
                self.traps_sent += self.client.notify(oid, vbs)
