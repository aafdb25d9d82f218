"""Effective VRRP priority and an instance's own FAULT: configuration, link, source address
and tracking weights in, priority and (fault, reason) out. Pure.

keepalived (vrrp_track.c, vrrp_set_effective_priority): the address owner (255) never
changes; any other instance runs at base + the sum of the weights of its tracked objects,
clamped to 1..254. The per-object contributions (weights, reverse, track_file values) are
track/weights.py's; this module only sums and clamps.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepalived_py.config.model import VrrpInstance
    from keepalived_py.track.table import InstanceTracking

OWNER = 255
MIN_PRIORITY, MAX_PRIORITY = 1, OWNER - 1


def clamp(total: int) -> int:
    """A non-owner's priority from its total: 1..254."""
    return MIN_PRIORITY if total < MIN_PRIORITY else MAX_PRIORITY if total > MAX_PRIORITY \
        else total


def effective_priority(base: int, deltas: int | Iterable[int] = 0) -> int:
    """`base` (1..255) plus the tracking deltas (one int or several), as keepalived clamps it."""
    if base == OWNER:
        return OWNER
    total = base + (deltas if isinstance(deltas, int) else sum(deltas))
    return clamp(total)



def own_fault(inst: VrrpInstance, link_up: bool, has_source: bool,
              tracked: InstanceTracking | None) -> tuple[bool, str]:
    """Whether the instance is in FAULT on its own account (its sync group aside), and why:
    keepalived 2.2.7's unicast_fault_no_peer without peers, its interface down (unless
    dont_track_primary), no address of its family to send from, a tracked object's fault."""
    if inst.unicast_fault_no_peer and not inst.unicast_peer:
        return True, "no unicast peers"
    if inst.ipvlan_fault:                   # IPv4 use_ipvlan without an address (config/ipvlan.py)
        return True, "ipvlan without an address"
    if inst.interface and not link_up and not inst.dont_track_primary:
        return True, f"interface {inst.interface} down"
    if inst.interface and not has_source and not inst.unicast_src_ip:
        return True, f"no IPv{inst.family} address for interface"
    if tracked is not None and tracked.fault:
        return True, ", ".join(tracked.reasons)
    return False, ""
