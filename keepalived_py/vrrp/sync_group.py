"""vrrp_sync_group: instances that change state together (keepalived's vrrp_sync.c). Pure.

Theory of operation. Every event of a member goes through `SyncGroup.handle(member, event,
now)`, which passes it to the member's `Instance` and then applies keepalived's rules to the
resulting transition:
  * A member whose Master_Down timer expires goes MASTER only if the group is already MASTER
    or every other member also wants MASTER (its own timer expired); otherwise it stays in
    BACKUP and waits another Master_Down_Interval (vrrp_sync_can_goto_master: "prefer backup
    state to avoid thrashing").
  * A member going MASTER takes the others to MASTER at once (vrrp_sync_master).
  * A MASTER member going BACKUP takes the others to BACKUP (vrrp_sync_backup).
  * A member's fault puts every member in FAULT (vrrp_sync_fault); they leave FAULT only when
    no member has a fault of its own left.
Each result is `(name, action)`: a member's name with its action, or the group's name with
a `GroupStateChanged` (the edge runs the group's notify scripts from it). The edge re-arms
the timer of every member named in the result.

The VRRP daemon drives each member's machine itself (it does not route events through
`SyncGroup.handle`); for it, `GroupVeto` and `follow` below carry the same rules (vrrp_sync.c,
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

from collections.abc import Callable, Mapping, Sequence

from keepalived_py.record import Record
from keepalived_py.vrrp.machine import (
    Action,
    AddressLost,
    Event,
    FaultChanged,
    Instance,
    State,
    StateChanged,
)


class GroupStateChanged(Record, kw_only=False):
    group: str
    old: State
    new: State
    reason: str


Result = list[tuple[str, "Action | GroupStateChanged"]]


class SyncGroup:
    """The members of one vrrp_sync_group, by instance name."""

    def __init__(self, name: str, members: Sequence[Instance]) -> None:
        self.name = name
        self.members = {m.p.name: m for m in members}
        self.state = State.INIT
        self.own_fault: dict[str, bool] = {n: m.fault for n, m in self.members.items()}
        self.fault_reason: dict[str, str] = {n: m.fault_reason for n, m in self.members.items()}
        for m in members:
            m.sync = self

    # the veto machine.Instance asks for
    def can_goto_master(self, inst: Instance) -> bool:
        if self.state is State.MASTER:
            return True
        return all(m.wantstate is State.MASTER for m in self.members.values() if m is not inst)

    def next_deadline(self) -> float | None:
        times = [d for m in self.members.values() if (d := m.next_deadline()) is not None]
        return min(times) if times else None

    def handle(self, member: str, event: Event, now: float) -> Result:
        """Apply `event` to `member` and carry the group along. Unknown members: []."""
        inst = self.members.get(member)
        if inst is None:
            return []
        if isinstance(event, FaultChanged):
            return self._fault(member, inst, event, now)
        if isinstance(event, AddressLost):
            # keepalived's set_vrrp_backup: every MASTER member releases and retries quickly
            out: Result = [(member, a) for a in inst.handle(event, now)]
            if out:
                for name, m in self.members.items():
                    if name != member and m.state is State.MASTER:
                        out += [(name, a) for a in m.handle(event, now)]
                self._set_state(State.BACKUP, f"{member} lost {event.address}", out)
            return out
        result: Result = [(member, a) for a in inst.handle(event, now)]
        self._follow(member, result, now)
        return result

    def _set_state(self, new: State, reason: str, out: Result) -> None:
        if new is not self.state:
            out.append((self.name, GroupStateChanged(self.name, self.state, new, reason)))
            self.state = new

    def _follow(self, member: str, out: Result, now: float) -> None:
        """After `member` changed state, bring the others along (keepalived's VRRP_TSM)."""
        changes = [a for n, a in out if n == member and isinstance(a, StateChanged)]
        if not changes:
            if self.state is State.INIT:
                self._settle(out)
            return
        last = changes[-1]
        if last.new is State.MASTER:
            if self.state is not State.MASTER and self.can_goto_master(self.members[member]):
                for name, m in self.members.items():
                    if name != member and m.state is not State.MASTER:
                        out += [(name, a) for a in m.force_master(
                            now, f"sync group {self.name} to MASTER")]
                self._set_state(State.MASTER, f"{member} became MASTER", out)
        elif last.new is State.BACKUP and last.old is State.MASTER:
            for name, m in self.members.items():
                if name != member and m.state is not State.BACKUP:
                    out += [(name, a) for a in m.force_backup(
                        now, f"sync group {self.name} to BACKUP")]
            self._set_state(State.BACKUP, f"{member} became BACKUP", out)
        else:
            self._settle(out)

    def _settle(self, out: Result) -> None:
        """The group state from its members once they have started."""
        states = {m.state for m in self.members.values()}
        if State.INIT in states:
            return
        if State.FAULT in states:
            self._set_state(State.FAULT, "member in FAULT", out)
        elif states == {State.MASTER}:
            self._set_state(State.MASTER, "all members MASTER", out)
        elif State.BACKUP in states and State.MASTER not in states:
            self._set_state(State.BACKUP, "all members BACKUP", out)

    def _fault(self, member: str, inst: Instance, event: FaultChanged, now: float) -> Result:
        self.own_fault[member] = event.fault
        self.fault_reason[member] = event.reason if event.fault else ""
        out: Result = []
        if event.fault:
            out += [(member, a) for a in inst.handle(event, now)]
            for name, m in self.members.items():
                if name != member and not m.fault:
                    out += [(name, a) for a in m.handle(
                        FaultChanged(True, f"sync group {self.name}: {member} {event.reason}"
                                     .rstrip()), now)]
            if any(m.state is not State.INIT for m in self.members.values()):
                self._set_state(State.FAULT, f"{member} fault", out)
            return out
        if any(self.own_fault.values()):
            # another member still has a fault of its own: this one stays down with the group
            if not inst.fault and inst.state is not State.INIT:
                out += [(member, a) for a in inst.handle(
                    FaultChanged(True, f"sync group {self.name}"), now)]
            else:
                inst.fault_reason = f"sync group {self.name}"
            return out
        for name, m in self.members.items():
            if m.fault:
                out += [(name, a) for a in m.handle(FaultChanged(False, event.reason), now)]
        # members leave FAULT as BACKUP, or MASTER (the owner): bring the group along
        masters = [n for n, m in self.members.items() if m.state is State.MASTER]
        if masters and self.can_goto_master(self.members[masters[0]]):
            self._follow(masters[0], out, now)
        else:
            for n in masters:
                out += [(n, a) for a in self.members[n].force_backup(
                    now, f"sync group {self.name} to BACKUP")]
            self._settle(out)
        return out


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
