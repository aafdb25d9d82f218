"""keepalived.data for the VRRP child, in keepalived 2.2.7's layout. Pure: text out.

Theory of operation. keepalived's VRRP child writes, on SIGUSR1, its global definitions, the
static addresses/routes/rules, every VRRP instance, the sync groups, the scripts, track files
and track processes, then the interfaces it knows (vrrp_data.c dump_data_vrrp and the dump_*
functions it calls). `format_vrrp_data` writes the same sections, lines and wording from two
inputs: the resolved `Config` (every configuration value, defaults already applied by
config/build.py) and a small runtime snapshot — per instance what only the running daemon
knows (state, wantstate, effective and total priority, last transition, master heard,
whether the addresses are set), per tracker its last result, per interface what the kernel
says. One deliberate difference: the authentication type is printed, the password never
(keepalived prints `Password = ...`; the file is world-readable).

Lines that only describe keepalived's internals we do not have (socket descriptors, the
socket pool, debounce timers) are printed with the values keepalived shows for the same
configuration when they are constants, and left out when they are not.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypedDict

from keepalived_py.config.model import (
    Config,
    GlobalDefs,
    Notify,
    TrackRef,
    VirtualAddress,
    VirtualRoute,
    VirtualRule,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpSyncGroup,
    VrrpTrackFile,
    VrrpTrackProcess,
)
from keepalived_py.track.edges import tracking_edges
from keepalived_py.vrrp.machine import lower_prio_garp

OWNER = 255
RTPROT_KEEPALIVED = 18
DEFAULT_INTERFACE = "eth0"          # keepalived's DFLT_INT
_STATES = ("INIT", "BACKUP", "MASTER", "FAULT")


class InstanceRuntime(TypedDict, total=False):
    """What the running daemon knows of one instance (keys of dumps.InstanceSnapshot)."""

    name: str
    state: str
    wantstate: str
    effective_priority: int
    total_priority: int
    last_transition: float          # wall clock
    master_down_interval: float     # seconds
    src_ip: str
    holding: bool                   # the virtual addresses are set
    master_router: str
    master_priority: int
    master_advert_int: float        # seconds (v3: learnt from the master)
    faults: int                     # tracked objects (and interface) in fault
    scripts_init: int               # tracked weight-0 scripts without a result yet
    ifindex: int
    fd: int                         # the VRRP socket (-1: none)
    read_timeout: float | None      # wall clock of the next timer


class InterfaceInfo(TypedDict, total=False):
    name: str
    index: int
    ipv4: str
    ipv6: str
    mac: str
    mac_broadcast: str
    up: bool
    running: bool
    loopback: bool
    mtu: int


class Runtime(TypedDict, total=False):
    router_id: str                  # the host name: keepalived's default router_id
    commands: dict[str, str]        # script path as written -> as keepalived shows it (realpath)
    scripts: dict[str, int]         # vrrp_script name -> keepalived's result counter
    files: dict[str, int]           # track file name -> last value read
    processes: dict[str, int]       # track process name -> processes running
    bfd: dict[str, bool]            # bfd_instance name -> session Up (from the BFD child)
    interfaces: list[InterfaceInfo]


def format_vrrp_data(config: Config, instances: Sequence[Mapping[str, Any]],
                     runtime: Runtime | None = None) -> str:
    rt: Runtime = runtime or {}
    by_name = {i.get("name"): i for i in instances}
    out = format_global(config.global_defs, rt.get("router_id"),
                        any(not i.accept or i.use_vmac is not None
                            for i in config.vrrp_instances))
    g = config.global_defs
    if g.vrrp_garp_interval or g.vrrp_gna_interval:
        out += ["------< Gratuitous ARP delays >------", "------< GARP delay group 0 >------"]
        if g.vrrp_garp_interval:
            out += [f" GARP interval = {g.vrrp_garp_interval:g}",
                    " GARP next time 0.000000 (Thu Jan  1 00:00:00.000000)"]
        if g.vrrp_gna_interval:
            out += [f" GNA interval = {g.vrrp_gna_interval:g}",
                    " GNA next time 0.000000 (Thu Jan  1 00:00:00.000000)"]
        out.append(" Interfaces")
        out += [f"  {n}" for n in dict.fromkeys(i.interface for i in config.vrrp_instances
                                                 if i.interface)]
    if config.static_ipaddress:
        out.append("------< Static Addresses >------")
        out += [f"     {format_address(a, None)}" for a in config.static_ipaddress]
    if config.static_routes:
        out.append("------< Static Routes >------")
        out += [f"     {format_route(r, None)}" for r in config.static_routes]
    if config.static_rules:
        out.append("------< Static Rules >------")
        out += [f"     {format_rule(r)}" for r in config.static_rules]
    if config.vrrp_instances:
        out.append("------< VRRP Topology >------")
        for inst in config.vrrp_instances:
            out += format_instance(config, inst, by_name.get(inst.name, {}),
                                   rt.get("commands", {}))
    if config.vrrp_sync_groups:
        out.append("------< VRRP Sync groups >------")
        for sg in config.vrrp_sync_groups:
            out += format_sync_group(sg, [by_name.get(n, {}) for n in sg.group],
                                     rt.get("commands", {}))
    scripts = _used_scripts(config)
    if scripts:
        out.append("------< VRRP Scripts >------")
        for s in scripts:
            out += format_script(config, s, rt.get("scripts", {}).get(s.name),
                                 rt.get("commands", {}))
    files = _used(config, "track_file", config.vrrp_track_files)
    if files:
        out.append("------< VRRP Track files >------")
        for f in files:
            out += format_track_file(config, f, rt.get("files", {}).get(f.name, 0))
    procs = _used(config, "track_process", config.vrrp_track_processes)
    if procs:
        out.append("------< VRRP Track processes >------")
        for p in procs:
            out += format_track_process(config, p, rt.get("processes", {}).get(p.name, 0))
    bfds = [b for b in config.bfd_instances if b.vrrp]      # keepalived lists every one
    if bfds:
        out.append("------< VRRP Track BFDs >------")
        for b in bfds:
            out += [f" VRRP Track BFD = {b.name}",
                    f"   Weight = {b.weight}{' reverse' if b.weight_reverse else ''}",
                    f"   Bfd is {'up' if rt.get('bfd', {}).get(b.name) else 'down'}",
                    "   Tracking VRRP instances :",
                    *_tracking(_trackers_of(config, "track_bfd", b.name))]
    if rt.get("interfaces"):
        out.append("------< Interfaces >------")
        vmacs = {str(i["vmac"]): i.get("name", "") for i in instances if i.get("vmac")}
        for info in rt["interfaces"]:
            out += format_interface(config, info, vmacs)
    return "\n".join(out) + "\n"


# -- global definitions ---------------------------------------------------------------------
def format_global(g: GlobalDefs, hostname: str | None = None, firewall: bool = False
                  ) -> list[str]:
    tf = _tf
    extra = dict(g.unknown)
    p = g.process
    out = ["------< Global definitions >------"]
    if p.config_save_dir:
        out.append(f" Config save dir = {p.config_save_dir}")
    out += [" Network namespace = (default)",
            " Network namespace ipvs = (main namespace)"]
    for label, name in (("Parent process name", g.process_name),
                        ("VRRP process name", g.vrrp_process_name),
                        ("LVS process name", g.checker_process_name),
                        ("BFD process name", p.bfd_process_name)):
        if name:
            out.append(f" {label} = {name}")
    if g.router_id or hostname:
        out.append(f" Router ID = {g.router_id or hostname}")
    if g.smtp_server:
        out += [f" Smtp server = {g.smtp_server}", f" Smtp server port = {g.smtp_server_port}",
                f" Smtp HELO name = {extra.get('smtp_helo_name', hostname or '')}"]
    if g.smtp_server or g.notification_email_from:
        out.append(f" Smtp server connection timeout = {g.smtp_connect_timeout:.0f}")
    if g.notification_email_from:
        out.append(f" Email notification from = {g.notification_email_from}")
        out.append(" Email notification to:")
        out += [f"   {e}" for e in g.notification_email]
    out += [" Default smtp_alert = unset", " Default smtp_alert_vrrp = unset",
            " Default smtp_alert_checker = unset",
            f" Checkers log all failures = {tf(p.checker_log_all_failures)}",
            f" Test config before reload, log to {p.reload_check_config}"
            if p.reload_check_config else " No test config before reload"]
    if p.reload_time_file:
        out += [f" Reload time file = {p.reload_time_file}{' (repeat)' if p.reload_repeat else ''}",
                " No reload scheduled"]
    if p.reload_file is not None:
        out.append(f" Reload_file = {p.reload_file or '/run/keepalived.reload'}")
    if p.tmp_config_directory:
        out.append(f" config save directory = {p.tmp_config_directory}")
    if g.data_use_instance:
        out.append(" Use instance name in data dumps")
    out.append(f" Dynamic interfaces = {tf(g.dynamic_interfaces)}")
    if g.dynamic_interfaces:
        out.append(f" Allow interface changes = {tf(g.allow_if_changes)}")
    # keepalived 2.2.7 labels the UDP one "LVS TCP timeout" too (global_data.c)
    for label, v in zip((" LVS TCP timeout", " LVS TCP FIN timeout", " LVS TCP timeout"),
                        g.lvs_timeouts, strict=True):
        if v:
            out.append(f"{label} = {v}")
    out += [f" Default interface = {g.default_interface or DEFAULT_INTERFACE}",
            f" Disable local IGMP = {'yes' if g.disable_local_igmp else 'no'}"]
    sync = g.lvs_sync_daemon
    if sync is not None:
        if sync.instance:
            out.append(f" LVS syncd vrrp instance = {sync.instance}")
        out += [f" LVS syncd interface = {sync.interface}",
                f" LVS syncd syncid = {sync.syncid or 0}"]
        if sync.maxlen:
            out.append(f" LVS syncd maxlen = {sync.maxlen}")
        if sync.group is not None:
            out.append(f" LVS mcast group {sync.group}")
        if sync.port:
            out.append(f" LVS syncd mcast port = {sync.port}")
        if sync.ttl:
            out.append(f" LVS syncd mcast ttl = {sync.ttl}")
    out += [f" LVS flush = {tf(g.lvs_flush)}",
            " LVS flush on stop = " + {"VS": "VS", "ALL": "full"}.get(g.lvs_flush_on_stop or "",
                                                                    "disabled")]
    for label, name in (("Global notify fifo", g.notify_fifo),
                        ("VRRP notify fifo", g.vrrp_notify_fifo)):
        if name:
            out.append(f" {label} = {name}, uid:gid 0:0")
    lp_delay = g.vrrp_garp_lower_prio_delay
    lp_rep = g.vrrp_garp_lower_prio_repeat
    out += [f" FIFO write vrrp states on reload = {tf(g.fifo_write_vrrp_states_on_reload)}",
            f" VRRP notify priority changes = {tf(g.vrrp_notify_priority_changes)}",
            f" VRRP IPv4 mcast group = {g.vrrp_mcast_group4}",
            f" VRRP IPv6 mcast group = {g.vrrp_mcast_group6}",
            f" Gratuitous ARP delay = {int(g.vrrp_garp_master_delay)}",
            f" Gratuitous ARP repeat = {g.vrrp_garp_master_repeat}",
            f" Gratuitous ARP refresh timer = {int(g.vrrp_garp_master_refresh)}",
            f" Gratuitous ARP refresh repeat = {g.vrrp_garp_master_refresh_repeat}",
            " Gratuitous ARP lower priority delay = "
            f"{int(lp_delay if lp_delay is not None else g.vrrp_garp_master_delay)}",
            " Gratuitous ARP lower priority repeat = "
            f"{lp_rep if lp_rep is not None else g.vrrp_garp_master_repeat}",
            f" Num adverts before down = {g.vrrp_down_timer_adverts}",
            " Gratuitous ARP for each secondary VMAC = 0s",
            f" Send advert after receive lower priority advert = {tf(not g.vrrp_lower_prio_no_advert)}",
            f" Send advert after receive higher priority advert = {tf(g.vrrp_higher_prio_send_advert)}",
            f" Gratuitous ARP interval = {g.vrrp_garp_interval:f}",
            f" Gratuitous NA interval = {g.vrrp_gna_interval:f}",
            f" VRRP default protocol version = {g.vrrp_version}"]
    if firewall or p.nftables:  # keepalived sets up its table for accept-disabled instances
        out += [f" nftables table name = {p.nftables or 'keepalived'}",
                f" nftables base chain priority = {p.nftables_priority}",
                f" nftables {'' if p.nftables_ifindex else 'don' + chr(39) + 't '}force use"
                " ifindex for link local IPv6"]
    out += [f" nftables with{'' if p.nftables_counters else 'out'} counters",
            " libnftnl version 1.2.3",
            f" VRRP check unicast_src = {tf(g.vrrp_check_unicast_src)}",
            f" VRRP skip check advert addresses = {tf(g.vrrp_skip_check_adv_addr)}",
            f" VRRP strict mode = {tf(g.vrrp_strict)}",
            " Max auto priority = " + ("Disabled" if p.max_auto_priority == -1
                                       else str(p.max_auto_priority)),
            f" Min auto priority delay = {p.min_auto_priority_delay} usecs"]
    for who, cs in (("VRRP", p.vrrp), ("Checker", p.checker), ("BFD", p.bfd)):
        out += [f" {who} process priority = {cs.priority}", f" {who} don't swap = {tf(cs.no_swap)}",
                f" {who} realtime priority = {cs.rt_priority}"]
        if cs.cpu_affinity:
            # keepalived 2.2.7's integer_to_string writes nothing for CPU 0: "0 1" shows " 1 "
            cpus = "".join(f"{c or ''} " for c in cs.cpu_affinity)
            out.append(f" {who} CPU Affinity = {cpus}")
        out.append(f" {who} realtime limit = {cs.rlimit_rttime}")
    def on(b: bool) -> str:
        return "enabled" if b else "disabled"
    out += [f" SNMP vrrp {on(g.enable_snmp_vrrp)}", f" SNMP checker {on(g.enable_snmp_checker)}",
            f" SNMP RFCv2 {on(g.enable_snmp_rfcv2)}", f" SNMP RFCv3 {on(g.enable_snmp_rfcv3)}",
            f" SNMP traps {on(g.enable_traps)}",
            f" SNMP socket = {g.snmp_socket or 'default (unix:/var/agentx/master)'}",
            f" DBus {on(g.enable_dbus)}", f" DBus service name = {g.dbus_service_name or ''}",
            f" Script security {'enabled' if g.enable_script_security else 'disabled'}",
            " Default script uid:gid 0:0"]
    for k in ("vrrp_netlink_cmd", "vrrp_netlink_monitor", "process_monitor",
              "lvs_netlink_cmd", "lvs_netlink_monitor"):
        b = getattr(p, k)
        out += [f" {k}_rcv_bufs = {b.size}", f" {k}_rcv_bufs_force = {int(b.force)}"]
    out += [f" rs_init_notifies = {int(g.rs_init_notifies)}", " no_checker_emails = 0"]
    if p.vrrp_rx_bufs_policy:
        out.append(f" rx_bufs_policy = {p.vrrp_rx_bufs_policy}")
    elif p.vrrp_rx_bufs_size is not None:
        out.append(f" rx_bufs_size = {p.vrrp_rx_bufs_size}")
    out += [f" rx_bufs_multiples = {p.vrrp_rx_bufs_multiplier}",
            f" umask = 0{p.umask if p.umask is not None else 0o177:o}"]
    if p.vrrp_startup_delay:
        out.append(f" vrrp_startup_delay = {p.vrrp_startup_delay:g}")
    if g.log_unknown_vrids:
        out.append(" log_unknown_vrids")
    if p.vmac_prefix:
        out.append(f" VMAC prefix = {p.vmac_prefix}")
    if p.vmac_addr_prefix:
        out.append(f" VMAC address prefix = {p.vmac_addr_prefix}")
    # (start/stop scripts: only the parent reads them, and this is the VRRP child's dump)
    from keepalived_py.core.sched import current_realtime
    rt_priority, rttime = current_realtime()
    if rt_priority:
        out.append(f" current realtime priority = {rt_priority}")
    if rttime:
        out.append(f" current realtime time limit = {rttime}")
    return out


# -- instances ------------------------------------------------------------------------------
def format_instance(config: Config, inst: VrrpInstance, r: Mapping[str, Any],
                    commands: Mapping[str, str] | None = None) -> list[str]:
    state = r.get("state", "INIT")
    state = state if state in _STATES else "INIT"
    unicast = bool(inst.unicast_peer)
    out = [f" VRRP Instance = {inst.name}", f"   VRRP Version = {inst.version}"]
    if inst.sync_group:
        out.append(f"   Sync group = {inst.sync_group}")
    if inst.family == 6:
        out.append("   Using Native IPv6")
    out.append(f"   State = {state}")
    if state == "BACKUP":
        out.append(f"   Master router = {r.get('master_router') or _any_address(inst.family)}")
        out.append(f"   Master priority = {r.get('master_priority', 0)}")
        if inst.version == 3:
            out.append("   Master advert int = "
                       f"{r.get('master_advert_int', inst.advert_int):.2f} sec")
    flags = []
    if unicast:
        flags.append("     Using unicast")
    elif inst.unicast_src_ip is not None or inst.unicast_fault_no_peer:
        flags.append("     Unicast config option specified but using multicast")
    if inst.unicast_fault_no_peer:
        flags.append("     If unicast go to fault state if no peers")
    if flags or _has_flags(inst):
        out += ["   Flags:", *flags]
    else:
        out.append("   Flags: none")
    want = r.get("wantstate", state)
    out += [f"   Wantstate = {want if want in _STATES else 'INIT'}",
            "   Number of config faults = "
            f"{int(inst.unicast_fault_no_peer and not unicast) + int(inst.ipvlan_fault)}",
            f"   Number of interface and track script faults = {r.get('faults', 0)}",
            f"   Number of track scripts init = {r.get('scripts_init', 0)}",
            f"   Last transition = {when(r.get('last_transition', 0.0))}",
            f"   Read timeout = {when(r['read_timeout'])}" if r.get("read_timeout")
            else "   Read timeout = DISABLED",
            "   Master down timer = "
            f"{round(r.get('master_down_interval', _down_interval(inst)) * 1e6)} usecs"]
    vmac = r.get("vmac")
    if inst.use_vmac is not None:
        out.append(f"   Use VMAC, i/f name {vmac or inst.use_vmac}, is_up = {_tf(bool(vmac))},"
                   f" xmit_base = {_tf(inst.vmac_xmit_base)}")
    if inst.use_vmac_addr:              # (keepalived then leaves out its ipvlan line)
        out.append("   Use VMAC for VIPs on other interfaces")
    elif inst.use_ipvlan is not None:
        addr = f", i/f address = {inst.ipvlan_addr}" if inst.ipvlan_addr is not None else ""
        # keepalived names it at start, made or not (vrrp/vmac.py name_candidates' first)
        prefix = config.global_defs.process.vmac_prefix or "vrrp"
        shown = vmac or inst.use_ipvlan or f"{prefix}.{inst.virtual_router_id}"
        out.append(f"   Use IPVLAN, i/f {shown}, is_up = {_tf(bool(vmac))}"
                   f"{addr}, type {inst.ipvlan_type}")
        out.append(f"   Interface = {shown}, ipvlan on {inst.interface}")
    if vmac and inst.use_ipvlan is None:
        out.append(f"   Interface = {vmac}, vmac on {inst.interface}"
                   + (", xmit base i/f" if inst.vmac_xmit_base else ""))
    elif inst.use_ipvlan is None:
        out.append(f"   Interface = {inst.interface or 'not configured'}")
    if inst.dont_track_primary:
        out.append("   VRRP interface tracking disabled")
    if inst.skip_check_adv_addr:
        out.append("   Skip checking advert IP addresses")
    if inst.strict_mode:
        out.append("   Enforcing strict VRRP compliance")
    configured = inst.unicast_src_ip or inst.mcast_src_ip
    src = str(configured) if configured else r.get("src_ip") or "(none)"
    out.append(f"   Using src_ip = {src}{' (from configuration)' if configured else ''}")
    if not unicast:
        g = config.global_defs
        group = inst.mcast_dst_ip or (g.vrrp_mcast_group4 if inst.family == 4
                                      else g.vrrp_mcast_group6)
        if inst.family == 4:
            out.append(f"   Multicast address {group}")
        else:
            out.append(f"   Multicast address {group}, ifindex {r.get('ifindex', 0)}")
    lp_delay, lp_rep = lower_prio_garp(config.global_defs, inst)
    out += [f"   Gratuitous ARP delay = {int(inst.garp_master_delay)}",
            f"   Gratuitous ARP repeat = {inst.garp_master_repeat}",
            f"   Gratuitous ARP refresh = {int(inst.garp_master_refresh)}",
            f"   Gratuitous ARP refresh repeat = {inst.garp_master_refresh_repeat}",
            f"   Gratuitous ARP lower priority delay = {int(lp_delay)}",
            f"   Gratuitous ARP lower priority repeat = {lp_rep}",
            f"   Down timer adverts = {inst.down_timer_adverts}",
            "   Send advert after receive lower priority advert = "
            f"{_tf(not inst.lower_prio_no_advert)}",
            "   Send advert after receive higher priority advert = "
            f"{_tf(inst.higher_prio_send_advert)}",
            f"   Virtual Router ID = {inst.virtual_router_id}",
            f"   Priority = {inst.priority}",
            f"   Effective priority = {r.get('effective_priority', inst.priority)}",
            f"   Total priority = {r.get('total_priority', inst.priority)}"]
    if inst.version == 2:
        out.append(f"   Advert interval = {int(inst.advert_int)} sec")
    else:
        out.append(f"   Advert interval = {round(inst.advert_int * 1000)} milli-sec")
    if state == "BACKUP" and inst.version == 3:
        out.append("   Master advert interval = "
                   f"{round(r.get('master_advert_int', inst.advert_int) * 1000)} milli-sec")
    out += [f"   Accept = {_ed(inst.accept)}", f"   Preempt = {_ed(not inst.nopreempt)}"]
    if inst.preempt_delay:
        out.append(f"   Preempt delay = {inst.preempt_delay:g} secs")
    out.append(f"   Promote_secondaries = {_ed(inst.promote_secondaries)}")
    if inst.auth_type and inst.version == 2:
        # deliberately without the password (keepalived prints it; this file is readable)
        out.append("   Authentication type = "
                   + ("IPSEC_AH" if inst.auth_type == "AH" else "SIMPLE_PASSWORD"))
    elif inst.version == 2:
        out.append("   Authentication type = none")
    if inst.kernel_rx_buf_size:
        out.append(f"   Kernel rx buffer size = {inst.kernel_rx_buf_size}")
    if inst.debug:
        out.append(f"   Debug level = {inst.debug}")
    held = bool(r.get("holding"))
    # VIPs go on a VMAC (shown as VMAC@parent), not on an ipvlan (its parent: vrrp/daemon.py)
    vip_if = f"{vmac}@{inst.interface}" if vmac and inst.use_ipvlan is None else inst.interface
    bases, devs = r.get("addr_vmacs") or {}, r.get("devs") or []

    def where(n: int, a: VirtualAddress) -> VirtualAddress:
        """An address on a per-address VMAC: its device shown as VMAC@parent."""
        dev = devs[n] if n < len(devs) else None
        return replace(a, dev=f"{dev}@{bases[dev]}") if dev in bases else a
    if inst.virtual_ipaddress:
        out.append(f"   Virtual IP ({len(inst.virtual_ipaddress)}):")
        out += [f"     {format_address(where(n, a), vip_if, held)}"
                for n, a in enumerate(inst.virtual_ipaddress)]
    if inst.virtual_ipaddress_excluded:
        out.append("   Virtual IP Excluded :")
        n0 = len(inst.virtual_ipaddress)
        out += [f"     {format_address(where(n0 + n, a), vip_if, held)}"
                for n, a in enumerate(inst.virtual_ipaddress_excluded)]
    if unicast:
        ttl = inst.unicast_ttl if inst.unicast_ttl is not None else (255 if inst.family == 4
                                                                     else None)
        if ttl is not None:
            out.append(f"   Unicast TTL = {ttl}")
        check = inst.check_unicast_src or any(p.min_ttl is not None or p.max_ttl is not None
                                              for p in inst.unicast_peer)
        out += [f"   Check unicast src : {'yes' if check else 'no'}", "   Unicast Peer :"]
        out += [f"     {p.address} min_ttl {p.min_ttl or 0} max_ttl "
                f"{p.max_ttl if p.max_ttl is not None else 255}" for p in inst.unicast_peer]
        out.append("   Unicast checksum compatibility = "
                   + ("config" if inst.old_unicast_checksum else "no"))
    if inst.interface and r.get("fd", -1) >= 0:
        out.append(f"   fd_in {r['fd']}, fd_out {r['fd']}")       # one socket both ways
    else:
        out.append("   No sockets allocated")
    if inst.virtual_routes:
        out.append("   Virtual Routes :")
        out += [f"     {format_route(x, inst.interface)}" for x in inst.virtual_routes]
    if inst.virtual_rules:
        out.append("   Virtual Rules :")
        out += [f"     {format_rule(x)}" for x in inst.virtual_rules]
    out += _tracked_lists(config, _shown_interfaces(config, inst), inst.track_script,
                          inst.track_file,
                          inst.track_process, "processes")
    out += _tracked_bfds(inst.track_bfd)
    out.append(f"   Using smtp notification = {'yes' if inst.notify.smtp_alert else 'no'}")
    out.append("   Notify deleted = "
               + ("Deleted" if inst.notify_deleted else "Fault"))
    out += _notify_scripts(inst.notify, commands or {}, deleted=True)
    out.append(f"   Notify priority changes = {_tf(inst.notify_priority_changes)}")
    return out


def _has_flags(inst: VrrpInstance) -> bool:
    """keepalived prints a bare "Flags:" when any bit of vrrp->flags is set."""
    return bool(inst.nopreempt or inst.dont_track_primary or inst.skip_check_adv_addr
                or inst.unicast_src_ip or inst.mcast_src_ip or inst.track_src_ip
                or inst.check_unicast_src or inst.promote_secondaries or inst.use_vmac is not None
                or inst.use_ipvlan is not None
                or any(a.address.version != inst.family for a in inst.virtual_ipaddress_excluded))


def _down_interval(inst: VrrpInstance) -> float:
    skew = (256 - inst.priority) / 256 * (inst.advert_int if inst.version == 3 else 1.0)
    return inst.down_timer_adverts * inst.advert_int + skew


def _any_address(family: int) -> str:
    return "0.0.0.0" if family == 4 else "::"


def _tracked_lists(config: Config, ifs: Sequence[TrackRef], scripts: Sequence[TrackRef],
                   files: Sequence[TrackRef], procs: Sequence[TrackRef], proc_word: str
                   ) -> list[str]:
    out: list[str] = []
    if ifs:
        out.append("   Tracked interfaces :")
        out += [f"     {t.name} weight {t.weight or 0}{' reverse' if t.reverse else ''}"
                for t in ifs]
    if scripts:
        own = {s.name: s for s in config.vrrp_scripts}
        out.append("   Tracked scripts :")
        out += [f"     {t.name} weight {w}{' reverse' if rev else ''}"
                for t in scripts for w, rev in [_weight(t, own.get(t.name))]]
    if files:
        own_f = {f.name: f for f in config.vrrp_track_files}
        out.append("   Tracked files :")
        out += [f"     {t.name}, weight {w}{' reverse' if rev else ''}"
                for t in files for w, rev in [_weight(t, own_f.get(t.name))]]
    if procs:
        own_p = {p.name: p for p in config.vrrp_track_processes}
        out.append(f"   Tracked {proc_word} :")
        out += [f"     {t.name}, weight {w}{' reverse' if rev else ''}"
                for t in procs for w, rev in [_weight(t, own_p.get(t.name))]]
    return out


def _tracked_bfds(refs: Sequence[TrackRef]) -> list[str]:
    """keepalived's dump_tracked_bfd: the weight is on the reference (config/bfd.py)."""
    if not refs:
        return []
    return ["   Tracked BFDs :"] + [f"     {t.name}: weight {t.weight or 0}"
                                   f"{' reverse' if t.reverse else ''}" for t in refs]


def _shown_interfaces(config: Config, inst: VrrpInstance) -> list[TrackRef]:
    """The instance's own track_interface list as keepalived prints it: a weight refused to a
    member of a sync group without sync_group_tracking_weight reads 0, an address owner's
    weighted entry is gone - while the interface's list keeps applying the weight
    (config/track_weights.py)."""
    group = next((g for g in config.vrrp_sync_groups if g.name == inst.sync_group), None)
    if group is not None and not group.sync_group_tracking_weight:
        return [replace(t, weight=0) if t.weight else t for t in inst.track_interface]
    if inst.priority == 255:
        return [t for t in inst.track_interface if not t.weight]
    return list(inst.track_interface)


def _weight(ref: TrackRef, obj: VrrpScript | VrrpTrackFile | VrrpTrackProcess | None
            ) -> tuple[int, bool]:
    """The weight keepalived stores on a tracking reference: the reference's own, else the
    tracked object's (with its `reverse`)."""
    if ref.weight is not None:
        return ref.weight, ref.reverse
    if obj is None:
        return 0, ref.reverse
    return obj.weight, obj.weight_reverse or ref.reverse


def _notify_scripts(n: Notify, commands: Mapping[str, str], deleted: bool = False) -> list[str]:
    rows = [("Backup", n.notify_backup), ("Master", n.notify_master),
            ("Fault", n.notify_fault), ("Stop", n.notify_stop)]
    if deleted:
        rows.append(("Deleted", n.notify_deleted))
    rows.append(("Generic", n.notify))
    if deleted:
        rows.append(("Master rx lower pri", n.notify_master_rx_lower_pri))
    return [f"   {label} state transition script = {cmd_str(s.argv, commands)}, uid:gid 0:0"
            for label, s in rows if s is not None]


def cmd_str(argv: Sequence[str], commands: Mapping[str, str] | None = None) -> str:
    """keepalived's cmd_str: every word in single quotes (a leading < or > word bare); the
    program as keepalived resolved it (`commands`: its real path)."""
    words = []
    if argv and commands:
        argv = [commands.get(argv[0], argv[0]), *argv[1:]]
    for i, w in enumerate(argv):
        words.append(w if i == 0 and w[:1] in ("<", ">") else f"'{w}'")
    return " ".join(words)


# -- addresses, routes, rules ----------------------------------------------------------------
def format_address(a: VirtualAddress, ifname: str | None, held: bool = False) -> str:
    """keepalived's format_ipaddress: no prefix length for a host address."""
    ip = a.address
    full = ip.network.prefixlen == ip.max_prefixlen
    text = str(ip.ip) if full else str(ip)
    if ip.version == 4 and a.brd is not None:
        text += f" brd {a.brd}"
    text += f" dev {a.dev or ifname or '(null)'}"
    text += f" scope {a.scope or 'global'}"       # keepalived's default, link-local too
    if a.label:
        text += f" label {a.label}"
    if a.peer is not None:
        text += f" peer {a.peer.ip}/{ip.network.prefixlen}"
    for flag, word in ((a.home, "home"), (a.nodad, "-nodad"), (a.mngtmpaddr, "mngtmpaddr"),
                       (a.noprefixroute, "noprefixroute"), (a.autojoin, "autojoin"),
                       (a.no_track, "no_track")):
        if flag:
            text += f" {word}"
    if a.track_group:
        text += f" track_group {a.track_group}"
    if ip.version == 6:
        if a.preferred_lft == 0:
            text += " deprecated"
        elif a.preferred_lft is None:
            text += " preferred_lft forever"
        else:
            text += f" preferred_lft {a.preferred_lft}"
    if held:
        text += " set"
    return text


def _net(n: Any) -> str:
    return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)


def format_route(r: VirtualRoute, ifname: str | None) -> str:
    """keepalived's format_iproute for the options the model keeps."""
    opts = dict(r.options)
    typed = bool(r.type and r.type != "unicast")
    text = "append " if "append" in opts else "add " if typed else "prepend "
    if typed:
        text += f"{r.type} "
    text += _net(r.dst)                 # a default route shows as 0.0.0.0/0 (or ::/0)
    if r.src is not None:
        text += f" src {r.src}"
    if r.via is not None:
        text += f" via {'inet6' if r.via.version == 6 else 'inet'} {r.via}"
    if r.dev:
        text += f" dev {r.dev}"
    if r.table is not None and r.table != 254:
        text += f" table {r.table}"
    text += f" proto {opts.get('protocol', opts.get('proto', RTPROT_KEEPALIVED))}"
    if r.scope:
        text += f" scope {_SCOPES.get(r.scope, r.scope)}"
    if r.metric is not None:
        text += f" metric {r.metric}"
    if "onlink" in opts:
        text += " onlink"
    for k, v in r.options:
        if k in ("mtu", "advmss", "window", "hoplimit", "initcwnd", "initrwnd"):
            text += f" {k} {v}"
    if r.no_track or not r.dev:          # keepalived cannot track a route without a dev
        text += " no_track"
    if r.track_group:
        text += f" track_group {r.track_group}"
    return text


_SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


def format_rule(r: VirtualRule) -> str:
    text = "inet6 " if r.from_ is None and r.to is None and r.family == 6 else ""
    text += f"from {_net(r.from_)}" if r.from_ is not None else "from all"
    if r.to is not None:
        text += f" to {_net(r.to)}"
    if r.priority is not None:
        text += f" priority {r.priority}"
    opts = dict(r.options)
    text += f" tos 0x{int(opts.get('tos', '0'), 0):x}"
    if "fwmark" in opts:
        mark, _, mask = opts["fwmark"].partition("/")
        text += f" fwmark 0x{int(mark, 0):x}"
        if mask and int(mask, 0) != 0xFFFFFFFF:
            text += f"/0x{int(mask, 0):x}"
    for k in ("iif", "oif"):
        if k in opts:
            text += f" {k} {opts[k]}"
    text += f" protocol {RTPROT_KEEPALIVED}"
    if r.table is not None:
        text += f" lookup {r.table}"
    elif "goto" in opts:
        text += f" goto {opts['goto']}"
    elif "type" in opts:
        text += f" type {opts['type']}"
    if r.no_track:
        text += " no_track"
    if r.track_group:
        text += f" track_group {r.track_group}"
    return text


# -- sync groups and trackers -----------------------------------------------------------------
def format_sync_group(g: VrrpSyncGroup, members: Sequence[Mapping[str, Any]],
                      commands: Mapping[str, str] | None = None) -> list[str]:
    states = [m.get("state", "INIT") for m in members]
    n_fault = sum(s == "FAULT" for s in states)
    n_init = sum(s == "INIT" for s in states)
    if n_fault:
        state = "FAULT"
    elif states and all(s == "MASTER" for s in states):
        state = "MASTER"
    elif states and all(s in ("BACKUP", "MASTER") for s in states) and "BACKUP" in states:
        state = "BACKUP"
    else:
        state = "INIT"
    out = [f" VRRP Sync Group = {g.name}, {state}",
           f"   Num member fault {n_fault}, num member init {n_init}",
           "   VRRP member instances :", *(f"     {n}" for n in g.group)]
    if g.sync_group_tracking_weight:
        out.append("   sync group tracking weight set")
    out.append(f"   Using smtp notification = {'yes' if g.notify.smtp_alert else 'no'}")
    out += _tracked_lists_group(g)
    out += _tracked_bfds(g.track_bfd)
    out += _notify_scripts(g.notify, commands or {})
    return out


def _tracked_lists_group(g: VrrpSyncGroup) -> list[str]:
    out: list[str] = []
    for title, refs, sep in (("interfaces", g.track_interface, ""),
                             ("scripts", g.track_script, ""), ("files", g.track_file, ","),
                             ("process", g.track_process, ",")):
        if refs:
            out.append(f"   Tracked {title} :")
            out += [f"     {t.name}{sep} weight {t.weight or 0}{' reverse' if t.reverse else ''}"
                    for t in refs]
    return out


def _trackers_of(config: Config, kind: str, name: str) -> list[tuple[str, int, bool]]:
    """(instance, weight, reverse) of every instance tracking `name` (through its sync group
    too), as keepalived lists them under the tracked object."""
    edges = tracking_edges(config).get((kind.removeprefix("track_"), name), [])
    return [(e.instance, e.weight, e.reverse) for e in edges]


def _tracking(rows: list[tuple[str, int, bool]], header: bool = True) -> list[str]:
    out = ["   Tracking instances :"] if rows and header else []
    return out + [f"     {n}, weight {w}{' reverse' if rev else ''}" for n, w, rev in rows]


def _used_scripts(config: Config) -> list[VrrpScript]:
    return _used(config, "track_script", config.vrrp_scripts)


def _used(config: Config, kind: str, objs: Sequence[Any]) -> list[Any]:
    """keepalived frees trackers no instance or sync group uses before it dumps."""
    names = {r.name for i in config.vrrp_instances for r in getattr(i, kind)}
    names |= {r.name for g in config.vrrp_sync_groups for r in getattr(g, kind)}
    return [o for o in objs if o.name in names]


def _script_result(s: VrrpScript, result: int | None) -> int:
    if result is None:
        return 0 if s.init_fail else s.rise - 1
    return result


def script_states(config: Config, results: Mapping[str, int]) -> list[dict[str, str]]:
    """The VRRP Scripts section's Status and State per script, as the exporters read them."""
    return [{"name": s.name, "status": "GOOD" if _script_result(s, results.get(s.name)) >= s.rise
             else "BAD", "state": "idle"} for s in _used_scripts(config)]


def format_script(config: Config, s: VrrpScript, result: int | None,
                  commands: Mapping[str, str] | None = None) -> list[str]:
    res = _script_result(s, result)
    timeout = s.timeout or 0            # keepalived shows 0 when timeout is not given
    return [f" VRRP Script = {s.name}",
            f"   Command = {cmd_str(s.script.argv, commands)}",
            f"   Interval = {int(s.interval)} sec",
            f"   Timeout = {int(timeout)} sec",
            f"   Weight = {s.weight}{' reverse' if s.weight_reverse else ''}",
            f"   Rise = {s.rise}",
            f"   Fall = {s.fall}",
            f"   Result = {res}",
            "   Insecure = no",
            "   Init state = " + ("INIT/FAILED" if s.init_fail and result is None else
                                  "INIT" if result is None else "unknown"),
            f"   Status = {'GOOD' if res >= s.rise else 'BAD'}",
            "   Script uid:gid = 0:0",
            "   VRRP instances :",
            *_tracking(_trackers_of(config, "track_script", s.name)),
            "   State = idle"]


def format_track_file(config: Config, f: VrrpTrackFile, status: int) -> list[str]:
    return [f" Track file = {f.name}", f"   File = {f.file}", f"   Status = {status}",
            f"   Weight = {f.weight}{' reverse' if f.weight_reverse else ''}",
            *_tracking(_trackers_of(config, "track_file", f.name))]


def format_track_process(config: Config, p: VrrpTrackProcess, running: int) -> list[str]:
    out = [f" VRRP Track process = {p.name}", f"   Process = {p.process}"]
    if p.parameters:
        out.append(f"   Parameters = {' '.join(p.parameters)}")
        out.append("   Param match" + {"partial": " = partial", "initial": " = initial"}.get(
            p.param_match or "", ""))
    out.append(f"   Min processes = {p.quorum}")
    if p.quorum_max is not None:
        out.append(f"   Max processes = {p.quorum_max}")
    quorum = p.quorum <= running <= (p.quorum_max if p.quorum_max is not None else running)
    out += [f"   Current processes = {running}",
            f"   Have quorum = {_tf(quorum)}",
            f"   Weight = {p.weight}{' reverse' if p.weight_reverse else ''}",
            f"   Terminate delay = {_or(p.terminate_delay, p.delay):f}s",
            f"   Fork delay = {_or(p.fork_delay, p.delay):f}s",
            "   Fork delay timer not running",
            "   Terminate delay timer not running",
            # parameters or param_match imply matching the whole command line
            f"   Full command = {_tf(p.full_command or bool(p.parameters) or bool(p.param_match))}",
            *_tracking(_trackers_of(config, "track_process", p.name))]
    return out


def format_interface(config: Config, i: InterfaceInfo,
                     vmacs: Mapping[str, str] | None = None) -> list[str]:
    """`vmacs`: VMAC interface name -> its instance's name (use_vmac, vrrp/vmac.py)."""
    lo = i.get("loopback", False)
    vmacs = vmacs or {}
    insts = {x.name: x for x in config.vrrp_instances}
    own = insts.get(vmacs.get(i["name"], ""))           # the instance whose VMAC this is
    # keepalived counts the IPv4 VMACs on a parent; it prints the values it set as "original"
    v4_children = sum(1 for n in vmacs.values() if n in insts and insts[n].family == 4
                      and insts[n].interface == i["name"])
    flags = ["UP" if i.get("up") else "DOWN"]
    if i.get("running"):
        flags.append("RUNNING")
    if lo:
        flags += ["no broadcast", "loopback", "no multicast"]
    g = config.global_defs
    promote = any(x.promote_secondaries and x.interface == i["name"]
                  for x in config.vrrp_instances)
    out = [f" Name = {i['name']}", f"   index = {i.get('index', 0)}",
           f"   IPv4 address = {i.get('ipv4') or '(none)'}",
           f"   IPv6 address = {i.get('ipv6') or '(none)'}"]
    if not lo:
        out += [f"   MAC = {i.get('mac', '')}",
                f"   MAC broadcast = {i.get('mac_broadcast', 'ff:ff:ff:ff:ff:ff')}"]
    out += [f"   State = {', '.join(flags)}", "   Seen up = " + ("1" if i.get("up") else "0"),
            "   Delayed state change running = false", "   Up debounce timer = 0us",
            "   Down debounce timer = 0us"]
    if own is not None:
        out += [f"   VMAC type private, underlying interface = {own.interface}, state = UP,"
                " RUNNING", "   I/f created by keepalived"]
    out += [f"   MTU = {i.get('mtu', 0)}",
            f"   HW Type = {'LOOPBACK' if lo else 'ETHERNET'}", "   NIC netlink status update"]
    if any(x.interface == i["name"] for x in config.vrrp_instances):
        if g.vrrp_garp_interval:
            out.append(f"   Gratuitous ARP interval {round(g.vrrp_garp_interval * 1000)}ms")
        if g.vrrp_gna_interval:
            out.append(f"   Gratuitous NA interval {round(g.vrrp_gna_interval * 1000)}ms")
    vmac4 = own is not None and own.family == 4
    out += [f"   Reset ARP config counter {v4_children}",
            f"   Original arp_ignore {int(bool(v4_children) or vmac4)}",
            f"   Original arp_filter {int(bool(v4_children))}"]
    if promote or own is not None or any(insts[n].interface == i["name"]
                                         for n in vmacs.values() if n in insts):
        out.append("   rp_filter 0")
    out += [f"   Original promote_secondaries {int(promote or vmac4)}",
            f"   Reset promote_secondaries counter {int(promote)}"]
    rows = []
    if own is not None:
        rows.append((own.name, 255 if own.dont_track_primary else 0, False))
    for inst in config.vrrp_instances:
        if inst.interface == i["name"]:
            # keepalived's entry for the instance's own interface; 255 when not tracked
            rows.append((inst.name, 255 if inst.dont_track_primary else 0, False))
        elif any(a.dev == i["name"] and not a.no_track
                 for a in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded)) \
                or any(r.dev == i["name"] and not r.no_track for r in inst.virtual_routes):
            rows.append((inst.name, 0, False))
    rows += _trackers_of(config, "track_interface", i["name"])
    if rows:
        out.append("   Tracking VRRP instances :")
        out += _tracking(rows, header=False)
    return out


# -- helpers ------------------------------------------------------------------------------------
def when(t: float) -> str:
    """keepalived's "SECS.USECS (Day Mon DD HH:MM:SS.USECS YYYY)"."""
    tm = time.localtime(t)
    usec = int(round((t % 1) * 1e6)) % 1000000
    day = time.strftime("%a %b", tm) + f" {tm.tm_mday:2d} " + time.strftime("%H:%M:%S", tm)
    return f"{int(t)}.{usec:06d} ({day}.{usec:06d} {tm.tm_year})"


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _tf(b: bool) -> str:
    return "true" if b else "false"


def _ed(b: bool) -> str:
    return "enabled" if b else "disabled"


__all__ = ["InstanceRuntime", "InterfaceInfo", "Runtime", "VrrpState", "format_vrrp_data",
           "lower_prio_garp", "when"]
