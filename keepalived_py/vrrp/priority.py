"""Effective VRRP priority: the configured priority plus tracking weights. Pure.

keepalived (vrrp_track.c, vrrp_set_effective_priority): the address owner (255) never
changes; any other instance runs at base + the sum of the weights of its tracked objects,
clamped to 1..254. The per-object contributions (weights, reverse, track_file values) are
track/weights.py's; this module only sums and clamps.
"""
from __future__ import annotations

from collections.abc import Iterable

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

