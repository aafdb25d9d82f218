"""How a tracked object's state moves an instance's priority (keepalived's rules). Pure.

For interfaces, scripts, processes and BFD (up/down objects), with `weight` from the tracking
reference (or the object's own) and `reverse` as a multiplier of -1:
  * weight 0: the instance is in FAULT while the object is down (reverse: while it is up);
  * weight > 0: weight * multiplier is added while the object is up;
  * weight < 0: weight * multiplier is added while the object is down.
For track_file the value read is multiplied by weight and multiplier; -254 or less means
FAULT, anything above 253 counts as 253; weight 0 means a non-zero value is a failure
(reverse: a zero value). The instance's effective priority is then clamped (priority.py).
"""
from __future__ import annotations

from keepalived_py.record import Record


FAULT_STATUS = -254


class Contribution(Record, kw_only=False):
    fault: bool = False
    delta: int = 0


NEUTRAL = Contribution()


def binary_contribution(up: bool, weight: int, reverse: bool) -> Contribution:
    mult = -1 if reverse else 1
    if weight == 0:
        return Contribution(fault=up != (mult == 1))
    if up and weight > 0:
        return Contribution(delta=weight * mult)
    if not up and weight < 0:
        return Contribution(delta=weight * mult)
    return NEUTRAL


def file_status(value: int, weight: int, reverse: bool) -> int:
    """keepalived's status for a track_file value, clamped to -254..253."""
    mult = -1 if reverse else 1
    if weight == 0:
        status = FAULT_STATUS if (value != 0) == (mult == 1) else 0
    else:
        status = value * weight * mult
    return max(FAULT_STATUS, min(253, status))


def file_contribution(value: int, weight: int, reverse: bool) -> Contribution:
    status = file_status(value, weight, reverse)
    return Contribution(fault=True) if status <= FAULT_STATUS else Contribution(delta=status)
