"""The process-level part of global_defs (and the root keywords child_wait_time, use_pid_dir):
how keepalived schedules, names and surrounds its processes, and the sizes of its sockets.

One frozen dataclass, GlobalDefs.process. Defaults are keepalived 2.2.7's (global_data.c
alloc_global_data, main.c); build_process.py fills it, core/sched.py and the supervisor act on
it, obs/vrrp_data.py dumps it as keepalived.data does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from keepalived_py.config.record import Record
from keepalived_py.record import field

if TYPE_CHECKING:
    from keepalived_py.config.model import Script

RT_RLIMIT_DEFAULT = 10000          # lib/process.h: microseconds of real-time CPU per child
CHILD_WAIT_SECS = 5                # main.c: how long the parent waits for its children at stop
DEFAULT_NFTABLES_TABLE = "keepalived"
DEFAULT_UMASK = 0o177              # main.c: S_IXUSR | S_IRWXG | S_IRWXO (the dump's "umask = 0177")


class ChildSched(Record):
    """One child's scheduling: `<role>_priority`, `_rt_priority`, `_rlimit_rttime`, `_no_swap`,
    `_cpu_affinity` (role: vrrp, checker, bfd)."""

    priority: int = 0                      # nice value, -20 .. 19 (0: left as inherited)
    rt_priority: int = 0                   # SCHED_RR priority, 1 .. 99 (0: not real-time)
    rlimit_rttime: int = RT_RLIMIT_DEFAULT  # RLIMIT_RTTIME hard limit, microseconds
    no_swap: bool = False                  # mlockall
    cpu_affinity: tuple[int, ...] = ()     # CPUs (empty: left as inherited)


class RcvBufs(Record):
    """`<name>_rcv_bufs SIZE` and `<name>_rcv_bufs_force` (SO_RCVBUFFORCE instead of SO_RCVBUF)."""

    size: int = 0                          # 0: the kernel default
    force: bool = False


class ProcessDefs(Record):
    """The process-level global_defs keywords."""
    vrrp: ChildSched = field(default_factory=ChildSched)
    checker: ChildSched = field(default_factory=ChildSched)
    bfd: ChildSched = field(default_factory=ChildSched)
    max_auto_priority: int = 0             # -1: disabled; N: raise to SCHED_RR up to N when late
    min_auto_priority_delay: int = 1000000  # microseconds late before raising
    vrrp_startup_delay: float = 0.0        # seconds the VRRP machines wait before starting
    umask: int | None = None               # None: keepalived's default (DEFAULT_UMASK) or -m
    startup_script: Script | None = None
    startup_script_timeout: int = 0        # seconds (10 when a script is given without one)
    shutdown_script: Script | None = None
    shutdown_script_timeout: int = 0
    child_wait_time: int = CHILD_WAIT_SECS  # seconds the parent waits for stopping children
    use_pid_dir: bool = False              # pidfiles in /run/keepalived/
    bfd_process_name: str | None = None    # the BFD child's comm (process_names: keepalived_bfd)
    vrrp_netlink_cmd: RcvBufs = field(default_factory=RcvBufs)
    vrrp_netlink_monitor: RcvBufs = field(default_factory=RcvBufs)
    process_monitor: RcvBufs = field(default_factory=RcvBufs)
    lvs_netlink_cmd: RcvBufs = field(default_factory=RcvBufs)
    lvs_netlink_monitor: RcvBufs = field(default_factory=RcvBufs)
    vrrp_rx_bufs_policy: str | None = None  # "MTU" | "ADVERT" | None
    vrrp_rx_bufs_size: int | None = None   # vrrp_rx_bufs_policy SIZE
    vrrp_rx_bufs_multiplier: int = 3
    nftables: str | None = None            # the VRRP table's name (None: not asked for)
    nftables_priority: int = -1            # its base chains' priority
    nftables_counters: bool = False
    nftables_ifindex: bool = False
    vmac_prefix: str | None = None         # the VMAC interface name prefix (keepalived: vrrp)
    vmac_addr_prefix: str | None = None    # the VMAC interface name prefix for use_vmac_addr
    random_seed: int | None = None
    tmp_config_directory: str | None = None
    config_save_dir: str | None = None
    checker_log_all_failures: bool = False
    reload_time_file: str | None = None
    reload_repeat: bool = False
    reload_file: str | None = None         # "" : keepalived's default name
    reload_check_config: str | None = None  # the -t log of a reload's check (/dev/null: none)

    def sched(self, role: str) -> ChildSched:
        return {"vrrp": self.vrrp, "checker": self.checker, "bfd": self.bfd}.get(
            role, ChildSched())
