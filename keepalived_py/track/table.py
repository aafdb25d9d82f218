"""Which tracked object moves which VRRP instance, and by how much. Pure.

Theory of operation. Built once per configuration: every `track_interface`, `track_script`,
`track_process`, `track_file` and `track_bfd` reference of an instance (and of its sync group, whose
tracking applies to all members) becomes an edge (kind, object) -> (instance, weight,
reverse) as keepalived resolves it (track/edges.py: one edge per object and instance, the
weight taken from the reference or else from the tracked object's own definition, interfaces
defaulting to 0, i.e. FAULT on failure). `update(kind, name, value)`
records a new state (bool for interfaces/scripts/processes, int for files) and returns the
instances whose (fault, delta) changed. Objects not reported yet count as keepalived counts
an INIT script: they neither add weight nor cause FAULT, except a weight-0 script that has
not run yet, which keeps its instances from leaving INIT (reported as fault here).
"""
from __future__ import annotations

from collections import defaultdict

from keepalived_py.config.model import Config
from keepalived_py.record import Record
from keepalived_py.track.edges import KINDS, Edge, tracking_edges
from keepalived_py.track.weights import (
    NEUTRAL,
    Contribution,
    binary_contribution,
    file_contribution,
)

__all__ = ["KINDS", "Edge", "InstanceTracking", "TrackingTable"]


class InstanceTracking(Record, kw_only=False):
    fault: bool
    delta: int
    reasons: tuple[str, ...] = ()        # "script chk_http", "interface eth1" causing FAULT
    # the fault is only weight-0 scripts that have not run yet (keepalived's num_script_init:
    # a silent FAULT, neither logged nor notified)
    pending: bool = False


class TrackingTable:
    def __init__(self, config: Config, reloading: bool = False) -> None:
        """`reloading`: built by a reload; a script new in it counts as keepalived's
        SCRIPT_INIT_STATE_INIT_RELOAD - it holds nobody back until its first result."""
        self.reloading = reloading
        self.edges: dict[tuple[str, str], list[Edge]] = defaultdict(list, tracking_edges(config))
        self.values: dict[tuple[str, str], bool | int] = {}
        self.instances = [i.name for i in config.vrrp_instances]
        self._cache: dict[str, InstanceTracking] = {}
        # keepalived's VRRP process starts with every tracked BFD session down (bfd_up false)
        # until the BFD process reports it Up
        for name in self.watched("bfd"):
            self.values[("bfd", name)] = False

    def watched(self, kind: str) -> set[str]:
        """Names of the objects of `kind` that some instance tracks."""
        return {name for (k, name) in self.edges if k == kind}

    def update(self, kind: str, name: str, value: bool | int) -> set[str]:
        """Record a tracked object's new state; returns the instances whose result changed."""
        key = (kind, name)
        if key in self.values and self.values[key] == value:
            return set()
        self.values[key] = value
        changed = set()
        for edge in self.edges.get(key, ()):
            before = self._cache.pop(edge.instance, None)
            if before != self.instance(edge.instance):
                changed.add(edge.instance)
        return changed

    def _contribution(self, kind: str, name: str, edge: Edge) -> Contribution:
        value = self.values.get((kind, name))
        if value is None:
            # not known yet: a weight-0 script holds the instance back, nothing else counts
            if kind == "script" and edge.weight == 0 and not self.reloading:
                return Contribution(fault=True)
            return NEUTRAL
        if kind == "file":
            return file_contribution(int(value), edge.weight, edge.reverse)
        return binary_contribution(bool(value), edge.weight, edge.reverse)

    def instance(self, name: str) -> InstanceTracking:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        fault, delta, reasons, pending = False, 0, [], True
        for (kind, obj), edges in self.edges.items():
            for edge in edges:
                if edge.instance != name:
                    continue
                c = self._contribution(kind, obj, edge)
                if c.fault:
                    fault = True
                    reasons.append(f"{kind} {obj}")
                    pending = pending and kind == "script" and (kind, obj) not in self.values
                delta += c.delta
        result = InstanceTracking(fault, delta, tuple(reasons), pending=fault and pending)
        self._cache[name] = result
        return result
