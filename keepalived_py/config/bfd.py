"""bfd_instance blocks: the frozen model and its builder, with keepalived 2.2.7's defaults and
messages (keepalived/bfd/bfd_parser.c, bfd_data.c, include/bfd.h).

Intervals are in milliseconds as the keywords give them (up to 3 decimals, keepalived's
read_decimal_unsigned_strvec); `min_rx_us` etc. are the microseconds keepalived stores and
RFC 5880 §4.1 puts on the wire. `ttl` is the TTL (IPv4) or hop limit (IPv6) we send with: 255 / 64 by default
(RFC 5881 §5 for IPv4; keepalived's BFD_CONTROL_HOPLIMIT for IPv6). `max_hops` is keepalived's
generalised GTSM: a packet is accepted when its received TTL + max_hops >= ttl (0: single hop,
-1 in the file, stored as 255: no TTL check at all).
`vrrp` / `checker`: which child gets this session's events (both unless the block names one).
`weight` / `weight_reverse`: the default weight of `track_bfd` references to this instance.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from keepalived_py.address import IPAddress
from keepalived_py.config.record import Record
from keepalived_py.config.tree import Diagnostics, Node, SourcePos
from keepalived_py.record import evolve as replace
from keepalived_py.record import field

_NOPOS = SourcePos("<default>", 0)

MINRX_DEFAULT = 10.0            # ms (BFD_MINRX_DEFAULT)
MINTX_DEFAULT = 10.0
IDLETX_DEFAULT = 1000.0         # RFC 5880 §6.8.3: not less than 1 s while not Up
MULTIPLIER_DEFAULT = 5
TTL_IPV4 = 255                  # RFC 5881 §5
HOPLIMIT_IPV6 = 64              # keepalived's BFD_CONTROL_HOPLIMIT
NAME_MAX = 31                   # BFD_INAME_MAX - 1
_MS_MAX = 0xFFFFFFFF // 1000    # 4294967 ms: the largest value whose us fit in 32 bits
_SENSIBLE = 10_000              # ms; above it keepalived only says so
NO_TTL_CHECK = 255              # max_hops -1 (keepalived stores it in a uint8_t)

KEYWORDS = frozenset({
    "neighbor_ip", "neighbour_ip", "source_ip", "min_rx", "min_tx", "idle_tx", "multiplier",
    "passive", "ttl", "hoplimit", "max_hops", "vrrp", "checker", "weight",
})


class BfdInstance(Record):
    """One bfd_instance block."""
    name: str
    neighbor_ip: IPAddress
    source_ip: IPAddress | None = None
    min_rx: float = MINRX_DEFAULT         # ms
    min_tx: float = MINTX_DEFAULT         # ms
    idle_tx: float = IDLETX_DEFAULT       # ms
    multiplier: int = MULTIPLIER_DEFAULT
    passive: bool = False
    ttl: int = TTL_IPV4
    max_hops: int = 0
    vrrp: bool = True
    checker: bool = True
    weight: int = 0
    weight_reverse: bool = False
    pos: SourcePos = field(default=_NOPOS, compare=False, repr=False)

    @property
    def min_rx_us(self) -> int:
        return round(self.min_rx * 1000)

    @property
    def min_tx_us(self) -> int:
        return round(self.min_tx * 1000)

    @property
    def idle_tx_us(self) -> int:
        return round(self.idle_tx * 1000)


_DEC3 = re.compile(r"[0-9]+(\.[0-9]{0,3})?$")
_INT = re.compile(r"[+-]?[0-9]+$")


def _ms(word: str, lo: int, pos: SourcePos, d: Diagnostics) -> float | None:
    """keepalived's read_decimal_unsigned_strvec(..., 3): milliseconds, to the microsecond."""
    if not _DEC3.match(word):
        d.error(pos, f"invalid number '{word}'")
        return None
    whole, _, frac = word.partition(".")
    us = int(whole) * 1000 + int((frac + "000")[:3])
    if us < lo * 1000 or us > _MS_MAX * 1000:
        d.error(pos, f"number '{word}' outside range [{lo}.000, {_MS_MAX}.000]")
        return None
    return us / 1000


def _int(word: str, lo: int, hi: int, pos: SourcePos, d: Diagnostics) -> int | None:
    if not _INT.match(word):
        d.error(pos, f"invalid number '{word}'")
        return None
    value = int(word)
    if value < lo or value > hi:
        d.error(pos, f"number '{word}' outside range [{lo}, {hi}]")
        return None
    return value


def _address(word: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(word)
    except ValueError:
        return None


def build_instance(node: Node, d: Diagnostics, unknown: Callable[[Node], None],
                   existing: list[BfdInstance]) -> BfdInstance | None:
    """One `bfd_instance NAME { ... }` block; None (after reporting) when keepalived drops it."""
    name = node.args[0] if node.args else ""
    if len(name) > NAME_MAX:
        d.error(node.pos, f"Configuration error: BFD instance {name} name too long (maximum"
                          f" length is {NAME_MAX} characters) - ignoring")
        return None
    if any(b.name == name for b in existing):
        d.error(node.pos, f"Configuration error: BFD instance {name} already configured - ignoring")
        return None
    f: dict[str, object] = {}
    nbr_word = "neighbor"
    ttl_given: int | None = None
    max_hops = 0
    only: set[str] = set()
    for c in node.children or ():
        k, args = c.keyword, c.args
        if k not in KEYWORDS:
            unknown(c)
            continue
        if k in ("passive", "vrrp", "checker"):
            if k == "passive":
                f["passive"] = True
            else:
                only.add(k)
            continue
        if not args:
            d.error(c.pos, f"Missing parameter for keyword '{k}'")
            continue
        w = args[0]
        if k in ("neighbor_ip", "neighbour_ip"):
            if k == "neighbour_ip":
                nbr_word = "neighbour"
            if (a := _address(w)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} has malformed"
                               f" {nbr_word} address {w}, ignoring instance")
                return None
            f["neighbor_ip"] = a
        elif k == "source_ip":
            if (a := _address(w)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} has malformed source"
                               f" address {w}, ignoring")
            else:
                f["source_ip"] = a
        elif k in ("min_rx", "min_tx", "idle_tx"):
            lo = 1000 if k == "idle_tx" else 1
            if (ms := _ms(w, lo, c.pos, d)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} {k} value {w} is not"
                               f" valid (must be in range [{lo}-{_MS_MAX}]), ignoring")
                continue
            f[k] = ms
            if ms > _SENSIBLE:
                d.notice(c.pos, f"Configuration warning: BFD instance {name} {k} value {w} is"
                                f" larger than max sensible ({_SENSIBLE})")
        elif k == "multiplier":
            if (v := _int(w, 1, 255, c.pos, d)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} multiplier value {w}"
                               " not valid (must be in range [1-255]), ignoring")
            else:
                f["multiplier"] = v
        elif k in ("ttl", "hoplimit"):
            if (v := _int(w, 1, 255, c.pos, d)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} ttl/hoplimit value {w}"
                               " not valid (must be in range [1-255]), ignoring")
            else:
                ttl_given = v
        elif k == "max_hops":
            if (v := _int(w, -1, 255, c.pos, d)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} max_hops value {w}"
                               " not valid (must be in range [-1-255]), ignoring")
            else:
                max_hops = NO_TTL_CHECK if v == -1 else v
        elif k == "weight":
            # read by keepalived's VRRP process: the default weight of track_bfd references
            if (v := _int(w, -253, 253, c.pos, d)) is None:
                d.error(c.pos, f"Configuration error: BFD instance {name} weight value {w} not"
                               " valid (must be in range [-253-253]), ignoring")
            else:
                f["weight"] = v
            if len(args) >= 2:
                if args[1] == "reverse":
                    f["weight_reverse"] = True
                else:
                    d.error(c.pos, f"Configuration error: BFD instance {name} unknown weight"
                                   f" option {args[1]}")
    # keepalived's bfd_end_handler reports at the closing brace; our tree keeps the block's line
    nbr = f.get("neighbor_ip")
    if not isinstance(nbr, ipaddress.IPv4Address | ipaddress.IPv6Address):
        d.error(node.pos, f"Configuration error: BFD instance {name} has no {nbr_word} address"
                          " set, disabling instance")
        return None
    src = f.get("source_ip")
    if isinstance(src, ipaddress.IPv4Address | ipaddress.IPv6Address) and \
            src.version != nbr.version:
        # (keepalived 2.2.7 prints the source address in both places: a static buffer reused)
        d.error(node.pos, f"Configuration error: BFD instance {name} source address {src} and"
                          f" {nbr_word} address {nbr} are not of the same family, disabling"
                          " instance")
        return None
    for other in existing:
        if other.neighbor_ip != nbr:
            continue
        if other.source_ip is None or src is None or other.source_ip == src:
            if src is not None:
                d.error(node.pos, f"Configuration error: BFD instance {name} has duplicate"
                                  f" source/{nbr_word} address {src}/{nbr}, ignoring instance")
            else:
                d.error(node.pos, f"Configuration error: BFD instance {name} has duplicate"
                                  f" {nbr_word} address {nbr}, ignoring instance")
            return None
    ttl = ttl_given if ttl_given is not None else (TTL_IPV4 if nbr.version == 4 else HOPLIMIT_IPV6)
    if max_hops > ttl:
        d.error(node.pos, f"BFD instance {name}: max_hops exceeds ttl/hoplimit - setting to"
                          " ttl/hoplimit")
        max_hops = ttl
    if only:
        f["vrrp"] = "vrrp" in only
        f["checker"] = "checker" in only
    return BfdInstance(name=name, ttl=ttl, max_hops=max_hops, pos=node.pos,
                       **f)  # type: ignore[arg-type]


def resolve_track_refs(owner: str, refs: tuple[object, ...], bfds: tuple[BfdInstance, ...],
                       d: Diagnostics) -> tuple[object, ...]:
    """keepalived's alloc_track_bfd: drop references to unknown instances and duplicates;
    a reference without its own weight takes the instance's (`weight` in bfd_instance)."""
    by_name = {b.name: b for b in bfds if b.vrrp}
    kept: list[object] = []
    seen: set[str] = set()
    for ref in refs:
        name: str = ref.name  # type: ignore[attr-defined]
        pos: SourcePos | None = ref.pos  # type: ignore[attr-defined]
        bfd = by_name.get(name)
        if bfd is None:
            d.error(pos, f"({owner}) track bfd {name} not found, ignoring...")
            continue
        if name in seen:
            d.error(pos, f"({owner}) duplicate track_bfd {name} - ignoring")
            continue
        seen.add(name)
        if ref.weight is None:  # type: ignore[attr-defined]
            ref = replace(ref, weight=bfd.weight,  # type: ignore[type-var]
                          reverse=bfd.weight_reverse or ref.reverse)  # type: ignore[attr-defined]
        kept.append(ref)
    return tuple(kept)


def resolve_bfd_checks(servers: list[Any], bfds: tuple[BfdInstance, ...], d: Diagnostics
                       ) -> list[Any]:
    """keepalived's BFD_CHECK parser (check_bfd.c): a checker needs exactly one `name` naming
    a bfd_instance whose events go to the checker process; otherwise it is skipped."""
    names = {b.name for b in bfds if b.checker}
    out = []
    for vs in servers:
        reals = []
        for rs in vs.real_servers:
            checkers, followed = [], set()
            for ch in rs.checkers:
                if ch.kind != "BFD_CHECK":
                    checkers.append(ch)
                    continue
                where = f"[{rs.address}]:{(vs.protocol or 'TCP').lower()}:{rs.port or vs.port or 0}"
                given = [v for k, v in ch.options if k == "name"]
                name = given[-1] if given else None
                if name is None or not name or len(name.split()) != 1:
                    d.error(ch.pos, f"({where}) No name has been specified for BFD_CHECKER -"
                                    " skipping")
                elif name not in names:
                    d.error(ch.pos, f"({where}) BFD_CHECK - BFD {name} not configured")
                elif name in followed:
                    d.error(ch.pos, f"({where}) BFD_CHECK - RS already monitoring {name}")
                else:
                    followed.add(name)
                    checkers.append(ch)
            reals.append(replace(rs, checkers=tuple(checkers))
                         if len(checkers) != len(rs.checkers) else rs)
        out.append(replace(vs, real_servers=tuple(reals)))
    return out
