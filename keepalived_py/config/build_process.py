"""global_defs keywords about keepalived's processes -> model_process.ProcessDefs.

Each handler follows keepalived 2.2.7's global_parser.c: the same ranges, the same error
messages (checked against the binary's -t), the same fall-backs. build.py calls `parse` for
every keyword in KEYWORDS and `parse_root` for the root keywords in ROOT_KEYWORDS, then
`model(fields)` once.
"""
from __future__ import annotations

import os
from typing import Any

from keepalived_py.config.model import Script
from keepalived_py.config.model_process import (
    DEFAULT_NFTABLES_TABLE,
    ChildSched,
    ProcessDefs,
    RcvBufs,
)
from keepalived_py.config.tree import Diagnostics, Node
from keepalived_py.config.values import (
    read_bool_or_none,
    read_decimal,
    read_int,
    script_argv,
)
from keepalived_py.record import evolve as replace

ROLES = ("vrrp", "checker", "bfd")
_SCHED = ("priority", "rt_priority", "rlimit_rttime", "rlimit_rtime", "no_swap", "cpu_affinity")
RCV_BUFS = ("vrrp_netlink_cmd", "vrrp_netlink_monitor", "process_monitor", "lvs_netlink_cmd",
            "lvs_netlink_monitor")
_WHO = {"vrrp": "vrrp", "checker": "checker", "bfd": "bfd"}
SCHED_RR_MIN, SCHED_RR_MAX = 1, 99          # sched_get_priority_min/max(SCHED_RR) on Linux
UMASK_BITS = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o040, "IWGRP": 0o020,
              "IXGRP": 0o010, "IROTH": 0o004, "IWOTH": 0o002, "IXOTH": 0o001}

KEYWORDS = frozenset(
    {f"{r}_{s}" for r in ROLES for s in _SCHED}
    | {f"{b}_rcv_bufs" for b in RCV_BUFS} | {f"{b}_rcv_bufs_force" for b in RCV_BUFS}
    | {"max_auto_priority", "min_auto_priority_delay", "vrrp_startup_delay", "umask",
       "startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout",
       "bfd_process_name", "process_names", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier",
       "nftables", "nftables_priority", "nftables_counters", "nftables_ifindex",
       "vrrp_iptables", "vrrp_ipsets", "vmac_prefix", "vmac_addr_prefix", "random_seed",
       "tmp_config_directory", "config_save_dir", "checker_log_all_failures",
       "reload_time_file", "reload_repeat", "reload_file", "reload_check_config"})
# handled here and also by build.py's own branch (names of the other children, script security)
SHARED = frozenset({"process_names", "startup_script", "shutdown_script", "vrrp_iptables",
                    "vrrp_ipsets"})
ROOT_KEYWORDS = frozenset({"child_wait_time", "use_pid_dir"})


def _sched(role: str, what: str, c: Node, f: dict[str, Any], d: Diagnostics) -> None:
    args = c.args
    cur: ChildSched = f.get(role, ChildSched())
    who = _WHO[role]
    if what == "priority":                    # get_priority: a nice value
        if not args:
            d.error(c.pos, f"No {who} process priority specified")
            return
        v = read_int(args[0], -20, 19, c.pos, d)
        if v is None:
            d.error(c.pos, f"Invalid {who} process priority specified")
        f[role] = replace(cur, priority=v or 0)
    elif what == "rt_priority":               # get_realtime_priority: clamped into SCHED_RR's range
        if not args:
            d.error(c.pos, f"No {who} process real-time priority specified")
            return
        v = read_int(args[0], -2**31, 2**31 - 1, c.pos, d)
        if v is None:
            d.error(c.pos, f"{who} process real-time priority '{args[0]}' invalid")
            return
        if v < SCHED_RR_MIN:
            d.error(c.pos, f"{who} process real-time priority {v} less than minimum"
                           f" {SCHED_RR_MIN} - setting to minimum")
            v = SCHED_RR_MIN
        elif v > SCHED_RR_MAX:
            d.error(c.pos, f"{who} process real-time priority {v} greater than maximum"
                           f" {SCHED_RR_MAX} - setting to maximum")
            v = SCHED_RR_MAX
        f[role] = replace(cur, rt_priority=v)
    elif what in ("rlimit_rttime", "rlimit_rtime"):
        if what == "rlimit_rtime":            # deprecated since 2020 (keepalived logs it, no error)
            d.notice(c.pos, f"Keyword '{c.keyword}' is deprecated - please use"
                            f" '{role}_rlimit_rttime'")
        v = read_int(args[0], 1, 2**32 - 1, c.pos, d) if args else None
        if v is None:
            # keepalived stores 0 here: no RLIMIT_RTTIME is set
            d.error(c.pos, f"Invalid {who} real-time limit - {args[0] if args else ''}")
            v = 0
        f[role] = replace(cur, rlimit_rttime=2 if v == 1 else v)  # halved for the soft limit
    elif what == "no_swap":
        f[role] = replace(cur, no_swap=True)
    elif what == "cpu_affinity":
        if not args:
            d.error(c.pos, f"No {who} cpu_id set specified")
            return
        ncpu = os.cpu_count() or 1
        cpus: set[int] = set()
        for w in args:
            v = read_int(w, 0, ncpu - 1, c.pos, d)
            if v is None:
                d.error(c.pos, f"Invalid cpu_id:{w} specified for {who} process")
                cpus = set()                  # keepalived resets the set at the first error
                break
            cpus.add(v)
        f[role] = replace(cur, cpu_affinity=tuple(sorted(cpus)))


def _umask(c: Node, d: Diagnostics) -> int | None:
    args = c.args
    if not args:
        d.error(c.pos, "Missing parameter(s) to umask option")
        return None
    if args[0][:1].isdigit():
        if len(args) != 1:
            d.error(c.pos, "Extra parameter(s) to umask option")
            return None
        try:
            v = int(args[0], 8 if len(args[0]) > 1 and args[0][0] == "0"
                    and args[0][1:2] not in ("x", "X") else 0)
        except ValueError:
            v = -1
        if v < 0 or v & ~0o777:
            d.error(c.pos, f"invalid umask value {args[0]}")
            return None
        return v
    bits = 0
    need_or = False
    for w in args:
        i = 0
        while i < len(w):
            if need_or:
                if w[i] == "|":
                    need_or = False
                    i += 1
                    continue
                d.error(c.pos, f"Invalid umask syntax {w}")
                return None
            b = UMASK_BITS.get(w[i:i + 5])
            if b is None:
                d.error(c.pos, f"Unknown umask bit {w[i:]}")
                return None
            bits |= b
            i += 5
            need_or = True
    if not need_or:
        d.error(c.pos, "umask missing bit value")
        return None
    return bits


def _script(c: Node, f: dict[str, Any], d: Diagnostics, kind: str) -> None:
    """startup_script / shutdown_script: command [user [group]] (notify_script_init)."""
    if f.get(f"{kind}_script") is not None:
        d.error(c.pos, f"{kind} script already specified")
        return
    if not c.args:
        d.error(c.pos, f"{kind} script missing")
        return
    argv = script_argv(c.args[:1])
    if not argv:
        d.error(c.pos, f"Invalid {kind} script")
        return
    user = c.args[1] if len(c.args) > 1 else None
    group = c.args[2] if len(c.args) > 2 else None
    f[f"{kind}_script"] = Script(argv=argv, text=c.args[0], user=user, group=group, pos=c.pos)
    f.setdefault(f"{kind}_script_timeout", 10)


def parse(c: Node, f: dict[str, Any], d: Diagnostics) -> None:
    """One global_defs line whose keyword is in KEYWORDS: its value into `f` (ProcessDefs
    field names; ChildSched/RcvBufs values under the role and buffer names)."""
    k, args = c.keyword, c.args
    role, _, what = k.partition("_")
    if role in ROLES and what in _SCHED:
        _sched(role, what, c, f, d)
    elif k.endswith("_rcv_bufs") or k.endswith("_rcv_bufs_force"):
        name = k.split("_rcv_bufs")[0]
        cur: RcvBufs = f.get(name, RcvBufs())
        if k.endswith("_force"):
            force = read_bool_or_none(
                c, d, f"Invalid value '{args[0] if args else ''}' for global {k} specified")
            if force is not None:
                f[name] = replace(cur, force=force)
        elif not args:
            d.error(c.pos, f"{name}_rcv_bufs size missing")
        elif (n := read_int(args[0], 0, 2**32 - 1, c.pos, d)) is None:
            d.error(c.pos, f"{name}_rcv_bufs size ({args[0]}) invalid")
        elif n:
            f[name] = replace(cur, size=n)
    elif k == "max_auto_priority":
        if not args:
            f[k] = SCHED_RR_MAX
        elif (v := read_int(args[0], -1, SCHED_RR_MAX, c.pos, d)) is None:
            d.error(c.pos, f"max_auto_priority '{args[0]}' must be in [0, {SCHED_RR_MAX}]"
                           " (or -1 to disable) - ignoring")
        else:
            f[k] = v
    elif k == "min_auto_priority_delay":
        if not args:
            d.error(c.pos, "min_auto_priority_delay requires delay time")
        elif (v := read_int(args[0], 1, 10000000, c.pos, d)) is None:
            d.error(c.pos, f"min_auto_priority_delay '{args[0]}' must be in [1, 10000000]"
                           " - ignoring")
        else:
            f[k] = v
    elif k == "vrrp_startup_delay":
        delay = read_decimal(args[0], 0.001, 4294.967295, c.pos, d) if args else None
        if delay is None:
            d.error(c.pos, f"vrrp_startup_delay '{args[0] if args else ''}' is invalid")
        else:
            f[k] = delay
            if delay >= 60:
                d.notice(c.pos, f"The vrrp_startup_delay is very large - {args[0]} seconds")
    elif k == "umask":
        if (v := _umask(c, d)) is not None:
            f[k] = v
    elif k in ("startup_script", "shutdown_script"):
        _script(c, f, d, k.split("_")[0])
    elif k in ("startup_script_timeout", "shutdown_script_timeout"):
        kind = k.split("_")[0]
        if not args:
            d.error(c.pos, f"{kind}_script_timeout requires value")
        elif (v := read_int(args[0], 1, 1000, c.pos, d)) is None:
            d.error(c.pos, f"{kind}_script_timeout '{args[0]}' must be in [1, 1000] - ignoring")
        else:
            f[k] = v
    elif k == "process_names":
        f["bfd_process_name"] = "keepalived_bfd"
    elif k == "bfd_process_name":
        if args:
            name = args[0]
            if len(name) > 15:
                d.error(c.pos, f"Process name {name} more than 15 characters, truncating")
                name = name[:15]
            f[k] = name
    elif k == "vrrp_rx_bufs_policy":
        _rx_bufs_policy(c, f, d)
    elif k == "vrrp_rx_bufs_multiplier":
        if len(args) != 1:
            d.error(c.pos, "Invalid vrrp_rx_bufs_multiplier")
        elif (v := read_int(args[0], 1, 2**32 - 1, c.pos, d)) is None:
            d.error(c.pos, f"Invalid vrrp_rx_bufs_multiplier {args[0]}")
        else:
            f[k] = v
    elif k in ("nftables", "vrrp_iptables", "vrrp_ipsets"):
        if k != "nftables":                   # keepalived: "iptables not supported, using nftables"
            f.setdefault("nftables", DEFAULT_NFTABLES_TABLE)
        elif f.get("nftables") is not None:
            d.error(c.pos, "nftables already specified - ignoring")
        elif args and len(args[0]) >= 256:    # NFT_TABLE_MAXNAMELEN
            d.error(c.pos, "nftables table name too long - ignoring")
        else:
            f["nftables"] = args[0] if args else DEFAULT_NFTABLES_TABLE
            f["nftables_priority"] = -1       # keepalived resets it here (set it after)
    elif k == "nftables_priority":
        v = read_int(args[0], -2**31, 2**31 - 1, c.pos, d) if args else None
        if v is None:
            d.error(c.pos, f"invalid nftables chain priority '{args[0] if args else ''}'")
        else:
            f[k] = v
    elif k in ("nftables_counters", "nftables_ifindex", "reload_repeat"):
        f[k] = True
    elif k in ("vmac_prefix", "vmac_addr_prefix"):
        if f.get(k) is not None:
            what = "vmac" if k == "vmac_prefix" else "vmac_addr"
            d.error(c.pos, f"{what} prefix has already been specified - ignoring"
                           f" {args[0] if args else ''}")
        elif args:
            f[k] = args[0]
    elif k == "random_seed":
        v = read_int(args[0], 0, 2**32 - 1, c.pos, d) if args else None
        if v is None:
            d.error(c.pos, f"random_seed {args[0] if args else ''} invalid")
        else:
            f[k] = v
    elif k == "tmp_config_directory":
        if f.get(k) is not None:
            d.error(c.pos, f"{k} already specified - ignoring")
        elif args:
            f[k] = args[0]
        else:                           # global_parser.c tmp_config_directory_handler
            d.error(c.pos, f"{k} missing directory name")
    elif k == "config_save_dir":
        _config_save_dir(c, f, d)
    elif k == "checker_log_all_failures":
        on = read_bool_or_none(c, d, "Invalid value for checker_log_all_failures specified")
        if on is not None:
            f[k] = on
    elif k == "reload_time_file":
        if len(args) != 1:
            d.error(c.pos, "reload_time_file invalid")
        else:
            f[k] = args[0]
    elif k == "reload_file":
        f[k] = args[0] if args else ""
    elif k == "reload_check_config":
        f[k] = args[0] if args else "/dev/null"


def _rx_bufs_policy(c: Node, f: dict[str, Any], d: Diagnostics) -> None:
    if not c.args:
        d.error(c.pos, "vrrp_rx_bufs_policy missing")
        return
    mtu = advert = False
    size = f.get("vrrp_rx_bufs_size")
    for w in c.args:
        if w.upper() == "MTU":
            mtu = True
        elif w.upper() == "ADVERT":
            advert = True
        elif (v := read_int(c.args[0], 0, 2**32 - 1, c.pos, Diagnostics())) is None:
            d.error(c.pos, f"Invalid vrrp_rx_bufs_policy {w}")
        else:
            size = v                          # keepalived reads the first word (as it does)
    policy = f.get("vrrp_rx_bufs_policy")
    mtu = mtu or policy == "MTU"
    advert = advert or policy == "ADVERT"
    if size is not None and (mtu or advert):
        d.error(c.pos, "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy")
        mtu = advert = False
    elif mtu and advert:
        d.error(c.pos, "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT")
        advert = False
    f["vrrp_rx_bufs_size"] = size
    f["vrrp_rx_bufs_policy"] = "MTU" if mtu else "ADVERT" if advert else None


def _config_save_dir(c: Node, f: dict[str, Any], d: Diagnostics) -> None:
    """keepalived's parent checks the directory and creates it (mode 0700) when missing; the
    build only checks (core/startstop.py creates it when the daemon saves a copy)."""
    if not c.args:
        return
    name = c.args[0]
    if os.path.lexists(name) and not os.path.isdir(name):
        d.error(c.pos, f"config_save_dir {name} exists and is not a directory")
        return
    if not os.path.isdir(name) and not os.path.isdir(os.path.dirname(os.path.abspath(name))):
        d.error(c.pos, f"Unable to create config_save_dir {name} (error 2 - No such file or"
                       " directory)")
        return
    f["config_save_dir"] = name.rstrip("/") or "/"


def parse_root(c: Node, f: dict[str, Any], d: Diagnostics) -> None:
    """The root keywords child_wait_time and use_pid_dir."""
    if c.keyword == "use_pid_dir":
        f["use_pid_dir"] = True
    elif c.keyword == "child_wait_time":
        v = read_int(c.args[0], 0, 2**32 - 1, c.pos, Diagnostics()) if c.args else None
        if v is None:
            d.error(c.pos, f"Invalid child_wait_time {c.args[0] if c.args else ''}")
        else:
            f["child_wait_time"] = v


def model(f: dict[str, Any]) -> ProcessDefs:
    return ProcessDefs(**{k: v for k, v in f.items() if k in ProcessDefs.__dataclass_fields__})
