"""Each vrrp_instance resolved against global_defs, its sync group and the trackers, once
every block is read (keepalived 2.2.7's vrrp_complete_instance). Called by build.py's
Builder._finish."""
from __future__ import annotations

from typing import Any

from keepalived_py.config import ipvlan
from keepalived_py.config import vrrp_keywords as vk
from keepalived_py.config.build_instance import UNICAST_KEYWORDS, VRRP_PRIO_OWNER
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.model import (
    GlobalDefs,
    VrrpInstance,
    VrrpState,
    VrrpSyncGroup,
)
from keepalived_py.config.model import evolve as replace  # dataclasses.replace, faster (issue 16)
from keepalived_py.config.strict import (
    complete_accept_vmac,
    complete_strict_adverts,
)
from keepalived_py.config.track_weights import member_weights
from keepalived_py.config.tree import SourcePos


class InstanceResolution:
    """One vrrp_instance's resolution against global_defs, sync groups and the trackers
    (keepalived's vrrp_complete_instance), as named steps over `f`, the fields that change.
    Steps read the configured value from `inst` and an earlier step's result from `f`."""

    def __init__(self, b: BuildState, g: GlobalDefs, inst: VrrpInstance,
                 seen: dict[str, SourcePos]) -> None:
        self.b, self.d, self.g, self.inst, self.seen = b, b.d, g, inst, seen
        self.vid = f"({inst.name})"
        self.f: dict[str, Any] = {}
        self.strict = inst.strict_mode or g.vrrp_strict
        self.version = 2

    def pos(self, keyword: str) -> SourcePos:
        """Where `keyword` was given, else the instance's header."""
        return self.seen.get(keyword, self.inst.pos)

    def run(self, member_of: dict[str, str], groups: list[VrrpSyncGroup]
            ) -> VrrpInstance | None:
        self.family_and_version()
        self.priority_and_state()
        if not self.required_parts():
            return None
        self.authentication()
        self.preemption()
        self.advert_int()
        self.accept_and_unicast()
        self.global_defaults()
        self.f["sync_group"] = member_of.get(self.inst.name)
        grp = next((gr for gr in groups if gr.name == self.f["sync_group"]), None)
        vk.resolve_garp_extra_if(self.inst, self.f, self.g, "garp_extra_if" in self.seen)
        if "notify_priority_changes" not in self.seen:   # instance, else group, else global
            self.f["notify_priority_changes"] = self.g.vrrp_notify_priority_changes if (
                grp is None or grp.notify_priority_changes is None) else grp.notify_priority_changes
        self.sync_group_weights(grp)
        self.own_interface_untracked()
        self.tracked_objects()
        self.duplicate_vrid()
        return replace(self.inst, **self.f)

    def family_and_version(self) -> None:
        inst, f, seen = self.inst, self.f, self.seen
        fam6 = bool(inst.virtual_ipaddress) and inst.virtual_ipaddress[0].address.version == 6
        if not inst.virtual_ipaddress and inst.virtual_ipaddress_excluded:
            fam6 = inst.virtual_ipaddress_excluded[0].address.version == 6
        if "native_ipv6" in seen:
            fam6 = True
        f["family"] = 6 if fam6 else 4
        mixed = [a for a in inst.virtual_ipaddress if (a.address.version == 6) != fam6]
        for a in mixed:
            self.d.error(a.pos, f"{self.vid}: address family must match VRRP instance family -"
                                f" skipping {a.address}")
        if mixed:
            f["virtual_ipaddress"] = tuple(a for a in inst.virtual_ipaddress if a not in mixed)
        explicit_v2 = "version" in seen and inst.version == 2
        version = inst.version if "version" in seen else self.g.vrrp_version
        if fam6:
            # keepalived 2.2.7 runs IPv6 with an explicit `version 2` (only strict mode
            # forbids it); without one, IPv6 means version 3 whatever vrrp_version says
            if explicit_v2 and self.strict:
                self.d.error(inst.pos, f"{self.vid} cannot use IPv6 with VRRP version 2; setting"
                                       " version 3")
                version = 3
            elif not explicit_v2:
                version = 3
        f["version"] = self.version = version

    def priority_and_state(self) -> None:
        inst, f = self.inst, self.f
        priority = inst.priority
        if inst.state is VrrpState.MASTER and "priority" not in self.seen:
            priority = VRRP_PRIO_OWNER
        f["priority"] = priority
        # keepalived's initial state: as configured, else derived from the priority (the
        # address owner starts MASTER); strict mode makes them agree
        owner_state = VrrpState.MASTER if priority == VRRP_PRIO_OWNER else VrrpState.BACKUP
        if "state" not in self.seen:
            f["state"] = owner_state
        elif self.strict and (inst.state is VrrpState.MASTER) != (priority == VRRP_PRIO_OWNER):
            self.d.error(self.seen["state"], f"{self.vid} State MASTER must match being address"
                                             " owner")
            f["state"] = owner_state

    def required_parts(self) -> bool:
        """False when keepalived's vrrp_complete_instance fails: the instance is not run."""
        inst = self.inst
        if inst.interface is None:
            # vrrp.c chk_min_cfg: 2.2.7 tests VRRP_FLAG_UNICAST before it is set, so a unicast
            # instance needs an interface too
            self.d.error(inst.pos, f"{self.vid} Unknown interface!")
        if not inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
            if self.version == 3 or self.f["family"] == 6 or self.strict:
                self.d.error(inst.pos, f"{self.vid} No VIP specified; at least one is required")
                return False
            self.d.warning(inst.pos, f"{self.vid} No VIP specified; at least one is sensible")
        return True

    def authentication(self) -> None:
        if "authentication" not in self.seen:
            return
        inst, f, pos, vid = self.inst, self.f, self.seen["authentication"], self.vid
        if self.version == 3:
            self.d.error(pos, f"{vid} VRRP version 3 does not support authentication. Ignoring.")
            f["auth_type"] = None
            f["auth_pass"] = None
        elif self.strict:
            self.d.error(pos, f"{vid} Strict mode does not support authentication. Ignoring.")
            f["auth_type"] = None
        elif inst.auth_type == "AH" and inst.state is VrrpState.MASTER:
            self.d.error(pos, f"{vid} Initial state master is incompatible with AH"
                              " authentication - clearing")
            f["state"] = VrrpState.BACKUP
        elif inst.auth_type and not inst.auth_pass:
            self.d.error(pos, f"{vid} Authentication specified but no password given. Ignoring")
            f["auth_type"] = None

    def preemption(self) -> None:
        inst, f, vid = self.inst, self.f, self.vid
        master = f.get("state", inst.state) is VrrpState.MASTER
        if inst.nopreempt and f["priority"] == VRRP_PRIO_OWNER:
            self.d.error(self.pos("nopreempt"),
                         f"{vid} nopreempt is incompatible with priority 255. resetting nopreempt")
            f["nopreempt"] = False
        elif inst.nopreempt and master:
            # keepalived clears nopreempt and keeps the initial state MASTER
            self.d.error(self.pos("nopreempt"), f"{vid} Warning - nopreempt will not work with"
                                                " initial state MASTER - clearing")
            f["nopreempt"] = False
        if not inst.preempt_delay:
            return
        if master:
            self.d.error(self.pos("preempt_delay"), f"{vid} Warning - preempt delay will not work"
                                                    " with initial state MASTER - clearing")
        elif self.strict:
            self.d.error(self.pos("preempt_delay"),
                         f"{vid} preempt_delay is incompatible with strict mode - resetting")
        elif f.get("nopreempt", inst.nopreempt):
            self.d.error(self.pos("preempt_delay"),
                         f"{vid} preempt_delay is incompatible with nopreempt mode - resetting")
        else:
            return
        f["preempt_delay"] = 0.0

    def advert_int(self) -> None:
        advert, vid, pos = self.inst.advert_int, self.vid, self.pos("advert_int")
        if self.version == 2 and advert != int(advert):
            self.d.error(pos, f"{vid} VRRPv2 advertisement interval {advert:f}s must be an"
                              " integer. rounding")
            advert = float(max(1, round(advert)))
        elif self.version == 3 and round(advert * 100) != advert * 100:
            self.d.error(pos, f"{vid} VRRPv3 advertisement interval {advert:.2f}s must be a"
                              " multiple of 0.01s. rounding")
            advert = round(advert * 100) / 100
        if self.version == 3 and advert > 40.95:
            self.d.error(pos, f"{vid} VRRPv3 advertisement interval {advert:.2f}s too long -"
                              " setting to 40.95s")
            advert = 40.95
        self.f["advert_int"] = advert

    def accept_and_unicast(self) -> None:
        inst, strict = self.inst, self.strict
        if any(k in self.seen for k in UNICAST_KEYWORDS) and not inst.unicast_peer \
                and not inst.unicast_fault_no_peer:
            self.d.warning(inst.pos, f"{self.vid} A unicast keyword has been specified without"
                                     " any unicast peers. Defaulting to multicast. This usage"
                                     " is deprecated - please update your configuration.")
        if strict and inst.unicast_peer:
            self.d.error(inst.pos, f"{self.vid} Unicast peers are not supported in strict mode")
        self.f["strict_mode"] = strict
        complete_accept_vmac(inst, self.f, self.seen, strict, self.d)  # accept, VMAC (issue 12)
        ipvlan.complete(inst, self.f, self.d)                           # use_ipvlan (issue 12)
        ipvlan.address_vmacs(inst, self.f, self.d)      # per-address use_vmac (vrrp/addr_vmac.py)

    def global_defaults(self) -> None:
        """global_defs' vrrp_* values for what the instance does not give itself."""
        inst, f, g, seen = self.inst, self.f, self.g, self.seen
        for key, gkey in (("garp_master_delay", "vrrp_garp_master_delay"),
                          ("garp_master_repeat", "vrrp_garp_master_repeat"),
                          ("garp_master_refresh", "vrrp_garp_master_refresh"),
                          ("garp_master_refresh_repeat", "vrrp_garp_master_refresh_repeat")):
            if key not in seen:     # given in the instance (even as the default) wins
                f[key] = getattr(g, gkey)
        f["garp_interval"] = g.vrrp_garp_interval
        f["gna_interval"] = g.vrrp_gna_interval
        # an instance's own setting (true or false) wins over global_defs; strict mode
        # forces no advert on a lower priority and no lower-priority GARPs
        if "lower_prio_no_advert" not in seen and g.vrrp_lower_prio_no_advert:
            f["lower_prio_no_advert"] = True
        if "higher_prio_send_advert" not in seen and g.vrrp_higher_prio_send_advert:
            f["higher_prio_send_advert"] = True
        complete_strict_adverts(inst, f, seen, self.strict, self.d)   # strict mode (issue 12)
        if "down_timer_adverts" not in seen:
            f["down_timer_adverts"] = g.vrrp_down_timer_adverts
        if self.strict and f.get("down_timer_adverts", inst.down_timer_adverts) != 3:
            self.d.error(self.pos("down_timer_adverts"),
                         f"{self.vid} down_timer_adverts is incompatible with strict mode -"
                         " resetting")
            f["down_timer_adverts"] = 3
        if g.vrrp_skip_check_adv_addr:
            f["skip_check_adv_addr"] = True
        # (vrrp_check_unicast_src is not folded in: keepalived ORs it in when it checks an
        # advert and its dump shows the instance's own flag - vrrp/acceptance.py)

    def sync_group_weights(self, grp: VrrpSyncGroup | None) -> None:
        """Sync group members and address owners: keepalived's weight filtering
        (config/track_weights.py)."""
        b = self.b
        changed = member_weights(
            self.inst, self.f["priority"], grp, {s.name: s.weight for s in b.scripts},
            {t.name: t.weight for t in b.files}, self.d.error)
        if changed:             # usually nothing: no copy of the instance (issue 16)
            self.inst = replace(self.inst, **changed)  # type: ignore[arg-type]

    def own_interface_untracked(self) -> None:
        inst = self.inst
        if inst.interface is None or all(r.name != inst.interface for r in inst.track_interface):
            return
        for ref in inst.track_interface:
            if ref.name == inst.interface:
                self.d.error(ref.pos, f"{self.vid} Ignoring track_interface {ref.name} since own"
                                      " interface")
        self.inst = replace(inst, track_interface=tuple(
            r for r in inst.track_interface if r.name != inst.interface))

    def tracked_objects(self) -> None:
        """Drop references to scripts, processes and files that are not defined."""
        b, inst = self.b, self.inst
        for kind, what, names in (("track_script", "script", {s.name for s in b.scripts}),
                                  ("track_process", "process", {p.name for p in b.processes}),
                                  ("track_file", "file", {t.name for t in b.files})):
            for ref in getattr(inst, kind):
                if ref.name not in names:
                    self.d.error(ref.pos, f"{self.vid} track {what} {ref.name} not found,"
                                          " ignoring...")
                if kind == "track_script":
                    b.used_scripts.add(ref.name)
            self.f[kind] = tuple(r for r in getattr(inst, kind) if r.name in names)

    def duplicate_vrid(self) -> None:
        inst, family = self.inst, self.f["family"]
        if inst.interface is None:
            return
        multicast = not inst.unicast_peer
        key = (inst.interface, inst.virtual_router_id, family,
               "multicast" if multicast else
               ",".join(sorted(str(p.address) for p in inst.unicast_peer)))
        other = self.b.seen_vrid.get(key)
        if other is not None:
            self.d.error(inst.pos, f"{other} and {inst.name} both use VRID"
                                   f" {inst.virtual_router_id} with IPv{family} on"
                                   f" interface {inst.interface}")
        else:
            self.b.seen_vrid[key] = inst.name


# -- vrrp_instance keywords ----------------------------------------------------------------
# One handler a keyword (keepalived's install_keyword table in vrrp_parser.c). A handler
# fills `draft.f` (model fields) and calls `draft.give(field, pos)` when the value took effect:
# that record is the one answer to "was this keyword given?" for the resolution in _finish.
