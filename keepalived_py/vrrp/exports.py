"""What the VRRP child exports to other programs: D-Bus (enable_dbus) and SNMP (AgentX).

Each is imported and started only when the configuration enables it, so the common
configuration pays nothing for them. The daemon calls `state_changed` after it announces a
transition, `configure` on start and reload, and `stop` when it stops.
"""
from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

from keepalived_py.config.model import Config
from keepalived_py.core.child import DumpKind
from keepalived_py.obs import slog

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon

log = slog.get_logger("keepalived_py.vrrp")


def snmp_wanted(config: Config) -> bool:
    g = config.global_defs
    return g.enable_snmp_vrrp or g.enable_snmp_rfcv2 or g.enable_snmp_rfcv3


class VrrpExports:
    def __init__(self, daemon: VrrpDaemon) -> None:
        self.daemon = daemon
        self.dbus: Any = None          # dbus.service.DbusService when enabled and connected
        self.snmp: Any = None          # snmp.vrrp.VrrpSubagent when enabled
        self._dbus_key: tuple[object, ...] | None = None
        self._snmp_key: tuple[object, ...] | None = None

    async def configure(self, config: Config, reload: bool = False) -> None:
        from keepalived_py.snmp import with_command_line  # -x / -A
        config = with_command_line(config, self.daemon.options)
        g = config.global_defs
        key = (g.dbus_service_name,) if g.enable_dbus else None
        if key != self._dbus_key:
            if self.dbus is not None:
                await self.dbus.stop()
                self.dbus = None
            self._dbus_key = key
            if key is not None:
                from keepalived_py.dbus.service import DbusService
                svc = DbusService(g.dbus_service_name, self.daemon.options.namespace,
                                  self.dbus_instances, self.dbus_perform)
                if await svc.start():
                    self.dbus = svc
        elif reload and self.dbus is not None:
            self.dbus.reloaded()
        skey = (g.snmp_socket, g.enable_snmp_vrrp, g.enable_snmp_rfcv2, g.enable_snmp_rfcv3,
                g.enable_traps) if snmp_wanted(config) else None
        if skey != self._snmp_key:
            if self.snmp is not None:
                await self.snmp.stop()
                self.snmp = None
            self._snmp_key = skey
            if skey is not None:
                from keepalived_py.snmp.vrrp import VrrpSubagent
                self.snmp = VrrpSubagent(self.daemon, config)
                self.snmp.start()
        elif self.snmp is not None:
            self.snmp.configure(config)

    def state_changed(self, r: Runner, old: str, new: str) -> None:
        if self.dbus is not None:
            self.dbus.state_changed(self._view(r, new))
        if self.snmp is not None:
            self.snmp.state_changed(r, old, new)

    async def stop(self) -> None:
        if self.dbus is not None:
            await self.dbus.stop()
            self.dbus = None
        if self.snmp is not None:
            await self.snmp.stop()
            self.snmp = None

    # -- D-Bus ----------------------------------------------------------------------------------
    @staticmethod
    def _view(r: Runner, state: str | None = None) -> Any:
        from keepalived_py.dbus.objects import InstanceView
        return InstanceView(r.name, r.cfg.interface, r.cfg.virtual_router_id, r.cfg.family,
                            state or r.fsm.state.value)

    def dbus_instances(self) -> list[Any]:
        return [self._view(r) for r in self.daemon.runners.values()]

    def dbus_perform(self, request: Any, instance: str | None) -> None:
        from keepalived_py.dbus.objects import Request
        d = self.daemon
        if request is Request.PRINT_DATA:
            log.info("vrrp.dbus.print_data", compat="Printing VRRP data on DBus request")
            d.dump(DumpKind.DATA)
        elif request is Request.PRINT_STATS:
            log.info("vrrp.dbus.print_stats", compat="Printing VRRP stats on DBus request")
            d.dump(DumpKind.STATS)
        elif request is Request.PRINT_STATS_CLEAR:
            log.info("vrrp.dbus.print_stats", clear=True,
                     compat="Printing and clearing VRRP stats on DBus request")
            d.dump(DumpKind.STATS_CLEAR)
        elif request is Request.RELOAD:
            os.kill(os.getppid(), signal.SIGHUP)      # the supervisor reloads, as keepalived's
        elif request is Request.SEND_GARP and instance is not None:
            r = d.runners.get(instance)
            if r is not None:
                log.info("vrrp.dbus.send_garp", instance=instance,
                         compat=f"Sending garps on {instance} on DBus request")
                if r.holding:                         # keepalived: only when the VIPs are set
                    from keepalived_py.vrrp.machine import SendGratuitous
                    d._apply(r, [SendGratuitous(1, "dbus", r.fsm.p.vips)])
