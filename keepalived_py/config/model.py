"""The frozen configuration model: the only representation of keepalived.conf that code reads.

Field names equal keepalived.conf(5) keyword names. Every block carries `pos` (its source
position), excluded from comparison so that moving a block is not a change on reload.
Values that keepalived computes from others (effective defaults) are resolved by build.py, so
users of the model never re-derive them.

LVS-side classes (virtual_server, real_server, checkers, bfd) live in model_lvs.py.
"""
from __future__ import annotations

import enum
import ipaddress
from typing import Any

from keepalived_py.address import IPAddress, IPInterface
from keepalived_py.config.model_lvs import BfdInstance, SslConfig, VirtualServer, VirtualServerGroup
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.config.record import Record
from keepalived_py.record import evolve, field
from keepalived_py.config.tree import SourcePos

_NOPOS = SourcePos("<default>", 0)


def _pos() -> SourcePos:
    return field(default=_NOPOS, compare=False, repr=False)  # type: ignore[return-value]


class VrrpState(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


class Script(Record):
    """A command line as keepalived runs it: argv after keepalived's quoting rules."""

    argv: tuple[str, ...]
    text: str                       # the command as written (for logs and dumps)
    user: str | None = None
    group: str | None = None
    pos: SourcePos = _pos()


class VirtualAddress(Record):
    """One line of virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress."""

    address: IPInterface            # address with prefix (default /32 or /128)
    brd: IPAddress | None = None
    dev: str | None = None          # None: the instance's interface
    scope: str | None = None
    label: str | None = None
    peer: IPInterface | None = None
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    use_vmac: bool = False
    preferred_lft: int | None = None  # None: kernel default; 0 deprecates
    track_group: str | None = None
    pos: SourcePos = _pos()


class VirtualRoute(Record):
    """One line of virtual_routes / static_routes, kept as parsed options."""

    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    src: IPAddress | None = None
    via: IPAddress | None = None
    or_via: IPAddress | None = None
    dev: str | None = None
    scope: str | None = None
    table: int | None = None
    metric: int | None = None
    type: str | None = None          # unicast (default), blackhole, unreachable, prohibit, ...
    options: tuple[tuple[str, str], ...] = ()   # every other ip-route option, in order
    no_track: bool = False
    track_group: str | None = None
    pos: SourcePos = _pos()


class VirtualRule(Record):
    """One line of virtual_rules / static_rules."""

    from_: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    to: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    table: int | None = None
    priority: int | None = None
    family: int | None = None        # 4 or 6 when no address says so
    options: tuple[tuple[str, str], ...] = ()
    no_track: bool = False
    track_group: str | None = None
    pos: SourcePos = _pos()


class TrackRef(Record):
    """An entry of track_interface / track_script / track_process / track_file / track_bfd."""

    name: str
    weight: int | None = None        # None: the tracked object's own weight (0 for interfaces)
    reverse: bool = False
    pos: SourcePos = _pos()


class UnicastPeer(Record):
    """One unicast_peer line."""
    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None
    pos: SourcePos = _pos()


class Notify(Record):
    """notify_* scripts shared by instances and sync groups."""

    notify: Script | None = None
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify_deleted: Script | None = None
    notify_master_rx_lower_pri: Script | None = None
    smtp_alert: bool | None = None


class VrrpInstance(Record):
    """One vrrp_instance block, resolved."""
    name: str
    interface: str | None            # None only with unicast and no interface (keepalived allows)
    virtual_router_id: int
    state: VrrpState = VrrpState.BACKUP        # the configured initial state
    priority: int = 100                        # build.py resolves 'state MASTER' without priority
    advert_int: float = 1.0                    # seconds
    version: int = 2                           # resolved: IPv6 forces 3; else vrrp_version
    family: int = 4                            # 4 or 6, from the virtual addresses
    nopreempt: bool = False
    preempt_delay: float = 0.0
    accept: bool = True                        # resolved: no_accept / vrrp_strict
    strict_mode: bool = False
    use_vmac: str | None = None                # use_vmac: its name, '' for a generated one
    vmac_xmit_base: bool = False
    use_vmac_addr: bool = False                # VMACs for addresses elsewhere (vrrp/addr_vmac.py)
    use_ipvlan: str | None = None              # use_ipvlan: its name, '' for a generated one
    ipvlan_type: str = "bridge"                # bridge | private | vepa (config/ipvlan.py)
    ipvlan_addr: IPInterface | None = None     # the ipvlan's own address
    ipvlan_fault: bool = False                 # resolved: IPv4 ipvlan without address: FAULT
    dont_track_primary: bool = False
    track_interface: tuple[TrackRef, ...] = ()
    track_script: tuple[TrackRef, ...] = ()
    track_process: tuple[TrackRef, ...] = ()
    track_file: tuple[TrackRef, ...] = ()
    track_bfd: tuple[TrackRef, ...] = ()
    mcast_src_ip: IPAddress | None = None
    unicast_src_ip: IPAddress | None = None
    mcast_dst_ip: IPAddress | None = None
    unicast_peer: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int | None = None
    unicast_fault_no_peer: bool = False
    check_unicast_src: bool = False
    track_src_ip: bool = False
    old_unicast_checksum: bool = False
    v3_checksum_as_v2: bool = False            # resolved from global vrrp_checksum_compat? see build
    auth_type: str | None = None               # "PASS" | "AH" | None
    auth_pass: str | None = None               # first 8 characters, as keepalived keeps them
    virtual_ipaddress: tuple[VirtualAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[VirtualAddress, ...] = ()
    virtual_routes: tuple[VirtualRoute, ...] = ()
    virtual_rules: tuple[VirtualRule, ...] = ()
    promote_secondaries: bool = False
    garp_master_delay: float = 5.0             # resolved from global_defs
    garp_master_repeat: int = 5
    garp_lower_prio_delay: float | None = None
    garp_lower_prio_repeat: int | None = None
    garp_master_refresh: float = 0.0           # 0: off
    garp_master_refresh_repeat: int = 1
    garp_interval: float = 0.0                 # resolved from global_defs (vrrp_garp_interval)
    gna_interval: float = 0.0                  # resolved from global_defs (vrrp_gna_interval)
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3
    debug: int = 0
    notify: Notify = field(default_factory=Notify)
    notify_fifo: str | None = None
    sync_group: str | None = None              # resolved back-reference
    skip_check_adv_addr: bool = False
    kernel_rx_buf_size: int | None = None
    notify_deleted: bool = False               # DELETED (not FAULT) when a reload removes it
    notify_priority_changes: bool = False      # resolved: instance, else sync group, else global
    garp_extra_if: int = 0                     # resolved (vrrp_garp_extra_if); 0: off
    garp_extra_if_all: bool = False
    pos: SourcePos = _pos()


class GarpGroup(Record):
    """A garp_group: gratuitous ARP / NA frames on its interfaces spaced at least this far
    apart, all of the group's interfaces together (vrrp/garp_pacer.py)."""
    interfaces: tuple[str, ...] = ()
    garp_interval: float = 0.0
    gna_interval: float = 0.0
    pos: SourcePos = _pos()


class VrrpSyncGroup(Record):
    """One vrrp_sync_group block."""
    name: str
    group: tuple[str, ...]                     # member instance names
    track_interface: tuple[TrackRef, ...] = ()
    track_script: tuple[TrackRef, ...] = ()
    track_process: tuple[TrackRef, ...] = ()
    track_file: tuple[TrackRef, ...] = ()
    track_bfd: tuple[TrackRef, ...] = ()
    notify: Notify = field(default_factory=Notify)
    sync_group_tracking_weight: bool = False
    notify_priority_changes: bool | None = None   # None: unset (global_defs' value applies)
    pos: SourcePos = _pos()


class VrrpScript(Record):
    """One vrrp_script block."""
    name: str
    script: Script
    interval: float = 1.0
    timeout: float | None = None               # None: the interval, as keepalived
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    user: str | None = None
    group: str | None = None
    pos: SourcePos = _pos()


class VrrpTrackProcess(Record):
    """One vrrp_track_process block."""
    name: str
    process: str                               # process name (comm) or full path with full_command
    param_match: str | None = None             # "initial" | "partial" | None (exact)
    parameters: tuple[str, ...] = ()           # process arguments to match, if given
    quorum: int = 1
    quorum_max: int | None = None
    weight: int = 0
    weight_reverse: bool = False
    delay: float = 0.0
    fork_delay: float | None = None
    terminate_delay: float | None = None
    full_command: bool = False
    pos: SourcePos = _pos()


class VrrpTrackFile(Record):
    """One track_file block."""
    name: str
    file: str
    weight: int = 1
    weight_reverse: bool = False
    init_file: int | None = None               # value written at start when init_file given
    init_file_overwrite: bool = False
    pos: SourcePos = _pos()


class LvsSyncDaemon(Record):
    """global_defs `lvs_sync_daemon IF [inst NAME] [id N] [maxlen N] [port N] [ttl N]
    [group ADDR]`: the IPVS connection-sync daemon. With `inst`, the VRRP child runs it in that
    instance's role (MASTER or BACKUP, syncid defaulting to its virtual_router_id); without,
    the checker child runs both a master and a backup daemon (syncid default 0)."""
    interface: str
    instance: str | None = None
    syncid: int | None = None
    maxlen: int = 0                            # 0: the kernel's default
    port: int = 0
    ttl: int = 0
    group: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    pos: SourcePos = _pos()


class GlobalDefs(Record):
    """The global_defs block, resolved."""
    router_id: str | None = None               # None: the host name, as keepalived
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_server_port: int = 25                 # smtp_server HOST [PORT]
    smtp_helo_name: str | None = None          # None: the local host name, as keepalived
    smtp_connect_timeout: float = 30.0
    smtp_alert: bool | None = None             # None: unset (the block-level defaults apply)
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    no_email_faults: bool = False
    no_checker_emails: bool = False
    enable_script_security: bool = False
    script_user: str | None = None
    script_group: str | None = None
    vrrp_version: int = 2
    vrrp_strict: bool = False
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_lower_prio_delay: float | None = None
    vrrp_garp_lower_prio_repeat: int | None = None
    vrrp_garp_master_refresh: float = 0.0
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_skip_check_adv_addr: bool = False
    vrrp_check_unicast_src: bool = False
    vrrp_mcast_group4: ipaddress.IPv4Address = ipaddress.IPv4Address("224.0.0.18")
    vrrp_mcast_group6: ipaddress.IPv6Address = ipaddress.IPv6Address("ff02::12")
    vrrp_notify_fifo: str | None = None
    vrrp_notify_fifo_script: Script | None = None
    notify_fifo: str | None = None
    notify_fifo_script: Script | None = None
    lvs_notify_fifo: str | None = None
    lvs_notify_fifo_script: Script | None = None
    lvs_flush: bool = False
    lvs_flush_on_stop: str | None = None       # None | "VS" | "ALL"
    lvs_sync_daemon: LvsSyncDaemon | None = None
    lvs_timeouts: tuple[int, int, int] = (0, 0, 0)   # tcp, tcpfin, udp seconds; 0: unchanged
    rs_init_notifies: bool = False             # notify_up for real servers up at start
    state_dump_file: str | None = None
    data_use_instance: bool = False
    dataplane: str = "auto"                    # keepalived-py: "auto" | "ipvs" | "nftables"
    process_name: str | None = None            # the parent's (and by default every child's) comm
    vrrp_process_name: str | None = None       # process_names: keepalived_vrrp
    checker_process_name: str | None = None    # process_names: keepalived_lvs
    # D-Bus (keepalived_py/dbus) and SNMP AgentX (keepalived_py/snmp): off unless enabled
    enable_dbus: bool = False
    dbus_service_name: str | None = None       # None: org.keepalived.Vrrp1
    enable_snmp_vrrp: bool = False             # KEEPALIVED-MIB vrrp part (enable_snmp_keepalived)
    enable_snmp_checker: bool = False          # KEEPALIVED-MIB checker part
    enable_snmp_rfcv2: bool = False            # VRRP-MIB, RFC 2787
    enable_snmp_rfcv3: bool = False            # VRRPV3-MIB, RFC 6527
    enable_traps: bool = False
    snmp_socket: str | None = None             # None: unix:/var/agentx/master
    # VRRP globals (issue 12; config/vrrp_keywords.py)
    log_unknown_vrids: bool = False
    fifo_write_vrrp_states_on_reload: bool = False
    vrrp_notify_priority_changes: bool = False
    disable_local_igmp: bool = False
    dynamic_interfaces: bool = False
    allow_if_changes: bool = False
    default_interface: str = "eth0"            # keepalived's DFLT_INT
    vrrp_garp_extra_if: int = 0
    vrrp_garp_extra_if_all: bool = False
    # scheduling, umask, start/stop scripts, socket sizes... (config/model_process.py)
    process: ProcessDefs = field(default_factory=ProcessDefs)
    unknown: tuple[tuple[str, str], ...] = ()  # keyword, value for keywords stored verbatim
    pos: SourcePos = _pos()


class Config(Record):
    """The whole resolved configuration."""

    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    static_ipaddress: tuple[VirtualAddress, ...] = ()
    static_routes: tuple[VirtualRoute, ...] = ()
    static_rules: tuple[VirtualRule, ...] = ()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    vrrp_track_processes: tuple[VrrpTrackProcess, ...] = ()
    vrrp_track_files: tuple[VrrpTrackFile, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    bfd_instances: tuple[BfdInstance, ...] = ()
    ssl: SslConfig | None = None
    garp_groups: tuple[GarpGroup, ...] = ()
    # interface_up_down_delays: (interface, down delay, up delay) in seconds (vrrp/debounce.py)
    interface_delays: tuple[tuple[str, float, float], ...] = ()
    # interfaces whose link state is polled (linkbeat_interfaces, linkbeat_use_polling)
    linkbeat_interfaces: tuple[str, ...] = ()

    @property
    def has_vrrp(self) -> bool:
        """keepalived starts the VRRP child when there is VRRP work (instances or static addresses)."""
        return bool(self.vrrp_instances or self.static_ipaddress or self.static_routes
                    or self.static_rules)

    @property
    def has_checker(self) -> bool:
        return bool(self.virtual_servers)
