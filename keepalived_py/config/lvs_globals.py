"""global_defs keywords of the LVS side: lvs_sync_daemon, lvs_timeouts, lvs_flush_on_stop.

Values, ranges and messages are keepalived 2.2.7's (core/global_parser.c, vrrp/vrrp.c): each
bad option is reported with its file:line and skipped, the rest of the line still applies.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from keepalived_py.config.model import LvsSyncDaemon, VrrpInstance
from keepalived_py.config.tree import Diagnostics, SourcePos

LVS_MAX_TIMEOUT = 86400 * 31                   # keepalived's LVS_MAX_TIMEOUT
IP_VS_IFNAME_MAXLEN = 16


def _unsigned(word: str, lo: int, hi: int) -> int | None:
    if not word.isdigit():
        return None
    v = int(word)
    return v if lo <= v <= hi else None


def lvs_timeouts(args: Sequence[str], pos: SourcePos, d: Diagnostics,
                 have: tuple[int, int, int]) -> tuple[int, int, int]:
    """`lvs_timeouts [tcp N] [tcpfin N] [udp N]`; each value 0..LVS_MAX_TIMEOUT seconds."""
    if len(args) < 2:
        d.error(pos, "lvs_timeouts requires at least one option")
        return have
    out = list(have)
    slots = {"tcp": 0, "tcpfin": 1, "udp": 2}
    i = 0
    while i < len(args):
        opt = args[i]
        if opt in slots:
            if i == len(args) - 1:
                d.error(pos, f"No value specified for lvs_timeout {opt} - ignoring")
                i += 1
                continue
            v = _unsigned(args[i + 1], 0, LVS_MAX_TIMEOUT)
            if v is None:
                d.error(pos, f"Invalid lvs_timeout {opt} ({args[i + 1]}) - ignoring")
            else:
                out[slots[opt]] = v
            i += 2
            continue
        d.error(pos, f"Unknown option {opt} specified for lvs_timeouts")
        i += 1
    return (out[0], out[1], out[2])


def lvs_sync_daemon(args: Sequence[str], pos: SourcePos, d: Diagnostics,
                    have: LvsSyncDaemon | None) -> LvsSyncDaemon | None:
    """`lvs_sync_daemon IF [inst NAME] [id N] [maxlen N] [port N] [ttl N] [group ADDR]`, and
    the old positional form `IF NAME [SYNCID]`."""
    if have is not None:
        d.error(pos, f"lvs_sync_daemon has already been specified as {have.interface}"
                     f" {have.instance or ''} - ignoring")
        return have
    if not args:
        d.error(pos, "lvs_sync_daemon requires interface")
        return None
    if len(args[0]) >= IP_VS_IFNAME_MAXLEN:
        d.error(pos, f"lvs_sync_daemon interface name '{args[0]}' too long - ignoring")
        return None
    f: dict[str, object] = {"interface": args[0]}
    limits = {"maxlen": (1, 65535 - 20 - 8), "port": (1, 65535), "ttl": (1, 255)}
    i = 1
    while i < len(args):
        opt = args[i]
        last = i == len(args) - 1
        if opt == "inst":
            if "instance" in f:
                d.error(pos, "lvs_sync_daemon vrrp instance has already been specified as"
                             f" {f['instance']} - ignoring")
            elif not last:
                f["instance"] = args[i + 1]
            i += 2
            continue
        if opt == "id":
            if last:
                d.error(pos, "No value specified for lvs_sync_daemon id, defaulting to vrid")
                i += 1
                continue
            v = _unsigned(args[i + 1], 0, 255)
            if v is None:
                d.error(pos, f"Invalid syncid ({args[i + 1]}) - defaulting to vrid")
            else:
                f["syncid"] = v
            i += 2
            continue
        if opt in limits:
            if last:
                d.error(pos, f"No value specified for lvs_sync_daemon {opt} - ignoring")
                i += 1
                continue
            v = _unsigned(args[i + 1], *limits[opt])
            if v is None:
                d.error(pos, f"Invalid lvs_sync_daemon {opt} ({args[i + 1]}) - ignoring")
            else:
                f[opt] = v
            i += 2
            continue
        if opt == "group":
            if last:
                d.error(pos, "No value specified for lvs_sync_daemon group - ignoring")
                i += 1
                continue
            try:
                a = ipaddress.ip_address(args[i + 1])
            except ValueError:
                d.error(pos, f"Invalid lvs_sync_daemon group ({args[i + 1]}) - ignoring")
            else:
                if a.is_multicast:
                    f["group"] = a
                else:
                    d.error(pos, f"lvs_sync_daemon group address {args[i + 1]} is not"
                                 " multicast - ignoring")
            i += 2
            continue
        if i == 1:                            # the old form: IF VRRP_INSTANCE [SYNC_ID]
            f["instance"] = opt
            i += 1
            continue
        if i == 2:
            v = _unsigned(opt, 0, 255)
            if v is None:
                d.error(pos, f"Invalid syncid ({opt}) - defaulting to vrid")
            else:
                d.error(pos, 'Please use keyword "id" before lvs_sync_daemon SYNCID')
                f["syncid"] = v
            i += 1
            continue
        d.error(pos, f"Unknown option {opt} specified for lvs_sync_daemon")
        i += 1
    return LvsSyncDaemon(pos=pos, **f)  # type: ignore[arg-type]


def lvs_flush_on_stop(args: Sequence[str], pos: SourcePos, d: Diagnostics,
                      have: str | None) -> str | None:
    """`lvs_flush_on_stop` alone: flush all of IPVS ("ALL"); `lvs_flush_on_stop VS`: remove
    each virtual server whole ("VS"); anything else is an error (keepalived 2.2.7)."""
    if not args:
        return "ALL"
    if args[0] == "VS":
        return "VS"
    d.error(pos, f"Unknown lvs_flush_on_stop type {args[0]}")
    return have


def resolve_sync_instance(sync: LvsSyncDaemon | None, instances: Sequence[VrrpInstance],
                          d: Diagnostics) -> LvsSyncDaemon | None:
    """`inst NAME` must name a vrrp_instance (keepalived clears the sync daemon otherwise);
    the syncid defaults to its virtual_router_id, or 0 without an instance."""
    if sync is None:
        return None
    if sync.instance is None:
        return sync if sync.syncid is not None else _with(sync, syncid=0)
    inst = next((i for i in instances if i.name == sync.instance), None)
    if inst is None:
        d.error(sync.pos, f"Unable to find vrrp instance {sync.instance} for lvs_syncd -"
                          " clearing lvs_syncd config")
        return None
    return sync if sync.syncid is not None else _with(sync, syncid=inst.virtual_router_id)


def _with(sync: LvsSyncDaemon, **kw: object) -> LvsSyncDaemon:
    from keepalived_py.record import evolve as replace
    return replace(sync, **kw)  # type: ignore[arg-type]


def instance_sync_daemon(b: Any, c: Any, i: Any) -> None:
    """vrrp_instance `lvs_sync_daemon_interface IF` (deprecated since 1.2.19, still acted on by
    keepalived 2.2.7): the sync daemon on IF following this instance, unless one is set."""
    b.d.error(c.pos, f"{i.vid} Specifying lvs_sync_daemon_interface against a vrrp is"
                     " deprecated.")
    b.d.error(c.pos, "      " + " " * max(0, len(i.name) - 2) + "Please use global"
                     " lvs_sync_daemon")
    have = b.global_fields.get("lvs_sync_daemon")
    if have is not None:
        b.d.error(c.pos, f"{i.vid} lvs_sync_daemon_interface has already been specified as"
                         f" {have.interface} - ignoring")
    elif c.args:
        b.global_fields["lvs_sync_daemon"] = LvsSyncDaemon(interface=c.args[0],
                                                           instance=i.name, pos=c.pos)
