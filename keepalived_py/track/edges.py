"""Which instances each tracked object moves, and by how much, as keepalived 2.2.7 lists them. Pure.

Theory of operation. keepalived keeps one list per tracked object (interface, script, process,
file) of the instances it moves, with a weight and a direction each. It fills them in two
passes: every instance's own references first (vrrp_complete_instance), then every sync
group's references for each member (sync_group_tracking_init). An object an instance already
tracks stays listed once for it: the sync group's weight replaces the instance's unless the
instance's is 0 ("unweighted" wins) - and for a process 2.2.7 copies the weight only, not
`reverse`. A sync group tracking a member's own interface changes nothing (that entry has
weight 0) unless the member has dont_track_primary.

The weight of a reference is its own `weight`, else the tracked object's (interfaces: 0).
The lists are the tracking table's edges (track/table.py) and the `Tracking instances` lists
of keepalived.data (obs/vrrp_data.py).
"""
from __future__ import annotations


from keepalived_py.config.model import Config, TrackRef
from keepalived_py.record import Record

KINDS = ("interface", "script", "process", "file", "bfd")


class Edge(Record, kw_only=False):
    instance: str
    weight: int
    reverse: bool


def tracking_edges(config: Config) -> dict[tuple[str, str], list[Edge]]:
    """(kind, object name) -> its edges, in keepalived's order."""
    own_weight: dict[str, dict[str, tuple[int, bool]]] = {
        "script": {s.name: (s.weight, s.weight_reverse) for s in config.vrrp_scripts},
        "process": {p.name: (p.weight, p.weight_reverse) for p in config.vrrp_track_processes},
        "file": {f.name: (f.weight, f.weight_reverse) for f in config.vrrp_track_files},
        "interface": {},
        # track_bfd references carry the bfd_instance's weight already (config/bfd.py)
        "bfd": {},
    }
    edges: dict[tuple[str, str], list[Edge]] = {}

    def add(kind: str, ref: TrackRef, instance: str, from_group: bool) -> None:
        weight, reverse = own_weight[kind].get(ref.name, (0, False))
        if ref.weight is not None:
            weight, reverse = ref.weight, ref.reverse
        elif ref.reverse:
            reverse = True
        listed = edges.setdefault((kind, ref.name), [])
        for i, e in enumerate(listed):
            if e.instance == instance:
                if from_group and e.weight:
                    listed[i] = Edge(instance, weight, e.reverse if kind == "process" else reverse)
                return
        listed.append(Edge(instance, weight, reverse))

    for inst in config.vrrp_instances:
        for kind, refs in _refs(inst):
            for ref in refs:
                add(kind, ref, inst.name, False)
    members = {i.name: i for i in config.vrrp_instances}
    for group in config.vrrp_sync_groups:
        for kind, refs in _refs(group):
            for ref in refs:
                for name in group.group:
                    member = members.get(name)
                    if member is None:
                        continue
                    if kind == "interface" and ref.name == member.interface \
                            and not member.dont_track_primary:
                        continue
                    add(kind, ref, name, True)
    return edges


def _refs(src: object) -> tuple[tuple[str, tuple[TrackRef, ...]], ...]:
    return (("interface", getattr(src, "track_interface", ())),
            ("script", getattr(src, "track_script", ())),
            ("process", getattr(src, "track_process", ())),
            ("file", getattr(src, "track_file", ())),
            ("bfd", getattr(src, "track_bfd", ())))
