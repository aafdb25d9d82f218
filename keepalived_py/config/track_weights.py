"""Tracking weights keepalived 2.2.7 refuses: sync-group members and address owners. Pure.

keepalived (vrrp.c vrrp_complete_instance) does not let a member of a sync group without
`sync_group_tracking_weight`, nor an address owner (priority 255), float its priority on its
own trackers, but it does so unevenly, and the binary is the reference:
  * track_interface with a weight: a sync member's entry is shown with weight 0 in the
    instance's list, an owner's is dropped from that list - but both were already registered on
    the interface with their weight, which keeps applying (see obs/vrrp_data.py for the lists).
    So the model keeps the reference and its weight; only the messages are given here.
  * track_script with a weight: dropped.
  * track_file whose weight is 1 (the default, or given): tracked with weight 0 (a non-zero
    file then means FAULT); any other weight: dropped.
  * track_process: left alone (2.2.7 has no such loop).
A sync group with an address owner among its members clears the weight of every tracker of
the group (sync_group_tracking_init).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from keepalived_py.config.model import TrackRef, VrrpInstance, VrrpSyncGroup
from keepalived_py.config.tree import SourcePos
from keepalived_py.record import evolve as replace

OWNER = 255
Report = Callable[[SourcePos | None, str], None]


def _weight(ref: TrackRef, own: Mapping[str, int]) -> int:
    return ref.weight if ref.weight is not None else own.get(ref.name, 0)


def member_weights(inst: VrrpInstance, priority: int, group: VrrpSyncGroup | None,
                   scripts: Mapping[str, int], files: Mapping[str, int],
                   report: Report) -> dict[str, tuple[TrackRef, ...]]:
    """The instance's track_script / track_file lists after keepalived's filtering (only the
    lists that change); `scripts` and `files` map names to their own weights. Messages go to
    `report`, worded as keepalived's."""
    sync = group is not None and not group.sync_group_tracking_weight
    if not sync and priority != OWNER:
        return {}
    vid = f"({inst.name})"
    cause = "SYNC group" if sync else "address_owner"
    for ref in inst.track_interface:
        if ref.weight and ref.name != inst.interface:
            report(ref.pos, f"{vid} ignoring {ref.name} tracked interface "
                            + ("weight due to SYNC group" if sync else "due to address owner"))
    kept_scripts = []
    for ref in inst.track_script:
        if _weight(ref, scripts):
            report(ref.pos, f"{vid} ignoring tracked script {ref.name} with weights due to {cause}")
        else:
            kept_scripts.append(ref)
    kept_files = []
    for ref in inst.track_file:
        w = _weight(ref, files)
        if w == 1:
            report(ref.pos, f"{vid} ignoring weight from tracked file {ref.name} due to {cause}."
                            " specify weight 0")
            kept_files.append(replace(ref, weight=0))
        elif w:
            report(ref.pos, f"{vid} ignoring tracked file {ref.name} with weight {w} due to"
                            f" {cause}")
        else:
            kept_files.append(ref)
    return {"track_script": tuple(kept_scripts), "track_file": tuple(kept_files)}


def group_weights(group: VrrpSyncGroup, has_owner: bool, scripts: Mapping[str, int],
                  files: Mapping[str, int], processes: Mapping[str, int],
                  report: Report) -> VrrpSyncGroup:
    """The sync group with every weight cleared when a member is the address owner."""
    if not has_owner:
        return group
    changes: dict[str, tuple[TrackRef, ...]] = {}
    for kind, what, own, verb in (("track_script", "script", scripts, "clearing weight"),
                                  ("track_file", "file", files, "setting weight 0"),
                                  ("track_process", "process", processes, "setting weight 0"),
                                  ("track_interface", "interface", {}, "clearing weight")):
        refs = []
        for ref in getattr(group, kind):
            if _weight(ref, own):
                report(ref.pos, f"({group.name}) Cannot have weighted track {what} '{ref.name}'"
                                f" with member having priority {OWNER} - {verb}")
                ref = replace(ref, weight=0)
            refs.append(ref)
        changes[kind] = tuple(refs)
    return replace(group, **changes)  # type: ignore[arg-type]
