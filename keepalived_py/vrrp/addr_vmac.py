"""Per-address VMACs: `use_vmac_addr` (vrrp_instance), an address's own `use_vmac`
(virtual_ipaddress / virtual_ipaddress_excluded) and `vmac_addr_prefix` (global_defs), as
keepalived 2.2.7's vrrp_complete_instance makes them (vrrp.c).

Theory of operation. Which addresses get a VMAC of their own is decided from the configuration
alone (`wanted`, pure): an address on the instance's interface and of its family goes on the
instance's own VMAC when it has `use_vmac`, else on the interface, unless the address says
`use_vmac`; any other address (another interface, or an excluded address of the other family)
gets a VMAC on its interface when it says `use_vmac` or the instance says `use_vmac_addr`.
Such a VMAC is a private macvlan on the address's interface with the virtual MAC of the
instance's VRID and the address's family, made with the settings of an instance VMAC
(vrrp/vmac.py `VmacTable.ensure`), named PREFIX.VRID (then PREFIX6.VRID, PREFIX1.VRID...)
where PREFIX is vmac_addr_prefix, else vmac_prefix, else `vrrp`; an existing private macvlan
on that interface with that MAC is adopted. Each address VMAC is made when the instance
starts (whatever its state, as keepalived) and the address's device becomes that VMAC
(`resolve` returns the instance with the devices rewritten: everything downstream, the
machine's address actions, gratuitous ARPs, link tracking, firewall, sees the VMAC). A VMAC
no instance uses any more (a reload, the instance removed, the daemon stopping) is deleted.
An address whose VMAC cannot be made stays on its interface (logged with keepalived's words).
"""
from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from keepalived_py.config.ipvlan import address_vmac_wants
from keepalived_py.config.model import VirtualAddress, VrrpInstance
from keepalived_py.obs import slog
from keepalived_py.vrrp.vmac import VmacTable

log = slog.get_logger("keepalived_py.vrrp.addr_vmac")


def wanted(inst: VrrpInstance) -> list[tuple[int, str, int]]:
    """(position in virtual_ipaddress + virtual_ipaddress_excluded, interface, family) of each
    address that needs a VMAC of its own (config/ipvlan.py address_vmac_wants)."""
    return address_vmac_wants(inst.interface, inst.family, inst.use_vmac is not None,
                              inst.use_vmac_addr,
                              inst.virtual_ipaddress + inst.virtual_ipaddress_excluded)


def rewrite(inst: VrrpInstance, devs: dict[int, str]) -> VrrpInstance:
    """The instance with the addresses at `devs`' positions moved to those devices."""
    if not devs:
        return inst
    n_vips = len(inst.virtual_ipaddress)

    def moved(offset: int, addrs: tuple[VirtualAddress, ...]) -> tuple[VirtualAddress, ...]:
        return tuple(dataclasses.replace(a, dev=devs[offset + i]) if offset + i in devs else a
                     for i, a in enumerate(addrs))
    return dataclasses.replace(
        inst, virtual_ipaddress=moved(0, inst.virtual_ipaddress),
        virtual_ipaddress_excluded=moved(n_vips, inst.virtual_ipaddress_excluded))


class AddressVmacs:
    """The per-address VMACs of the VRRP child: which instances use each."""

    def __init__(self, table: VmacTable) -> None:
        self.table = table
        self.prefix: str | None = None              # global_defs vmac_addr_prefix
        self.users: dict[str, set[str]] = {}        # VMAC name -> instance names
        self.keys: dict[str, tuple[str, int, int]] = {}   # name -> (interface, family, VRID)
        self.current: dict[str, set[str]] = {}      # instance -> the VMACs its addresses use

    def names_of(self, who: str) -> set[str]:
        return {n for n, users in self.users.items() if who in users}

    async def resolve(self, ipr: Any, inst: VrrpInstance, taken: set[str],
                      link_local: Any) -> VrrpInstance:
        """Make (or adopt) the VMACs `inst`'s addresses need; `inst` with the addresses'
        devices rewritten to them. `taken`: VMAC names of other instances; `link_local(dev)`:
        an interface's IPv6 link-local address (an IPv6 VMAC gets it, as keepalived's)."""
        want = wanted(inst)
        if not want or ipr is None:
            self.current[inst.name] = set()
            return inst
        vrid, who = inst.virtual_router_id, inst.name
        devs: dict[int, str] = {}
        made: dict[tuple[str, int], str] = {}
        for n, dev, family in want:
            name = made.get((dev, family))
            if name is None:
                name = self._known(dev, family, vrid)
                if name is None or self.table.ours.get(name) is None:
                    src6 = link_local(dev) if family == 6 else None
                    name = await self.table.ensure(
                        ipr, who, dev, vrid, family, "",
                        src6 if isinstance(src6, ipaddress.IPv6Address) else None, False,
                        taken | set(self.users), prefix=self.prefix or self.table.prefix)
                if name is None:
                    log.warning("vrrp.addr_vmac.failed", instance=who, interface=dev,
                                family=family)
                    continue
                made[(dev, family)] = name
                self.keys[name] = (dev, family, vrid)
            devs[n] = name
        self.current[who] = set(made.values())
        for name in self.current[who]:
            self.users.setdefault(name, set()).add(who)
        return rewrite(inst, devs)

    async def prune(self, ipr: Any, who: str) -> list[str]:
        """After a reload's address changes: delete the VMACs `who` no longer uses."""
        return await self.release(ipr, who, keep=self.current.get(who, set()))

    def _known(self, dev: str, family: int, vrid: int) -> str | None:
        return next((n for n, k in self.keys.items() if k == (dev, family, vrid)), None)

    async def release(self, ipr: Any, who: str, keep: set[str] | None = None) -> list[str]:
        """`who` no longer uses its address VMACs (but those in `keep`): delete those no other
        instance uses. The names deleted."""
        gone = []
        if keep is None:
            self.current.pop(who, None)
        for name in sorted(self.names_of(who) - (keep or set())):
            users = self.users[name]
            users.discard(who)
            if users:
                continue
            del self.users[name]
            self.keys.pop(name, None)
            if ipr is not None:
                await self.table.remove(ipr, who, name)
            gone.append(name)
        return gone
