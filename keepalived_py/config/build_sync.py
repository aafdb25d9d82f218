"""vrrp_sync_group blocks -> VrrpSyncGroup, and their members checked against the
instances once every block is read (keepalived 2.2.7's vrrp_parser.c and vrrp_sync.c).
Called by build.py's Builder, which holds the groups read (b.groups)."""
from __future__ import annotations

from typing import Any

from keepalived_py.config import keywords as kw
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.model import (
    Notify,
    VrrpSyncGroup,
)
from keepalived_py.config.model import evolve as replace  # dataclasses.replace, faster (issue 16)
from keepalived_py.config.tree import Node
from keepalived_py.config.values import (
    read_bool_or_none,
)


def sync_group(b: BuildState, node: Node) -> None:
    name = node.args[0] if node.args else ""
    if len(node.args) != 1:
        b.d.error(node.pos, "vrrp_sync_group must have a name - skipping")
        return
    if any(g.name == name for g in b.groups) or name in b._skipped_groups:
        b.d.error(node.pos, f"vrrp sync group {name} already defined")
        return
    b._skipped_groups.add(name)
    children = b.expect_block(node)
    if children is None or not name:
        return
    f: dict[str, Any] = {"name": name, "pos": node.pos, "group": ()}
    notify: dict[str, Any] = {}
    for c in children:
        k = c.keyword
        if k not in kw.VRRP_SYNC_GROUP:
            b.unknown(c)
        elif k == "group":
            if f["group"]:          # vrrp_group_handler: a list was read (not an empty one)
                b.d.error(c.pos, f"Group list already specified for sync group {name}")
                continue
            f["group"] = tuple(w for n in (b.expect_block(c) or ()) for w in n.words)
        elif k.startswith("track_"):
            f[k] = b.track_refs(c)
            if k == "track_interface" and b.check_interfaces:
                for r in f[k]:
                    if r.name not in b.interfaces():
                        b.d.error(r.pos, f"({name}) tracked interface {r.name} doesn't"
                                         " exist")
                        b.bad_interface = True
        elif k == "notify_priority_changes":
            f[k] = vk.notify_priority_changes(c, name, "sync group ", b.d)
        elif k.startswith("notify") and notify.get(k) is not None:
            b.d.error(c.pos, f"vrrp group {name}: {k} script already specified - ignoring"
                             f" {c.args[0] if c.args else ''}")
        elif k.startswith("notify"):
            notify[k] = b.notify_script(c)
        elif k == "sync_group_tracking_weight":
            f[k] = True
        elif k == "smtp_alert":
            yes = read_bool_or_none(c, b.d, "Invalid vrrp_group smtp_alert parameter"
                                  f" {c.args[0] if c.args else ''}")
            if yes is not None:     # keepalived keeps what it had
                notify["smtp_alert"] = yes
        elif k == "global_tracking":
            b.d.error(c.pos, f"({name}) global_tracking is deprecated. Use"
                             " track_interface/script/file on the sync group")
            f["sync_group_tracking_weight"] = True      # what keepalived makes of it
        else:
            b.later(c, "vrrp_sync_group")
    f["notify"] = Notify(**notify)
    b.groups.append(VrrpSyncGroup(**f))


def resolve_sync_groups(b: BuildState) -> tuple[list[VrrpSyncGroup], dict[str, str]]:
    """The groups with known members, and each member's group."""
    d = b.d
    member_of: dict[str, str] = {}
    groups: list[VrrpSyncGroup] = []
    inst_names = {i.name for i, _ in b.instances}
    for grp in b.groups:
        members = []
        for m in grp.group:
            if m not in inst_names:
                d.error(grp.pos, f"Unable to find vrrp instance {m}")
                continue
            if m in member_of:
                d.error(grp.pos, f"VRRP instance {m} cannot be in more than one sync group")
                continue
            member_of[m] = grp.name
            members.append(m)
        if not members:
            d.error(grp.pos, f"Sync group {grp.name} has no virtual router(s).")
            continue
        if len(members) == 1:
            d.warning(grp.pos, f"Sync group {grp.name} has only 1 virtual router(s) -"
                               " this probably isn't what you want")
        groups.append(replace(grp, group=tuple(members)))
    return groups, member_of
