"""A sync group's MASTER/BACKUP moves for a daemon that drives its members itself. Pure.

Theory of operation. The VRRP daemon hands each member's events to the member's own
`machine.Instance`; this module adds keepalived 2.2.7's group rules on top (vrrp_sync.c,
the VRRP_TSM table of vrrp_scheduler.c):
  * `GroupVeto` is the member machines' `sync` (machine.SyncVeto): a member whose
    Master_Down timer expires becomes MASTER only if the group is MASTER already or every
    other member wants MASTER too (vrrp_sync_can_goto_master: "prefer backup state to avoid
    thrashing"). Its `state` is the group's state, which the daemon sets when it announces
    the group (GROUP lines, group notify scripts).
  * `follow()` is called with a member's transition: a member that became MASTER takes the
    others to MASTER (vrrp_sync_master), a MASTER that went BACKUP takes the others to BACKUP
    (vrrp_sync_backup), and a member leaving FAULT does the one or the other from its new
    state (try_up_instance). It returns each other member's actions for the daemon to apply;
    their own transitions come back through `follow()` and change nothing more, since the
    group state has moved by then or they are already there.
FAULT spreading stays in the daemon's fault evaluation (a member's fault faults the group).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from keepalived_py.vrrp.machine import Action, Instance, State, StateChanged


class GroupVeto:
    """One sync group's say on its members' MASTER wishes; members are looked up live (a
    reload adds and removes them)."""

    def __init__(self, name: str, members: Callable[[], Mapping[str, Instance]]) -> None:
        self.name = name
        self._members = members
        self.state = State.INIT

    def members(self) -> Mapping[str, Instance]:
        return self._members()

    def can_goto_master(self, inst: Instance) -> bool:
        if self.state is State.MASTER:
            return True
        return all(m.wantstate is State.MASTER for m in self.members().values() if m is not inst)


def follow(group: GroupVeto, member: str, change: StateChanged, now: float
           ) -> list[tuple[str, list[Action]]]:
    """The other members' actions after `member`'s `change` (keepalived's VRRP_TSM)."""
    members = group.members()
    inst = members.get(member)
    if inst is None or change.new is change.old:
        return []
    out: list[tuple[str, list[Action]]] = []
    if change.new is State.MASTER:
        if group.state is State.MASTER or not group.can_goto_master(inst):
            return []
        group.state = State.MASTER                 # vrrp_sync_master sets it before notifying
        for name, m in members.items():
            if name != member and m.state is not State.MASTER:
                out.append((name, m.force_master(now, f"sync group {group.name} to MASTER")))
    elif change.new is State.BACKUP and change.old in (State.MASTER, State.FAULT):
        if group.state is State.BACKUP:
            return []
        group.state = State.BACKUP
        for name, m in members.items():
            if name != member and m.state is not State.BACKUP:
                out.append((name, m.force_backup(now, f"sync group {group.name} to BACKUP")))
    return [(n, a) for n, a in out if a]
