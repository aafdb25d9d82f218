"""The VRRP child: configuration -> one state machine per instance -> sockets, netlink, GARP.

Theory of operation. Every instance is a pure `machine.Instance`; this module feeds it events
(adverts from the raw sockets, its timer from the event loop's single timer heap, interface
and tracker changes) and carries out the actions it returns in `_apply`, the one place where
actions become I/O, in the order that matters for a failover (keepalived 2.2.7's
vrrp_state_master_tx): the advert goes out first (pre-encoded per priority), then the
addresses the action carries are added through netlink (requests written in the same step)
and the gratuitous ARP/NA follow once the kernel acknowledged them; logging, notify scripts,
FIFO lines and the state file come after the packets. Reload diffs by instance name: an
unchanged instance keeps its state and timers (no address churn, no extra GARP), a changed
one keeps its state and gets its address difference (machine.Reconfigured's actions), new
ones start and removed ones stop and release.
Netlink link/address events are vrrp/links.py's; the state file that lets a respawned child
resume mastership without an outage (machine.Resumed) is vrrp/statefile.py's; tracker
results become machine events in vrrp/tracking.py; auth_type AH is vrrp/auth.py's; the
snapshot behind the dumps, `status` and `metrics` is obs/vrrp_snapshot.py's.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import field
from typing import Any, cast

from keepalived_py.config.model import Config, GlobalDefs, VirtualAddress, VrrpInstance
from keepalived_py.core.child import PREV_EXIT_ENV, DumpKind
from keepalived_py.core.eager import start_now
from keepalived_py.notify.fifo import NotifyFifo, open_fifos, vrrp_fifo_line
from keepalived_py.notify.scripts import Notifier, vrrp_notify_args
from keepalived_py.obs import slog
from keepalived_py.options import Options, resolve_pidfiles
from keepalived_py.record import Record
from keepalived_py.track.table import TrackingTable
from keepalived_py.vrrp import (
    addr_vmac,
    extra_if,
    fifo_events,
    fotrace,
    overflow,
    required,
    rxfast,
    statefile,
    takeover,
)
from keepalived_py.vrrp import ah as ipsec_ah
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.acceptance import reject_line, screen
from keepalived_py.vrrp.addresses import Netlink, primary_address
from keepalived_py.vrrp.auth import AhAuth, uses_ah
from keepalived_py.vrrp.debounce import Debounce
from keepalived_py.vrrp.firewall import VipFirewall, addresses_of, firewalled
from keepalived_py.vrrp.garp import GratuitousSender
from keepalived_py.vrrp.garp_pacer import GarpPacer
from keepalived_py.vrrp.linkbeat import Linkbeat
from keepalived_py.vrrp.links import Links, link_up
from keepalived_py.vrrp.local_igmp import LocalIgmp
from keepalived_py.vrrp.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_PASS,
    MCAST4,
    MCAST6,
    Address,
    Advert,
    encode,
    peek_vrid,
)
from keepalived_py.vrrp.promote import PromoteSecondaries
from keepalived_py.vrrp.removal import DELETED, announce_deleted, removed_as
from keepalived_py.vrrp.statefile import TRACKING_KEY, StateFile
from keepalived_py.vrrp.static import apply_static, reinstate, remove_static, static_interfaces
from keepalived_py.vrrp.sync_group import GroupVeto, follow
from keepalived_py.vrrp.takeover import Takeovers
from keepalived_py.vrrp.timers import TimerQueue
from keepalived_py.vrrp.tracking import Tracking
from keepalived_py.vrrp.transport import VrrpSocket
from keepalived_py.vrrp.vmac import VmacTable

log = slog.get_logger("keepalived_py.vrrp")



def params_of(inst: VrrpInstance, global_defs: GlobalDefs | None = None) -> m.Params:
    # H6: the mapping lives with the pure core; global_defs for the flags keepalived ORs in
    # when it checks an advert (vrrp_check_unicast_src, vrrp_skip_check_adv_addr)
    return m.Params.from_config(inst, global_defs=global_defs)


ADVERT_SLACK = 0.1      # a master's advert may be sent this fraction of the interval early


class Runner(Record, kw_only=False, frozen=False):
    cfg: VrrpInstance
    fsm: m.Instance
    sock: VrrpSocket | None = None
    dsts: tuple[Address, ...] = ()
    src: Address | None = None
    cache: dict[int, list[tuple[bytes, Address]]] = field(default_factory=dict)
    addr_task: asyncio.Future[None] | None = None   # the address changes, one after the other
    link_up: bool = True
    drops: Counter[str] = field(default_factory=Counter)
    last_transition: float = 0.0
    # gratuitous ARP/NA frames per set of address lines, built off the failover path
    garp_frames: dict[tuple[VirtualAddress, ...], list[tuple[str, list[bytes]]]] = field(
        default_factory=dict)
    vmac: str | None = None          # use_vmac: the VMAC interface holding the VIPs (vmac.py)
    passed: tuple[Any, ...] | None = None   # the last advert screen() let through (_deliver)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def ifname(self) -> str:
        return self.vmac or self.cfg.interface or ""

    @property
    def vip_dev(self) -> str:
        """Where addresses without `dev` go: the VMAC, else the interface - the parent with
        use_ipvlan too (keepalived 2.2.7's vrrp_complete_instance moves VIPs onto
        vrrp->ifp for VMACs only; measured on a kernel with ipvlan: tests/vm)."""
        return (self.vmac if self.cfg.use_ipvlan is None else None) or self.cfg.interface or ""

    @property
    def holding(self) -> bool:
        """Our addresses are (believed) on the interfaces: the machine's word."""
        return self.fsm.holding


class VrrpDaemon:
    role = "vrrp"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config = Config()
        self.runners: dict[str, Runner] = {}
        self.sockets: dict[tuple[str, int, str], VrrpSocket] = {}
        self.ah = AhAuth()                          # auth_type AH: per instance, kept on reload
        self.netlink = Netlink()
        self.links = Links(self)                    # netlink link/address events (links.py)
        self.vmacs = VmacTable()                    # use_vmac interfaces (vrrp/vmac.py)
        self.addr_vmacs = addr_vmac.AddressVmacs(self.vmacs)  # use_vmac_addr (vrrp/addr_vmac.py)
        self.firewall = VipFirewall()               # no_accept / strict (vrrp/firewall.py)
        self.garp = GratuitousSender()
        # -- issue 12, the VRRP keyword long tail: one object per keyword family
        self.pacer = GarpPacer(self.garp.send)      # garp_group / vrrp_garp_interval pacing
        self.promote = PromoteSecondaries()         # promote_secondaries (vrrp/promote.py)
        self.unknown_vrids = fifo_events.UnknownVrids()     # log_unknown_vrids
        self.local_igmp = LocalIgmp()                       # disable_local_igmp
        self.debounce = Debounce()                  # interface_up_down_delays (vrrp/debounce.py)
        self.linkbeat = Linkbeat(link_up, self._linkbeat_changed)   # linkbeat_interfaces
        self._static_up: dict[str, bool] = {}       # static entries' interfaces: up last seen
        self._static_ifs: tuple[Config | None, set[str]] = (None, set())
        self._extra_if: dict[str, object] = {}      # garp_extra_if: the live chain per instance
        self.notifier = Notifier()
        self.fifos: list[NotifyFifo] = []
        # smtp_alert mails (notify/smtp.py), made with the first configuration that mails: a
        # daemon that sends none never imports the mailer (issue 16)
        self.alerts: Any = None
        self.track = Tracking(self)                 # tracker results -> machine events
        # when the previous VRRP child died (CLOCK_MONOTONIC, from the supervisor): a respawn
        # within one Master_Down_Interval of it resumes mastership without an outage
        died = os.environ.pop(PREV_EXIT_ENV, "")
        try:
            self.previous_exit: float | None = float(died) if died else None
        except ValueError:
            self.previous_exit = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: list[asyncio.Task[None]] = []
        pid_vrrp = resolve_pidfiles(options)["vrrp"]
        self.statefile = StateFile(statefile.path_for(pid_vrrp))   # resume after a respawn
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.connector: Any = None           # set by childrun when started with -s
        self.failovers: dict[str, list[float]] = {}
        self._drop_log: dict[tuple[str, str], tuple[float, int]] = {}
        self._group_states: dict[str, m.State] = {}
        self._vetoes: dict[str, GroupVeto] = {}
        self._silent_fault: set[str] = set()   # in FAULT waiting for scripts, not announced
        self._dumps: Any = None
        self.exports: Any = None             # vrrp.exports.VrrpExports: D-Bus, SNMP (issue 17)
        self.timers: TimerQueue | None = None          # hook (issue 16): one timer for all
        self._by_vrid: dict[tuple[tuple[str, int, str], int], Runner] = {}   # hook (issue 16)
        from keepalived_py.vrrp.lvs_syncd import SyncDaemonFollower
        self.lvs_syncd = SyncDaemonFollower()          # hook (issue 13)
        self._iface_memo: dict[tuple[Any, ...], Any] | None = None           # hook (issue 16)
        self.takeovers = Takeovers(self)     # hook (issue 16.4): a takeover's advert first
        self._drained: set[VrrpSocket] = set()   # (issue 16.4) read in this timer wake-up
        self._starting: list[Callable[[], None]] | None = None               # hook (issue 16)
        self.start_addresses: Any = None     # hook (issue 16.1): vrrp/startclean.py

    def _configure_alerts(self, config: Config) -> None:
        """VrrpAlerts for `config`: created once a configuration mails (until then it would
        only hold its initial state: without a mailer it records nothing)."""
        if self.alerts is not None:
            self.alerts.configure(config)
            return
        g = config.global_defs
        if g.notification_email and g.smtp_server:     # notify/smtp.py SmtpSettings.from_config
            from keepalived_py.notify.smtp import VrrpAlerts
            self.alerts = VrrpAlerts(config)

    def _iface_fact(self, read: Any, *args: Any) -> Any:
        """read(*args) (an interface's link state, its primary address), read once per
        interface while start() adds the instances; a live read otherwise (issue 16)."""
        memo = self._iface_memo
        if memo is None:
            return read(*args)
        key = (read, *args)
        if key not in memo:
            memo[key] = read(*args)
        return memo[key]

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, config: Config) -> None:
        self.loop = asyncio.get_running_loop()
        self.timers = TimerQueue(self.loop, self._fire_key)
        self.config = config
        self.firewall.configure(config.global_defs.process)     # nftables table name...
        self.vmacs.prefix = config.global_defs.process.vmac_prefix or "vrrp"
        self.addr_vmacs.prefix = config.global_defs.process.vmac_addr_prefix
        proc = config.global_defs.process
        await self.netlink.open(proc.vrrp_netlink_cmd, proc.vrrp_netlink_monitor)
        required.check(config)          # keepalived's chk_min_cfg: exits CONFIG (vrrp/required.py)
        self.local_igmp.start(config.global_defs.disable_local_igmp)    # -- issue 12
        await apply_static(self.netlink, None, config)      # static_* (issue 12)
        if self.previous_exit is not None:    # a respawn: our nftables tables are in force
            self.firewall.defer()
        try:
            self.garp.open()
        except PermissionError as e:
            # keepalived 2.2.7 without CAP_NET_RAW: this line, then exit 4 (permanent error
            # MISSING_PERMISSION: the parent stops, systemd does not restart it) - never a
            # daemon that cannot send adverts but takes the VIPs (split brain)
            raise PermissionError(f"Error {e.errno} while registering gratuitous ARP shared"
                                  " channel") from e
        except OSError as e:
            log.error("vrrp.garp.unavailable", error=e.strerror)
        self.notifier = Notifier(script_security=config.global_defs.enable_script_security)
        self._configure_extras(config)                     # -- issue 12
        self._configure_alerts(config)                     # smtp_alert mails
        self._open_fifos(config)
        saved = self.statefile.read()
        resume: dict[str, Any] = {}
        known: dict[tuple[str, str], bool | int] = {}
        if self.previous_exit is not None:
            # a respawned child: the instances' states and tracker results of the one that died
            resume = {k: v for k, v in saved.items() if isinstance(v, dict) and k != TRACKING_KEY}
            known = statefile.decode_tracking(saved.get(TRACKING_KEY))
        respawn = self.previous_exit is not None
        # hook (issue 15): a respawned child's first adverts go out before its tracker
        # monitors start (their imports, scripts and /proc scan): the priorities come from the
        # results the dead child saved
        self.track.start(config, known=known, restart=respawn, monitors=not respawn)
        from keepalived_py.vrrp.startup_delay import startup_hold
        self._hold_until = startup_hold(config, self.loop.time())     # vrrp_startup_delay
        # -- hook (issue 17): D-Bus / SNMP (imported only when enabled), before the instances
        # start, as keepalived's: their first transitions are signalled and trapped too
        from keepalived_py.vrrp.exports import VrrpExports
        self.exports = VrrpExports(self)
        await self.exports.configure(config)
        self._iface_memo = {}          # hook (issue 16): interface facts read once at start
        if not respawn:                # hook (issue 16.1): the addresses there, read once
            from keepalived_py.vrrp import startclean
            self.start_addresses = startclean.present()
        self._starting = []            # hook (issue 16): every instance's packets, then logs
        try:
            for inst in config.vrrp_instances:
                await self._add_runner(inst, resume.get(inst.name))
        finally:
            started, self._starting = self._starting, None
            self.start_addresses = None
            for fn in started:
                fn()
        if respawn:
            self.track.start_monitors(config, known, restart=True)
        self.lvs_syncd.configure(config, self._state_of)     # lvs_sync_daemon inst (issue 13)
        self._iface_memo = None
        self.tasks.append(self.loop.create_task(self.links.watch()))
        self.tasks.append(self.loop.create_task(self._firewall_watch()))   # -- issue 12
        await self.firewall.release()
        self._rx_bufs()                       # vrrp_rx_bufs_policy (vrrp/rxbufs.py)
        await self._start_observability()
        # the dumps' formatter imported once the start has settled, not at the first dump
        self.loop.call_later(DUMPS_WARM_AFTER, self._warm_dumps)

    def _warm_dumps(self) -> None:
        try:
            self.dump_writer().warm()
        except (OSError, RuntimeError) as e:    # EMFILE importing, no thread: the first dump
            log.warning("vrrp.dumps.warm_failed", error=repr(e))    # request tries again

    async def reload(self, config: Config) -> None:
        old_config = self.config
        old = {i.name: i for i in self.config.vrrp_instances}
        new = {i.name: i for i in config.vrrp_instances}
        self.config = config
        self.local_igmp.reload(config.global_defs.disable_local_igmp)      # -- issue 12
        self._configure_extras(config)
        await apply_static(self.netlink, old_config, config)     # static_* (issue 12)
        self._configure_alerts(config)
        if _fifo_defs(old_config) != _fifo_defs(config):    # an unchanged FIFO keeps its reader
            for f in self.fifos:
                await f.aclose()
            self._open_fifos(config)
        for name in old.keys() - new.keys():
            # keepalived reports an instance a reload removes as FAULT (notify, FIFO), or
            # DELETED with notify_deleted (vrrp/removal.py)
            await self._remove_runner(name, release=True, announce_as=m.State.FAULT)
        # params_of is a function of the instance and the globals: unchanged both, no call
        same_globals = config.global_defs == old_config.global_defs
        known = self.track.unchanged_results(config)
        self.track.stop()
        self.track.start(config, known=known, restart=True)
        for name, inst in new.items():
            if name not in old:
                await self._add_runner(inst, None)
            elif _identity(inst) != _identity(old[name]):
                # another virtual router (VRID, interface, family): keepalived removes the old
                # instance (FAULT, priority 0 on the old VRID) and starts the new one
                await self._remove_runner(name, release=True, announce_as=m.State.FAULT)
                await self._add_runner(inst, None)
            elif inst != old[name] or not same_globals and params_of(
                    inst, config.global_defs) != params_of(old[name], old_config.global_defs):
                # (a global the checks OR in)
                await self._change_runner(self.runners[name], inst)
        for r in self.runners.values():
            self._refresh_tracking(r)
        if config.global_defs.fifo_write_vrrp_states_on_reload:         # -- issue 12
            fifo_events.write(self.fifos, fifo_events.reload_lines(
                [(g, st.value) for g, st in self._group_states.items()
                 if g in {x.name for x in config.vrrp_sync_groups}],
                [(n, x.fsm.state, x.fsm.priority) for n, x in self.runners.items()
                 if n in old and x.name not in self._silent_fault]))
        self.lvs_syncd.configure(config, self._state_of)     # lvs_sync_daemon inst (issue 13)
        if self.loop is not None and self.lvs_syncd.cfg is not None:
            self.loop.call_later(3.0, self.lvs_syncd.reassert)
        self._rx_bufs()                       # vrrp_rx_bufs_policy over the new instance set
        log.info("vrrp.reloaded", instances=len(self.runners))
        if self.exports is not None:        # hook (issue 17)
            await self.exports.configure(config, reload=True)

    async def _start_observability(self) -> None:
        from keepalived_py.obs.control import ControlServer
        from keepalived_py.options import control_socket
        self.control: ControlServer | None = ControlServer(control_socket(self.options, "vrrp"), {
            "status": self.status_json, "metrics": self.metrics_text})
        try:
            await self.control.start()
        except OSError as e:
            log.warning("obs.control.unavailable", error=str(e))
            self.control = None

    # -- what the child shows: obs/vrrp_snapshot.py (imported when first asked) ---------------
    def status_json(self) -> str:
        from keepalived_py.obs import vrrp_snapshot
        return vrrp_snapshot.status_json(self)

    def metrics_text(self) -> str:
        from keepalived_py.obs import vrrp_snapshot
        return vrrp_snapshot.metrics_text(self)

    def snapshot(self) -> list[dict[str, Any]]:
        from keepalived_py.obs import vrrp_snapshot
        return vrrp_snapshot.snapshot(self)

    def _state_of(self, name: str) -> str | None:
        r = self.runners.get(name)
        return r.fsm.state.value if r is not None else None

    async def stop(self, release: bool) -> None:
        # hook (issue 16.4): every master's priority-0 advert first, before any address
        # removal, script or file (50 instances stopping hand over together)
        shutdown = self._shutdown_all(release)
        self.lvs_syncd.stop()                  # lvs_sync_daemon inst (issue 13)
        if release:
            # nothing of ours stays: a quick restart must not resume mastership
            self.statefile.clear()
        control = getattr(self, "control", None)    # (None also before _start_observability)
        if control is not None:
            await control.stop()
        for name in list(self.runners):
            await self._remove_runner(name, release=release, keep_state=not release,
                                      shutdown=shutdown.get(name))
        for group, state in list(self._group_states.items()):
            if state is not m.State.STOP:
                self._group_states[group] = m.State.STOP
                g = next((x for x in self.config.vrrp_sync_groups if x.name == group), None)
                if g is not None and g.notify.notify_stop is not None:
                    self.notifier.launch(g.notify.notify_stop)
                if g is not None and g.notify.notify is not None:
                    self.notifier.launch(g.notify.notify, vrrp_notify_args("GROUP", group, "STOP", 0))
                for f in self.fifos:
                    f.write(vrrp_fifo_line("GROUP", group, "STOP", 0))
        self.track.stop()
        if self.exports is not None:        # hook (issue 17): after the instances' STOP
            await self.exports.stop()
        for t in self.tasks:
            t.cancel()
        if release:                          # -- firewall, static_* hook (issue 12)
            await self.firewall.close()
            if self.netlink.opened:
                await remove_static(self.netlink, self.config)
            self.local_igmp.stop()
        await self.notifier.drain(2.0)
        if self.alerts is not None:
            await self.alerts.close(0.0)    # as keepalived 2.2.7: its "Stopping" mails never leave
        for s in self.sockets.values():
            if self.loop is not None:
                self.loop.remove_reader(s.fileno())
            s.close()
        self.sockets.clear()
        self.pacer.close()
        self.debounce.close()
        self.linkbeat.close()
        self.garp.close()
        self.netlink.close()
        for f in self.fifos:
            await f.aclose()
        if fotrace.ON:
            fotrace.dump()

    def _shutdown_all(self, release: bool) -> dict[str, list[m.Action]]:
        """Every instance's machine told Shutdown, its timer stopped and its priority-0
        advert sent, all in one step; then (`release`) the plain address removals of all
        of them in one netlink request (takeover.plain); the rest of each one's actions
        (other removals, announcement) for `_remove_runner`. No instance can send a normal
        advert after another one's priority-0 (a backup taking over would step back)."""
        out: dict[str, list[m.Action]] = {}
        if self.loop is None:
            return out
        for r in list(self.runners.values()):
            self.takeovers.before(r)         # (a takeover under way: its machine and held work)
        now = self.loop.time()
        for name, r in self.runners.items():
            if self.timers is not None:
                self.timers.set(name, None)
            actions = r.fsm.handle(m.Shutdown(), now)
            rest: list[m.Action] = []
            for a in actions:
                if isinstance(a, m.SendAdvert):
                    self._send_advert(r, a.priority)
                    if fotrace.ON:
                        fotrace.stamp("zero", name, a.priority)
                else:
                    rest.append(a)
            out[name] = rest
        if release and self.netlink.opened:
            gone: list[tuple[Runner, m.Action]] = [
                (r, a) for name, r in self.runners.items() for a in out[name][:1]
                if type(a) is m.RemoveAddresses and takeover.plain(r, a)
                and name not in self.firewall.held]
            if gone:
                try:
                    self.netlink.set_addresses_many(False, [
                        (cast(m.RemoveAddresses, a).addresses, r.vip_dev, r.name)
                        for r, a in gone])
                    for r, _a in gone:
                        del out[r.name][0]
                except Exception as e:      # (each one's own step then tries again)
                    log.error("vrrp.step.failed", error=repr(e),
                              compat=f"address removal at stop failed: {e!r}")
        return out

    def bfd_event(self, states: dict[str, bool]) -> None:
        """BFD hook (issue 17): sessions Up/Down, from the BFD child through the parent."""
        self.track.bfd_event(states)

    def dump(self, kind: DumpKind) -> None:
        if kind is DumpKind.STATS_CLEAR:
            now = self.loop.time() if self.loop is not None else 0.0
            for r in self.runners.values():
                r.fsm.handle(m.StatsReset(), now)
                r.drops.clear()
            kind = DumpKind.STATS
        try:
            self.dump_writer().request(kind.value)
        except (OSError, RuntimeError) as e:    # EMFILE importing the formatter, no thread
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            log.error("vrrp.dump.failed", kind=kind.value, error=why,
                      compat=f"Unable to write the {kind.value} dump: {why}")

    def dump_writer(self) -> Any:
        """obs/dumps.DumpWriter: dumps formatted on the loop in slices, written by a thread."""
        if self._dumps is None:
            from keepalived_py.obs import dumps, vrrp_snapshot
            self._dumps = dumps.DumpWriter(vrrp_snapshot.renderer(self), vrrp_snapshot.prepare)
        return self._dumps

    # -- instances -------------------------------------------------------------------------
    async def _add_runner(self, inst: VrrpInstance, resume: dict[str, Any] | None) -> None:
        assert self.loop is not None
        inst = await self._address_vmacs(inst)          # -- per-address VMACs (issue 12)
        family = inst.family
        src = inst.unicast_src_ip or inst.mcast_src_ip or (
            self._iface_fact(primary_address, inst.interface, family) if inst.interface else None)
        if inst.use_ipvlan is not None and not (inst.unicast_src_ip or inst.mcast_src_ip) \
                and inst.ipvlan_addr is not None and inst.ipvlan_addr.version == family:
            src = inst.ipvlan_addr.ip   # adverts leave the ipvlan from its address (keepalived)
        r = Runner(inst, m.Instance(params_of(inst, self.config.global_defs), src,
                                    sync=self._group_veto(inst.sync_group)), src=src)
        self.runners[inst.name] = r
        if inst.unicast_peer:
            r.dsts = tuple(p.address for p in inst.unicast_peer)
        else:
            g = self.config.global_defs
            r.dsts = (inst.mcast_dst_ip or (g.vrrp_mcast_group4 if family == 4
                                            else g.vrrp_mcast_group6),)
        if inst.interface and (inst.use_vmac is not None       # -- VMAC/ipvlan hook (issue 12)
                               or inst.use_ipvlan is not None):
            await self._vmac_up(r)
        elif inst.interface and inst.promote_secondaries:        # -- issue 12
            self.promote.acquire(inst.interface, inst.name)
        if inst.interface:
            r.link_up = self._iface_fact(link_up, inst.interface)
            try:
                r.sock = self._socket(inst, r)
            except OSError as e:
                log.error("vrrp.socket.failed", instance=inst.name, error=e.strerror)
        self._refresh_tracking(r, initial=True)
        died = self.previous_exit
        resuming = bool(resume and resume.get("state") == "MASTER" and died is not None
                        and self.loop.time() - died < r.fsm.master_down_interval())
        if resuming:
            # the child that died was MASTER less than a Master_Down_Interval ago: its
            # addresses are still ours; keep them (no RTM_DELADDR) and advertise at once
            self.ah.resume(r, resume)
            if firewalled(inst):            # -- firewall hook (issue 12): keep its VIPs dropped
                await self.firewall.update(r.name, True, addresses_of(inst, r.vip_dev))
        else:
            # a clean start, as keepalived: nothing of ours stays on the interface (unless
            # the start's dump says there is nothing: vrrp/startclean.py, issue 16.1)
            from keepalived_py.vrrp.startclean import runner_must_release
            if runner_must_release(self, r):
                self._apply(r, [r.fsm.release()], "reload")
                await self._settled(r)
        fault, reason = self.track.fault_of(r)
        if inst.unicast_fault_no_peer and not inst.unicast_peer:
            log.warning("vrrp.unicast.no_peers", instance=inst.name,
                        compat=f"({inst.name}) Cannot use unicast without any peers - going to"
                               " fault state")
        r.fsm.handle(m.FaultChanged(fault, reason, config=bool(
            inst.unicast_fault_no_peer and not inst.unicast_peer)
            or (inst.ipvlan_fault and bool(r.vmac))),     # (not made: its interface is down)
            self.loop.time())  # INIT: no action
        self._garp_frames(r, r.fsm.p.vips)     # built now, off the failover path
        self._payloads(r, r.fsm.priority)
        event: m.Event = m.Resumed(True, died) if resuming and died is not None else \
            m.Started(hold_until=getattr(self, "_hold_until", 0.0))
        self._apply(r, r.fsm.handle(event, self.loop.time()))

    async def _change_runner(self, r: Runner, inst: VrrpInstance) -> None:
        inst = await self._address_vmacs(inst)          # -- per-address VMACs (issue 12)
        old = r.cfg
        r.cfg = inst
        assert self.loop is not None
        if uses_ah(old) != uses_ah(inst) and inst.interface:    # AH has a socket of its own
            try:
                r.sock = self._socket(inst, r)
            except OSError as e:
                log.error("vrrp.socket.failed", instance=inst.name, error=e.strerror)
        r.cache.clear()
        r.garp_frames.clear()
        # a MASTER's address difference comes back as actions, carried out in order
        self._apply(r, r.fsm.handle(m.Reconfigured(params_of(inst, self.config.global_defs),
                                                   self._group_veto(inst.sync_group)),
                                    self.loop.time()), "reload")
        await self._settled(r)
        await self.addr_vmacs.prune(self.netlink.ipr, r.name)      # (the ones it left)
        if r.holding:
            if firewalled(inst) or r.name in self.firewall.held:   # -- firewall hook (issue 12)
                await self.firewall.update(r.name, firewalled(inst), addresses_of(inst, r.vip_dev))
        log.info("vrrp.instance.changed", instance=r.name)

    async def _remove_runner(self, name: str, release: bool, keep_state: bool = False,
                             announce_as: m.State | None = None,
                             shutdown: list[m.Action] | None = None) -> None:
        """`shutdown`: the actions left of the machine's Shutdown, already handled (stop)."""
        r = self.runners.pop(name, None)
        if r is None or self.loop is None:
            return
        if self.timers is not None:
            self.timers.set(name, None)
        if shutdown is None:
            shutdown = r.fsm.handle(m.Shutdown(), self.loop.time())
        changes = self._apply(r, shutdown, "release" if release else "stop")
        await self._settled(r)
        if release:
            self.promote.release(r.name)                            # -- issue 12
        if release and r.vmac and self.netlink.ipr is not None:     # -- VMAC hook (issue 12)
            await self.vmacs.remove(self.netlink.ipr, r.name, r.vmac)
            self.netlink.forget(r.vmac)
            if r.cfg.use_ipvlan is None:
                await self.firewall.vmac(r.vmac, r.cfg.interface or "", r.cfg.family, False)
        if release:                                 # -- per-address VMACs (issue 12)
            for gone in await self.addr_vmacs.release(self.netlink.ipr, r.name):
                self.netlink.forget(gone)
        for a in changes:                       # STOP, once nothing of ours is left
            if announce_as is not None:          # removed by a reload (vrrp/removal.py)
                what = removed_as(r.cfg, a.old)
                if what == DELETED:
                    announce_deleted(self.notifier, self.fifos, r.cfg, r.fsm.priority)
                if what != announce_as.value:
                    continue
                a = m.StateChanged(a.old, announce_as, a.reason)
            self._announce(r, a)
        if not keep_state:
            self._write_state()

    async def _address_vmacs(self, inst: VrrpInstance) -> VrrpInstance:
        """use_vmac_addr / an address's use_vmac: the VMACs made, the addresses moved onto
        them (vrrp/addr_vmac.py)."""
        if not addr_vmac.wanted(inst) or self.netlink.ipr is None:
            self.addr_vmacs.current[inst.name] = set()
            return inst
        # the instances' own VMAC names, generated ones too (keepalived names those first)
        taken = {x.vmac for x in self.runners.values() if x.vmac} | {
            i.use_vmac or i.use_ipvlan or f"{self.vmacs.prefix}.{i.virtual_router_id}"
            for i in self.config.vrrp_instances
            if i.use_vmac is not None or i.use_ipvlan is not None}
        out = await self.addr_vmacs.resolve(self.netlink.ipr, inst, taken,
                                            lambda dev: primary_address(dev, 6))
        for name in self.addr_vmacs.names_of(inst.name):
            self.netlink.forget(name)
        return out

    async def _vmac_up(self, r: Runner) -> None:
        """use_vmac: make or adopt the instance's VMAC interface (vrrp/vmac.py)."""
        inst = r.cfg
        assert self.netlink.ipr is not None and inst.interface
        taken = {x.vmac for x in self.runners.values() if x.vmac and x is not r} | {
            name for i in self.config.vrrp_instances
            if i.name != r.name and (name := i.use_vmac or i.use_ipvlan)}
        if inst.use_ipvlan is not None:                     # keepalived's netlink_link_add_ipvlan
            r.vmac = await self.vmacs.ensure_ipvlan(
                self.netlink.ipr, r.name, inst.interface, inst.virtual_router_id, inst.family,
                inst.use_ipvlan, inst.ipvlan_type, inst.ipvlan_addr, taken)
            if r.vmac:
                self.netlink.forget(r.vmac)
            return
        assert inst.use_vmac is not None
        src6 = r.src if isinstance(r.src, ipaddress.IPv6Address) else None
        r.vmac = await self.vmacs.ensure(self.netlink.ipr, r.name, inst.interface,
                                         inst.virtual_router_id, inst.family, inst.use_vmac,
                                         src6, inst.vmac_xmit_base, taken)
        if r.vmac:
            self.netlink.forget(r.vmac)
            await self.firewall.vmac(r.vmac, inst.interface, inst.family, True)

    async def _vmac_recreate(self, r: Runner) -> None:
        """keepalived's recreate_vmac_thread: a VMAC of ours that someone deleted is made
        again (same name, MAC and settings); the instance's socket is reopened on it and a
        MASTER puts its addresses back and announces them (links.py calls it)."""
        name = r.vmac
        if name is None or self.netlink.ifindex(name) is not None or self.netlink.ipr is None:
            return                              # already back (or ours was replaced)
        await self._vmac_up(r)
        if self.runners.get(r.name) is not r or not r.vmac or self.loop is None:
            return
        key = _sock_key(r.cfg, r.vmac)
        old = self.sockets.pop(key, None)
        if old is not None:
            self.loop.remove_reader(old.fileno())
            old.close()
        try:
            sock: VrrpSocket | None = self._socket(r.cfg, r)
        except OSError as e:
            log.error("vrrp.socket.failed", instance=r.name, error=e.strerror)
            sock = None
        for other in self.runners.values():
            if other.sock is old and old is not None or other is r:
                other.sock = sock
                other.cache.clear()
                other.garp_frames.clear()
        overflow.socket_replaced(self, sock)            # rx buffer, priority lane (issue 15)
        if r.holding and r.fsm.state is m.State.MASTER:
            p = r.fsm.p
            await self._set_addresses(r, m.AddAddresses(p.vips, p.routes, p.rules))
            self._gratuitous(r, r.cfg.garp_master_repeat, p.vips)

    def _static_link(self, ifname: str, up: bool) -> None:
        """An interface of static addresses/routes came back up: they go back on it."""
        if self._static_ifs[0] is not self.config:
            self._static_ifs = (self.config, static_interfaces(self.config))
        if ifname in self._static_ifs[1]:
            was = self._static_up.get(ifname, True)
            self._static_up[ifname] = up
            if up and not was and self.loop is not None:
                self.netlink.forget(ifname)
                self.loop.create_task(reinstate(self.netlink, self.config, ifname))

    def _linkbeat_changed(self, ifname: str, up: bool) -> None:
        """A polled interface changed (vrrp/linkbeat.py): what a netlink up/down does."""
        self._static_link(ifname, up)
        if self.tracking is not None and ifname in self.tracking.watched("interface"):
            self._tracked("interface", ifname, up)
        for r in self.runners.values():
            if r.cfg.interface == ifname and up != r.link_up:
                r.link_up = up
                if up and r.sock is None:
                    self.links.reopen(r)
                self._refresh_tracking(r)

    def _configure_extras(self, config: Config) -> None:
        """The long tail's per-configuration state (issue 12): GARP pacing, debounce, linkbeat."""
        self.pacer.configure(config)
        self.debounce.configure(config, link_up)
        self.linkbeat.configure(config.linkbeat_interfaces)

    def _rx_bufs(self) -> None:
        from keepalived_py.vrrp import rxbufs
        by_sock: dict[object, list[VrrpInstance]] = {}
        for r in self.runners.values():
            if r.sock is not None:
                by_sock.setdefault(r.sock, []).append(r.cfg)
        rxbufs.apply(by_sock, self.config.global_defs.process)

    def _socket(self, inst: VrrpInstance, r: Runner) -> VrrpSocket:
        key = _sock_key(inst, r.vmac)
        s = self.sockets.get(key)
        if s is None:
            group = MCAST4 if inst.family == 4 else MCAST6
            if not inst.unicast_peer:
                group = r.dsts[0]  # type: ignore[assignment]
            s = VrrpSocket(key[0], inst.family, group,
                           functools.partial(self._deliver, key),
                           unicast_src=inst.unicast_src_ip,
                           unicast_ttl=inst.unicast_ttl if inst.unicast_ttl is not None else 255,
                           deliver_ah=functools.partial(self._deliver_ah, key)
                           if uses_ah(inst) else None,
                           on_overflow=functools.partial(self._rx_overflow, key))
            if r.vmac and not inst.vmac_xmit_base:
                s.source = r.src           # the VMAC has no address of its own (VIPs only)
            self.sockets[key] = s
            assert self.loop is not None
            s.reader = functools.partial(self._read, s)      # (its priority lane's too)
            self.loop.add_reader(s.fileno(), s.reader, False)
        return s

    def _read(self, s: VrrpSocket, lane: bool) -> None:
        """A socket's read wake-up (issue 15): as one timer wake-up (TimerQueue.gather) - the
        timers already due first (a master thawed after a freeze sends its overdue adverts
        before it works through the stale backlog), the transitions' announcements after the
        last packet read. With KP_FO_TRACE, stamped (vrrp/fotrace.py)."""
        if fotrace.ON:
            t = time.monotonic()
            n = s.received
        if self.timers is None:
            s.readable(lane)
        else:
            self.timers.gather(s.readable, lane)
        if fotrace.ON:
            fotrace.stamp("rx", s.ifname, t, s.received - n)

    # -- packets in --------------------------------------------------------------------------
    def _rx_overflow(self, key: tuple[str, int, str], count: int, lane: bool) -> None:
        assert self.loop is not None
        overflow.lost(self.runners.values(), self.sockets.get(key), count, lane, self.loop.time())

    def _deliver(self, key: tuple[str, int, str], adv: Advert, src: Address, dst: Address,
                 ttl: int) -> None:
        assert self.loop is not None
        # the time of the socket's wake-up (issue 16.4: the down timer runs from when the
        # advert was there, not from its turn in the batch); loop.time() outside a read
        rx_at = self.sockets[key].rx_at if key in self.sockets else None
        now = rx_at if rx_at is not None else self.loop.time()
        receivers = self._receivers(key, adv.vrid)
        if not receivers and self.config.global_defs.log_unknown_vrids:     # -- issue 12
            self.unknown_vrids.heard(key[0], adv.vrid, now)
        for r in receivers:
            # hook (issue 16): the backup's common case, the master's same advert again,
            # screened before for this configuration: count it, restart the down timer
            passed = r.passed
            if passed is not None and passed[0] is adv and passed[2] == ttl and \
                    passed[3] is r.cfg and passed[4] is self.config and \
                    (passed[1] is src or passed[1] == src):
                deadline = r.fsm.advert_fast(adv, src, ttl, None, now)
                if deadline is not None:
                    assert self.timers is not None
                    self.timers.set(r.name, deadline)
                    return
            name = r.name
            drop = screen(adv, src, ttl, r.cfg,
                          check_unicast_src=self.config.global_defs.vrrp_check_unicast_src)
            if drop is not None:
                self._drop(r, drop.counter, drop.line)
                continue
            r.passed = (adv, src, ttl, r.cfg, self.config)
            backup = r.fsm.state is m.State.BACKUP
            heard = r.fsm.master_heard
            actions = r.fsm.handle(m.AdvertReceived(adv, src, ttl), now)
            if not actions and r.fsm.fast_armed and len(receivers) == 1:
                rxfast.arm(self, key, r, adv, src)     # hook (issue 16): vrrp/rxfast.py
            if r.fsm.master_heard != heard:     # a new master: its adverts get the fast lane
                overflow.prioritise(self.runners.values(), r.sock, self.loop)
            if uses_ah(r.cfg):
                self.ah.heard(r, actions)
            self._apply(r, actions)
            for a in actions:
                if isinstance(a, m.RejectAdvert):
                    self._log_drop(r, a.reason.counter,
                                   reject_line(a.reason, a.detail, a.source, adv, r.cfg, ttl))
                elif isinstance(a, m.NotifyLowerPriority):
                    # keepalived logs each one; a stream of them (a misconfigured peer, a
                    # flood) gets the protocol's reply every time but a log line at most
                    # once per DROP_LOG_INTERVAL, with the number held back
                    held = self._log_limit(name, "lower_priority")
                    if held is not None:
                        log.info("vrrp.advert.lower_priority", instance=name,
                                 source=str(a.source), priority=a.priority, suppressed=held,
                                 compat=f"({name}) Received advert from {a.source} with lower"
                                        f" priority {a.priority}, ours {r.fsm.priority}"
                                        + ("" if r.cfg.lower_prio_no_advert
                                           else ", forcing new election")
                                        + (f" ({held} more since the last report)"
                                           if held else ""))
            if backup and adv.priority == 0 and not any(
                    isinstance(a, m.RejectAdvert) for a in actions):
                # after the queued packets (issue 16.4: 50 masters stopping together send 50
                # priority-0 adverts; each one's Skew_Time runs from when it is read)
                self.loop.call_soon(functools.partial(
                    log.info, "vrrp.advert.priority_zero", instance=name,
                    compat=f"({name}) Backup received priority 0 advertisement"))
            return

    def _receivers(self, key: tuple[str, int, str], vrid: int) -> list[Runner]:
        """The instances on socket `key` with `vrid` (one in a valid configuration): the
        last one found, if it still is one, else a scan (hook, issue 16: no scan of every
        instance per packet)."""
        sock = self.sockets.get(key)
        r = self._by_vrid.get((key, vrid))
        if r is not None and r.sock is sock and r.cfg.virtual_router_id == vrid and \
                self.runners.get(r.name) is r:
            return [r]
        found = [r for r in self.runners.values()
                 if r.sock is sock and r.cfg.virtual_router_id == vrid]
        if found:
            self._by_vrid[(key, vrid)] = found[0]
        else:
            self._by_vrid.pop((key, vrid), None)
        return found

    def _drop(self, r: Runner, counter: str, line: str) -> None:
        """An advert the daemon refused before the state machine saw it: counted, logged."""
        r.drops[counter] += 1
        self._log_drop(r, counter, line)

    def _log_limit(self, name: str, kind: str) -> int | None:
        """None: hold this line back; else log it, with the number held back since the last
        (the first of each kind per instance, then one per DROP_LOG_INTERVAL)."""
        assert self.loop is not None
        now = self.loop.time()
        key = (name, kind)
        last, held = self._drop_log.get(key, (-DROP_LOG_INTERVAL, 0))
        if now - last < DROP_LOG_INTERVAL:
            self._drop_log[key] = (last, held + 1)
            return None
        self._drop_log[key] = (now, 0)
        return held

    def _log_drop(self, r: Runner, counter: str, line: str) -> None:
        """keepalived logs every dropped advert; we log the first of each kind per instance,
        then at most one line per DROP_LOG_INTERVAL with the number held back, so that a
        flood cannot fill the disk."""
        held = self._log_limit(r.name, counter)
        if held is None:
            return
        log.info("vrrp.advert.dropped", instance=r.name, counter=counter, suppressed=held,
                 compat=line + (f" ({held} more since the last report)" if held else ""))

    # -- actions out ------------------------------------------------------------------------
    def _payloads(self, r: Runner, priority: int) -> list[tuple[bytes, Address]]:
        cached = r.cache.get(priority)
        if cached is not None:
            return cached
        addrs = tuple(a.address.ip for a in r.cfg.virtual_ipaddress)
        auth = {"PASS": AUTH_PASS, "AH": AUTH_AH}.get(r.cfg.auth_type or "", AUTH_NONE) \
            if r.cfg.version == 2 else AUTH_NONE
        # in the machine's checksum form: v3_checksum_as_v2, old_unicast_checksum, or the
        # form a peer made it switch to (UseChecksum)
        adv = Advert(r.cfg.version, r.cfg.virtual_router_id, priority, addrs, r.cfg.advert_int,
                     auth, (r.cfg.auth_pass or "").encode() if auth == AUTH_PASS else b"",
                     r.fsm.tx_checksum)
        out = []
        for dst in r.dsts:
            src = r.src
            if r.cfg.version == 3 and src is None:
                continue
            out.append((encode(adv, src, dst), dst))
        r.cache[priority] = out
        return out

    def _send_advert(self, r: Runner, priority: int) -> None:
        if r.sock is None or not r.link_up:
            return
        if uses_ah(r.cfg):
            self.ah.send(r, lambda: self._payloads(r, priority))
            return
        # mcast_src_ip: the packets leave from it, as keepalived's (the socket is shared)
        if r.cfg.mcast_src_ip is not None and not r.cfg.unicast_peer and r.src is not None:
            for payload, dst in self._payloads(r, priority):
                r.sock.send(payload, dst, r.src)
            return
        for payload, dst in self._payloads(r, priority):
            r.sock.send(payload, dst)

    # -- IPsec AH (auth_type AH): vrrp/auth.py around vrrp/ah.py ---------------------------
    def _deliver_ah(self, key: tuple[str, int, str], pkt: ipsec_ah.AhPacket) -> None:
        """An AH packet: find the instance by VRID, authenticate, decode, then `_deliver`."""
        vrid = peek_vrid(pkt.payload)
        sock = self.sockets.get(key)
        r = next((r for r in self.runners.values()
                  if r.sock is sock and r.cfg.virtual_router_id == vrid), None)
        if r is None:
            return
        adv = self.ah.receive(r, pkt, self._drop)
        if adv is not None:
            self._deliver(key, adv, pkt.src, pkt.dst, pkt.ttl)

    def _apply(self, r: Runner, actions: list[m.Action], how: str = "run"
               ) -> list[m.StateChanged]:
        """The one place where the machine's actions become I/O, in their order, as keepalived
        2.2.7's vrrp_state_master_tx: the advert at once (the old master drops the addresses
        on it), then the address changes, their netlink requests written in this same step and
        one change after the other (`r.addr_task`, which `_settled` awaits), then the
        gratuitous packets once the kernel acknowledged the addresses (at once if no change is
        in flight). `how`: "run", a running instance (its timer is re-armed, its transitions
        announced after the packets, its sync group follows); "reload", a reload's address
        difference (announced like "run"); "release" and "stop", a shutdown with or without
        removing the addresses: the transitions are returned, for the caller to announce when
        the instance is gone."""
        assert self.loop is not None
        if self.takeovers.held:              # a takeover's held actions go first (takeover.py)
            self.takeovers.before(r)
        later: list[m.StateChanged] = []
        for a in actions:
            if isinstance(a, m.SendAdvert):
                self._send_advert(r, a.priority)
            elif isinstance(a, (m.AddAddresses, m.RemoveAddresses)):
                if how != "stop":
                    self._then(r, functools.partial(self._set_addresses, r, a))
            elif isinstance(a, m.SendGratuitous):
                if r.addr_task is not None and not r.addr_task.done():
                    # keepalived's order: the addresses acknowledged, then the GARPs
                    self._then(r, functools.partial(self._gratuitous_later, r, a))
                else:
                    self._gratuitous(r, a.count, a.addresses)
            elif isinstance(a, m.StateChanged):
                later.append(a)
            elif isinstance(a, m.UseChecksum):
                r.cache.clear()              # the adverts are built again in that form
            elif isinstance(a, m.WarnReceiveLoss):
                overflow.warn(r, a)
        if how in ("release", "stop"):
            return later
        self._arm(r)
        if not later:
            return []
        if r.cfg.sync_group or self.timers is None:
            self._after_packets(r, later)
        elif self._starting is not None:     # start: after every instance's packets (issue 16)
            self._starting.append(functools.partial(self._after_packets, r, later))
        else:                                # hook (issue 16): after every due instance's
            self.timers.defer(functools.partial(self._after_packets, r, later))   # packets
        return []

    def _after_packets(self, r: Runner, later: list[m.StateChanged]) -> None:
        for a in later:                      # after the packets: logs, scripts, state file
            if a.old is m.State.INIT and a.new is m.State.FAULT and self.tracking is not None \
                    and self.tracking.instance(r.name).pending:
                # keepalived: waiting for weight-0 scripts' first results is a silent FAULT
                # (no log line, no notify, no FIFO line); the way out of it is announced
                log.debug("vrrp.state.init_scripts", instance=r.name, reason=a.reason)
                self._silent_fault.add(r.name)
                continue
            self._silent_fault.discard(r.name)
            self._reason_line(r, a)
            self._announce(r, a)
            self._write_state()
        if later and r.cfg.sync_group:
            self._sync_follow(r, later[-1])
            self._sync_group_state(r)

    def _then(self, r: Runner, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `step` after the instance's earlier address changes (never two at once); with
        none in flight it starts now, in the caller's step (its netlink requests are written
        before this returns, not behind the loop's other work)."""
        assert self.loop is not None
        prev = r.addr_task

        async def logged() -> None:
            # a step that fails is logged here (the next step and _settled only wait for it)
            try:
                await step()
            except Exception as e:
                log.error("vrrp.step.failed", instance=r.name, error=repr(e),
                          compat=f"({r.name}) address/ARP step failed: {e!r}")
        if prev is None or prev.done():
            r.addr_task = start_now(logged())
            return

        async def chained() -> None:
            with contextlib.suppress(Exception):
                await prev
            await logged()
        r.addr_task = self.loop.create_task(chained())

    async def _settled(self, r: Runner) -> None:
        """Wait for the instance's address changes to finish."""
        if r.addr_task is not None:
            with contextlib.suppress(Exception):
                await r.addr_task

    async def _gratuitous_later(self, r: Runner, a: m.SendGratuitous) -> None:
        self._gratuitous(r, a.count, a.addresses)

    def _group_veto(self, group: str | None) -> GroupVeto | None:
        if not group:
            return None
        veto = self._vetoes.get(group)
        if veto is None:
            def members() -> dict[str, m.Instance]:
                return {n: x.fsm for n, x in self.runners.items() if x.cfg.sync_group == group}
            veto = self._vetoes[group] = GroupVeto(group, members)
        return veto

    def _sync_follow(self, r: Runner, change: m.StateChanged) -> None:
        """keepalived's vrrp_sync_master / vrrp_sync_backup: the other members follow."""
        veto = self._vetoes.get(r.cfg.sync_group or "")
        if veto is None or self.loop is None:
            return
        for name, actions in follow(veto, r.name, change, self.loop.time()):
            other = self.runners.get(name)
            if other is not None:
                self._apply(other, actions)

    async def _set_addresses(self, r: Runner, a: m.AddAddresses | m.RemoveAddresses) -> None:
        if not r.vip_dev:
            return
        add = isinstance(a, m.AddAddresses)
        await self.netlink.set_addresses(add, a.addresses, r.vip_dev, r.name)
        if a.routes:
            await self.netlink.set_routes(add, a.routes, r.ifname, r.name)
        if a.rules:
            await self.netlink.set_rules(add, a.rules, r.name)
        if a.whole and (firewalled(r.cfg) or (not add and r.name in self.firewall.held)):
            await self.firewall.update(r.name, add, addresses_of(r.cfg, r.vip_dev))  # issue 12

    async def _firewall_watch(self) -> None:
        """Our nftables tables, put back if another tool deletes them (issue 12)."""
        while True:
            await asyncio.sleep(FIREWALL_CHECK_INTERVAL)
            await self.firewall.check()

    def _garp_frames(self, r: Runner, addresses: tuple[VirtualAddress, ...]
                     ) -> list[tuple[str, list[bytes]]]:
        """The frames for these address lines per interface, built once and cached (no sysfs
        or /proc reads between a decision and its packets)."""
        frames = r.garp_frames.get(addresses)
        if frames is not None:
            return frames
        by_dev: dict[str, list[Address]] = {}
        for a in addresses:
            by_dev.setdefault(a.dev or r.vip_dev, []).append(a.address.ip)
        fact = self._iface_fact             # (issue 16: read once per interface at start)
        frames = [(dev, self.garp.frames(
                      dev, addrs,  # type: ignore[arg-type]
                      fact(primary_address, dev, 6) if any(a.version == 6 for a in addrs)
                      else None, fact))
                  for dev, addrs in by_dev.items()]
        r.garp_frames[addresses] = frames
        return frames

    def _gratuitous(self, r: Runner, count: int, addresses: tuple[VirtualAddress, ...]) -> None:
        """The first burst goes out now (`_apply` calls this once the addresses are
        acknowledged); the repeats follow every garp_interval / gna_interval."""
        assert self.loop is not None
        if count <= 0 or not addresses:
            return
        frames = self._garp_frames(r, addresses)
        base = {r.vip_dev: r.cfg.interface or r.vip_dev}
        if any(self.pacer.paced(base.get(dev, dev)) for dev, _ in frames):   # -- issue 12
            def alive() -> bool:
                return r.fsm.state is m.State.MASTER and self.runners.get(r.name) is r
            rank = next((i for i, x in enumerate(self.config.vrrp_instances)
                         if x.name == r.name), 0)
            for _ in range(count):
                for dev, fr in frames:
                    self.pacer.submit(base.get(dev, dev), dev, fr, alive, rank)
            self.loop.call_soon(self._garp_lines, r, addresses)
            return
        for dev, fr in frames:
            self.garp.send(dev, fr)
        self.loop.call_soon(self._garp_lines, r, addresses)   # -D detail, after the packets
        spacing = max(r.cfg.garp_interval, r.cfg.gna_interval)
        if count == 1:
            return

        async def repeats() -> None:
            for _ in range(count - 1):
                if spacing:
                    await asyncio.sleep(spacing)
                if r.fsm.state is not m.State.MASTER:
                    return
                for dev, fr in frames:
                    self.garp.send(dev, fr)
        self.loop.create_task(repeats())

    def _extra_if_garp(self, r: Runner, token: object) -> None:
        """garp_extra_if: the periodic GARP on the VIPs' other interfaces (vrrp/extra_if.py)."""
        if self.runners.get(r.name) is not r or r.fsm.state is not m.State.MASTER or \
                not r.cfg.garp_extra_if or self.loop is None or self._extra_if.get(r.name) is not token:
            return
        self._gratuitous(r, 1, extra_if.targets(                    # (per-address VMACs alone
            r.cfg, None if r.cfg.garp_extra_if_all else self.addr_vmacs.names_of(r.name)))
        self.loop.call_later(r.cfg.garp_extra_if, self._extra_if_garp, r, token)

    def _garp_lines(self, r: Runner, addresses: tuple[VirtualAddress, ...]) -> None:
        for a in addresses:
            ip = a.address.ip
            what = "gratuitous ARPs" if ip.version == 4 else "Unsolicited Neighbour Adverts"
            log.debug("vrrp.garp.sent", instance=r.name, address=str(ip),
                      compat=f"({r.name}) Sending/queueing {what} on {a.dev or r.vip_dev}"
                             f" for {ip}")

    def _arm(self, r: Runner) -> None:
        assert self.timers is not None
        if self.runners.get(r.name) is r:
            fsm = r.fsm
            # hook (issue 16): a master's adverts may go up to 10% of the interval early
            # (never late; timers.py coalesces them into fewer wake-ups); a backup's timer
            # is never early
            self.timers.set(r.name, fsm.next_deadline(),
                            ADVERT_SLACK * fsm.p.advert_int if fsm.state is m.State.MASTER
                            else 0.0)
            if fsm.state is m.State.BACKUP:
                self._prebuild(r)

    def _prebuild(self, r: Runner) -> None:
        """A backup's takeover packets made while it waits (issue 16: pre-built adverts): the
        advert at its priority and the gratuitous ARP/NA frames, so that the down timer's
        expiry goes straight to sendto."""
        if r.fsm.priority not in r.cache and r.sock is not None:
            self._payloads(r, r.fsm.priority)
        # (its gratuitous frames are built when the instance starts: _garp_frames)

    def _fire_key(self, name: Hashable) -> None:
        assert self.loop is not None
        r = self.runners.get(cast(str, name))           # (the timers' keys: instance names)
        if r is not None:
            fsm = r.fsm
            drained = False
            if fsm.state is m.State.BACKUP:                                 # hook (issue 16.4)
                if fsm.down_extended:        # (after a receive loss or a priority-0 advert)
                    overflow.before_expiry(r)
                    drained = True
                    if r is not self.runners.get(r.name):
                        return
                now = self.loop.time()
                prio = fsm.takeover_due(now)
                if prio is not None and not drained and r.sock is not None:
                    # the master's advert may be waiting in the socket: a loaded host can run
                    # this timer in the same wake-up as the socket's readiness, before the
                    # read - read what is queued (non-blocking, one batch) and judge again;
                    # a timer late by more than an interval (the process was frozen, its loop
                    # held: issue 15) reads the whole queue, every instance's adverts in it;
                    # otherwise once per socket and wake-up (50 instances losing their master
                    # at once share it: each one's advert is not behind 49 reads)
                    d = fsm.next_deadline()
                    late = d is not None and now - d > fsm.master_adver_int
                    if late or r.sock not in self._drained:
                        r.sock.drain(overflow.DRAIN_SECONDS if late else 0.0)
                        if self.timers is not None:
                            self._drained.add(r.sock)
                            if len(self._drained) == 1:     # (outside a wake-up: at once)
                                self.timers.defer(self._drained.clear)
                    drained = True
                    if r is not self.runners.get(r.name) or fsm.state is not m.State.BACKUP:
                        return
                    now = self.loop.time()
                    prio = fsm.takeover_due(now)
                if prio is not None:         # the advert now, the rest after (takeover.py)
                    self.takeovers.fire(r, prio, now)
                    return
            if not drained:
                overflow.before_expiry(r)
            if r is not self.runners.get(r.name):     # (the drain may have reloaded nothing,
                return                                # but a packet may have moved it on)
            now = self.loop.time()
            if r.fsm.state is m.State.MASTER:
                # fired early within the slack: the machine sees its deadline as now (the
                # next advert stays one interval after this one's deadline: no drift)
                d = r.fsm.next_deadline()
                if d is not None and now < d <= now + ADVERT_SLACK * r.fsm.p.advert_int + 1e-6:
                    now = d
                fast = r.fsm.timer_fast(now)     # only the advert due: send it, re-arm
                if fast is not None:
                    self._send_advert(r, fast[0])
                    assert self.timers is not None
                    self.timers.set(r.name, fast[1], ADVERT_SLACK * r.fsm.p.advert_int)
                    return
            self._apply(r, r.fsm.handle(m.TimerExpired(), now))

    def _reason_line(self, r: Runner, a: m.StateChanged) -> None:
        """keepalived's line for why a transition happens, where it has one."""
        name, fsm = r.name, r.fsm
        if a.new is m.State.MASTER and a.old is m.State.BACKUP and a.reason == "master down timer":
            log.debug("vrrp.advert.timeout", instance=name,
                      compat=f"({name}) Receive advertisement timeout")
        elif a.old is m.State.MASTER and a.new is m.State.BACKUP and fsm.master_source is not None \
                and "advert from" in a.reason:
            if fsm.master_priority > fsm.priority:
                text = (f"({name}) Master received advert from {fsm.master_source} with higher"
                        f" priority {fsm.master_priority}, ours {fsm.priority}")
            else:
                text = (f"({name}) Master received advert from {fsm.master_source} with same"
                        f" priority {fsm.master_priority} but higher IP address than ours")
            log.info("vrrp.advert.higher_priority", instance=name, compat=text)

    def _sync_group_state(self, r: Runner) -> None:
        """A sync group's own state, from its members' (keepalived: GROUP lines on the notify
        FIFO, the group's notify scripts): FAULT if one member is, MASTER when all are,
        STOP when all are, else BACKUP."""
        group = r.cfg.sync_group
        if not group:
            return
        g = next((x for x in self.config.vrrp_sync_groups if x.name == group), None)
        members = [x for x in self.runners.values() if x.cfg.sync_group == group]
        # a member silently waiting for its scripts counts as not started yet
        states = {m.State.INIT if x.name in self._silent_fault else x.fsm.state for x in members}
        if not members or m.State.INIT in states:
            return
        if m.State.FAULT in states:
            new = m.State.FAULT
        elif states == {m.State.MASTER}:
            new = m.State.MASTER
        elif states == {m.State.STOP}:
            new = m.State.STOP
        else:
            new = m.State.BACKUP
        veto = self._vetoes.get(group)
        if veto is not None:
            veto.state = new
        if self._group_states.get(group) is new:
            return
        self._group_states[group] = new
        log.info("vrrp.group.changed", group=group, state=new.value,
                 compat=f"({group}) Syncing instances to {new.value} state")
        if g is not None:
            n = g.notify
            specific = {"MASTER": n.notify_master, "BACKUP": n.notify_backup,
                        "FAULT": n.notify_fault, "STOP": n.notify_stop}.get(new.value)
            if specific is not None:
                self.notifier.launch(specific)
            if n.notify is not None:
                self.notifier.launch(n.notify, vrrp_notify_args("GROUP", group, new.value, 0))
        line = vrrp_fifo_line("GROUP", group, new.value, 0)
        for f in self.fifos:
            f.write(line)

    def _announce(self, r: Runner, a: m.StateChanged) -> None:
        r.last_transition = time.time()
        self.transitions[(r.name, a.new.value)] += 1
        if a.new is m.State.MASTER and a.old is m.State.BACKUP and \
                r.fsm.last_master_advert is not None and self.loop is not None:
            # failover time: the old master's last advert to our takeover
            obs = self.failovers.setdefault(r.name, [])
            obs.append(self.loop.time() - r.fsm.last_master_advert)
            del obs[:-1000]
        words = {"MASTER": "Entering MASTER STATE", "BACKUP": "Entering BACKUP STATE",
                 "FAULT": "Entering FAULT STATE", "STOP": "Stopped"}
        log.info("vrrp.state.changed", instance=r.name, old=a.old.value, new=a.new.value,
                 reason=a.reason, compat=f"({r.name}) {words.get(a.new.value, a.new.value)}")
        n = r.cfg.notify
        specific = {"MASTER": n.notify_master, "BACKUP": n.notify_backup,
                    "FAULT": n.notify_fault, "STOP": n.notify_stop}.get(a.new.value)
        if specific is not None:
            self.notifier.launch(specific)
        if n.notify is not None:
            self.notifier.launch(n.notify, vrrp_notify_args("INSTANCE", r.name, a.new.value,
                                                             r.fsm.priority))
        line = vrrp_fifo_line("INSTANCE", r.name, a.new.value, r.fsm.priority)
        for f in self.fifos:
            f.write(line)
        if self.alerts is not None:
            self.alerts.instance_changed(r.name, a.new.value)
        if a.new is m.State.MASTER and r.cfg.garp_extra_if and self.loop is not None:
            token = object()                                      # -- issue 12: garp_extra_if
            self._extra_if[r.name] = token                        # (a new mastership, a new chain)
            self.loop.call_later(r.cfg.garp_extra_if, self._extra_if_garp, r, token)
        if self.exports is not None:        # hook (issue 17)
            self.exports.state_changed(r, a.old.value, a.new.value)
        self.lvs_syncd.state_changed(r.name, a.new.value)   # lvs_sync_daemon inst (issue 13)

    # -- persistence for a respawned child -----------------------------------------------------
    def _write_state(self) -> None:
        """Coalesced and off the loop (vrrp/statefile.py)."""
        self.statefile.request(self.loop, self._saved_state)

    def _saved_state(self) -> dict[str, Any]:
        now_wall = time.time()
        state: dict[str, Any] = {r.name: {"state": r.fsm.state.value,
                                          "at": now_wall if r.fsm.state is m.State.MASTER else 0,
                                          **self.ah.saved(r)}
                                 for r in self.runners.values()}
        if self.tracking is not None:
            state[TRACKING_KEY] = statefile.encode_tracking(self.tracking.values)
        return state

    # -- tracking: vrrp/tracking.py ----------------------------------------------------------
    @property
    def tracking(self) -> TrackingTable | None:
        return self.track.table

    def _tracked(self, kind: str, name: str, value: bool | int) -> None:
        self.track.tracked(kind, name, value)

    def _refresh_tracking(self, r: Runner, initial: bool = False) -> None:
        self.track.refresh(r, initial)

    def _open_fifos(self, config: Config) -> None:
        g = config.global_defs
        self.fifos = open_fifos([(g.notify_fifo, g.notify_fifo_script),
                                 (g.vrrp_notify_fifo, g.vrrp_notify_fifo_script)], "vrrp",
                                g.enable_script_security)


def _identity(inst: VrrpInstance) -> tuple[object, ...]:
    """What makes an instance the same virtual router across a reload."""
    return (inst.virtual_router_id, inst.interface, inst.family, inst.version, inst.use_vmac,
            inst.vmac_xmit_base)




def _fifo_defs(config: Config) -> tuple[Any, ...]:
    g = config.global_defs
    return (g.notify_fifo, g.notify_fifo_script, g.vrrp_notify_fifo, g.vrrp_notify_fifo_script,
            g.enable_script_security)


FIREWALL_CHECK_INTERVAL = 5.0     # seconds between two looks for our nftables tables
DROP_LOG_INTERVAL = 10.0          # seconds between two drop lines of one kind per instance
DUMPS_WARM_AFTER = 3.0            # seconds after start: the dump writer imports its formatter


def _sock_key(inst: VrrpInstance, vmac: str | None = None) -> tuple[str, int, str]:
    """One socket per (interface, family, unicast source), and a separate one for AH; a
    VMAC instance sends and receives on its VMAC unless vmac_xmit_base."""
    src = str(inst.unicast_src_ip or "")
    dev = vmac if vmac and not inst.vmac_xmit_base else inst.interface or ""
    return (dev, inst.family, src + " ah" if uses_ah(inst) else src)


def create(options: Options) -> VrrpDaemon:
    return VrrpDaemon(options)

