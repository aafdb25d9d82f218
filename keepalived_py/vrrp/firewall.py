"""VIP firewalling for instances not in accept mode (`no_accept`, strict mode), with nftables
as keepalived 2.2.7's vrrp_nftables.c does it.

Theory of operation. RFC 5798 §6.4.3: a master that is not the address owner must not accept
packets addressed to its virtual addresses unless in Accept_Mode. keepalived enforces that with
its own nftables table, `keepalived` in the `ip` and `ip6` families (created the first time a
family needs it), each with an `in` and an `out` filter chain at priority -1 (just before
filter) dropping packets to (in) or from (out) the addresses of the set `vips`; IPv6 first
accepts neighbour solicitations/advertisements (the VIPs must still be resolvable) and sends
link-local traffic to `in_link_local`/`out_link_local`, where a `vips_link_local` set
(address . interface index) is matched. An instance adds its VIPs and excluded VIPs to the set
when it adds them to the interface (MASTER) and removes them when it releases them; the owner
(priority 255) and accept-mode instances never appear. Other tables are never touched.

Each change is one `nft -f -` transaction declaring the whole table from what this module
holds (`add table` + `delete table` + the table), so a table that another tool deleted or
altered is simply made again, whole, by the next change (and `check` restores it at once);
the tables are deleted when the daemon stops. The script text is built by pure functions;
`VipFirewall` runs nft off the decision path (after the addresses, as keepalived).
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterable

from keepalived_py.address import IPAddress as Address
from keepalived_py.config.model import VrrpInstance
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp.firewall")

TABLE = "keepalived"
PRIORITY = -1                   # keepalived's default nftables_priority ("filter - 1")


def _link_local(a: Address) -> bool:
    return a.version == 6 and a.is_link_local


def firewalled(inst: VrrpInstance) -> bool:
    """keepalived's vrrp_handle_accept_mode: only a non-owner without accept is firewalled."""
    return not inst.accept and inst.priority != 255


def addresses_of(inst: VrrpInstance, default_dev: str) -> list[tuple[Address, int]]:
    """The instance's VIPs and excluded VIPs with the index of the interface each is on."""
    out = []
    for a in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
        idx = 0
        with contextlib.suppress(OSError):
            idx = socket.if_nametoindex(a.dev or default_dev)
        out.append((a.address.ip, idx))
    return out


def table_script(family: int, vips: Iterable[Address] | None,
                 link_local: Iterable[tuple[Address, int]] = (),
                 vmacs: Iterable[tuple[str, str]] = (), table: str = TABLE,
                 priority: int = PRIORITY, counters: bool = False) -> str:
    """The whole table of one family (4: `ip`, 6: `ip6`), declared from scratch, its sets and
    chains made in keepalived's order (so that `nft list` shows the same table). `vips` None:
    no VIP part (no instance of this family was ever firewalled); `vmacs`: (VMAC, parent)
    names, whose IGMP/MLD reports leave through the parent (keepalived's firewall_add_vmac:
    a report from the shared virtual MAC would teach switches the backup's port) and whose
    router solicitations are dropped."""
    fam = "ip" if family == 4 else "ip6"
    kind = "ipv4_addr" if family == 4 else "ipv6_addr"
    hook = f"priority {priority}; policy accept;"
    vm = sorted(set(vmacs))
    out = [f"add table {fam} {table}", f"delete table {fam} {table}", f"table {fam} {table} {{"]
    rules: list[str] = []
    rule = f"add rule {fam} {table}"
    if vm:
        pairs = ", ".join(f'"{v}" : "{p}"' for v, p in vm)
        out.append(f"  map vmac_map {{ type iface_index : iface_index; elements = {{ {pairs} }}; }}")
        if family == 4:
            rules.append(f'{rule} out ip protocol igmp meta oifkind "macvlan"'
                         " dup to ip daddr device oif map @vmac_map drop")
        else:
            names = ", ".join(f'"{v}"' for v, _ in vm)
            out.append(f"  set vmac_set {{ type iface_index; elements = {{ {names} }}; }}")
            rules += [f'{rule} out icmpv6 type mld2-listener-report meta oifkind "macvlan"'
                      " dup to ip6 daddr device oif map @vmac_map drop",
                      f'{rule} out icmpv6 type nd-router-solicit meta oifkind "macvlan"'
                      " oif @vmac_set drop"]
    out.append(f"  chain out {{ type filter hook output {hook} }}")
    if vips is not None:
        elems = ", ".join(sorted({str(a) for a in vips
                                  if a.version == family and not _link_local(a)}))
        ll = ", ".join(sorted({f"{a} . {idx}" for a, idx in link_local}))
        out.insert(3, f"  set vips {{ type {kind};"
                   + (f" elements = {{ {elems} }};" if elems else "") + " }")
        out.append(f"  chain in {{ type filter hook input {hook} }}")
        if family == 4:
            rules += [f"{rule} out ip saddr @vips drop", f"{rule} in ip daddr @vips drop"]
        else:
            out.insert(4, "  set neighbor-discovery { type icmpv6_type; flags constant;"
                          " elements = { nd-neighbor-solicit, nd-neighbor-advert }; }")
            if ll:
                out.insert(5, "  set vips_link_local { type ipv6_addr . iface_index;"
                              f" elements = {{ {ll} }}; }}")
            out += ["  chain in_link_local { }", "  chain out_link_local { }"]
            rules += [f"{rule} out icmpv6 type @neighbor-discovery accept",
                      f"{rule} out ip6 saddr fe80::/10 goto out_link_local",
                      f"{rule} out ip6 saddr @vips drop",
                      f"{rule} in icmpv6 type @neighbor-discovery accept",
                      f"{rule} in ip6 daddr fe80::/10 goto in_link_local",
                      f"{rule} in ip6 daddr @vips drop"]
            if ll:
                rules += [f"{rule} in_link_local ip6 daddr . iif @vips_link_local drop",
                          f"{rule} out_link_local ip6 saddr . oif @vips_link_local drop"]
    out.append("}")
    if counters:                    # global_defs nftables_counters: a counter in every rule
        rules = [_with_counter(r) for r in rules]
    return "\n".join(out + rules) + "\n"


def _with_counter(rule: str) -> str:
    """`... drop` -> `... counter drop` (keepalived adds the counter before the verdict)."""
    for verdict in (" drop", " accept"):
        if rule.endswith(verdict):
            return rule[:-len(verdict)] + " counter" + verdict
    head, sep, target = rule.rpartition(" goto ")
    return f"{head} counter goto {target}" if sep else rule


def delete_script(families: Iterable[int], table: str = TABLE) -> str:
    return "".join(f"add table {f} {table}\ndelete table {f} {table}\n"
                   for f in ("ip" if x == 4 else "ip6" for x in sorted(set(families))))


class VipFirewall:
    """The addresses each instance has in the drop sets; one nft transaction per change."""

    def __init__(self) -> None:
        # global_defs nftables / nftables_priority / nftables_counters (configure())
        self.table, self.priority, self.counters = TABLE, PRIORITY, False
        self.held: dict[str, set[Address]] = {}
        self.link_local: dict[str, set[tuple[Address, int]]] = {}
        self.families: set[int] = set()          # tables we made (deleted at stop)
        self.vip_families: set[int] = set()      # families whose VIP part is set up
        self.vmacs: dict[str, tuple[str, int]] = {}   # VMAC name -> (parent, family)
        self.applies = 0
        self.failures = 0
        self._lock = asyncio.Lock()
        # a respawned VRRP child finds the dead one's tables in force: it declares them again
        # only once every resumed instance has said what it holds (`release()`), so that no
        # VIP is left unfiltered for a moment by a table made from half the picture
        self.deferred = False
        self._pending: set[int] = set()

    def configure(self, process: ProcessDefs) -> None:
        """The table's name, its chains' priority and counters, from global_defs (at start:
        keepalived keeps them over a reload too). nftables_ifindex needs nothing: link-local
        VIPs are always matched with the interface index here."""
        if not self.families:
            self.table = process.nftables or TABLE
            self.priority = process.nftables_priority
        self.counters = process.nftables_counters

    def defer(self) -> None:
        self.deferred = True

    async def release(self) -> None:
        """End of a respawned child's start: declare what was recorded, all at once."""
        self.deferred = False
        pending, self._pending = self._pending, set()
        if pending:
            await self._apply(pending)

    def addresses(self, family: int) -> set[Address]:
        return {a for s in self.held.values() for a in s if a.version == family}

    async def update(self, who: str, add: bool,
                     addresses: Iterable[tuple[Address, int]]) -> None:
        """Add (MASTER) or remove (released) an instance's addresses; (address, ifindex) pairs,
        the index used for IPv6 link-local ones."""
        pairs = list(addresses)
        touched: set[int]
        if add:
            self.held[who] = {a for a, _ in pairs if not _link_local(a)}
            self.link_local[who] = {(a, i) for a, i in pairs if _link_local(a)}
            touched = {a.version for a, _ in pairs}
        else:
            touched = {a.version for a in self.held.pop(who, set())}
            touched |= {a.version for a, _ in self.link_local.pop(who, set())}
        if touched:
            log.debug("vrrp.firewall.changed", instance=who, add=add,
                      compat=f"({who}) {'sett' if add else 'remov'}ing firewall drop rule")
            await self._apply(touched)

    async def vmac(self, name: str, parent: str, family: int, add: bool) -> None:
        """A VMAC made (add) or removed: its IGMP/MLD rule entries."""
        if add and self.vmacs.get(name) != (parent, family):
            self.vmacs[name] = (parent, family)
        elif not add and name in self.vmacs:
            family = self.vmacs.pop(name)[1]
        else:
            return
        await self._apply({family})

    async def check(self) -> None:
        """Re-declare our tables if another tool deleted them (called on a timer)."""
        if not self.families:
            return
        for fam in sorted(self.families):
            proc = await asyncio.create_subprocess_exec(
                "nft", "list", "table", "ip" if fam == 4 else "ip6", self.table,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            if await proc.wait() != 0:
                log.warning("vrrp.firewall.table_missing", table=self.table, family=fam,
                            compat=f"nftables table {self.table} was removed by another tool -"
                                   " restoring it")
                await self._apply({fam})

    async def _apply(self, families: set[int]) -> None:
        if self.deferred:
            self._pending |= families
            return
        async with self._lock:
            script = ""
            for fam in sorted(families):
                ll = {p for s in self.link_local.values() for p in s if p[0].version == fam}
                if self.addresses(fam) or ll:
                    self.vip_families.add(fam)
                vm = [(v, p) for v, (p, f) in self.vmacs.items() if f == fam]
                script += table_script(fam, self.addresses(fam) if fam in self.vip_families
                                       else None, ll, vm, table=self.table,
                                       priority=self.priority, counters=self.counters)
            if await _nft(script):
                self.families |= families
                self.applies += 1
            else:
                self.failures += 1

    async def close(self) -> None:
        """At stop: our tables go (keepalived's nft_cleanup)."""
        async with self._lock:
            if self.families:
                await _nft(delete_script(self.families, self.table))
            self.families.clear()
            self.vip_families.clear()
            self.vmacs.clear()
            self.held.clear()
            self.link_local.clear()


async def _nft(script: str) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            "nft", "-f", "-", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(script.encode())
    except OSError as e:
        log.error("vrrp.firewall.unavailable", error=e.strerror,
                  compat=f"nftables is not usable ({e.strerror}): VIPs are not firewalled")
        return False
    if proc.returncode != 0:
        log.error("vrrp.firewall.failed", error=err.decode(errors="replace").strip()[:500])
        return False
    return True
