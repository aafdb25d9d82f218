"""The nftables dataplane: a real load balancer where the kernel has no IPVS (or
`dataplane nftables` is configured).

One table per family (`ip keepalived_py`, `ip6 keepalived_py`) holds a `dispatch` chain hooked
at nat prerouting and output, with one rule per virtual server jumping to that server's chain
(`vs_<id>`); the server's chain DNATs each new connection to a live real server chosen by
`numgen random` over ranges sized by weight (or to the sorry server). Changing one virtual
server replaces only its chain, in one nft transaction; the table is never flushed on reload.
Conntrack keeps established connections on their real server. Commands go to `nft -f -`.
A respawned checker adopts the table it finds (no flush: traffic keeps flowing) and prunes
the chains nobody owns any more.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from keepalived_py.check.dataplane import vs_id
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer, VirtualServerGroup

log = structlog.get_logger("keepalived_py.check.nft")
TABLE = "keepalived_py"


def family(vs: VirtualServer) -> str:
    return "ip6" if vs.address is not None and vs.address.version == 6 else "ip"


def match(vs: VirtualServer, groups: dict[str, VirtualServerGroup] | None = None) -> list[str]:
    """The packet matches that select `vs`: one, or one per virtual_server_group entry
    (address ranges become nft ranges, fwmark entries `meta mark`)."""
    fam = family(vs)
    proto = (vs.protocol or "TCP").lower()
    if vs.fwmark is not None:
        return [f"meta mark {vs.fwmark}"]
    if vs.group is not None:
        out = []
        for e in (groups or {}).get(vs.group, VirtualServerGroup(name=vs.group)).entries:
            if e.fwmark is not None:
                out.append(f"meta mark {e.fwmark}")
                continue
            efam = "ip6" if e.address is not None and e.address.version == 6 else "ip"
            addr = f"{e.address}-{e.last}" if e.last is not None else f"{e.address}"
            port = f" {proto} dport {e.port}" if e.port else f" meta l4proto {proto}"
            out.append(f"{efam} daddr {addr}{port}")
        return out
    port = f" {proto} dport {vs.port}" if vs.port else f" meta l4proto {proto}"
    return [f"{fam} daddr {vs.address}{port}"]


def chain_rule(vs: VirtualServer, targets: Sequence[Target]) -> str | None:
    """The DNAT rule of a virtual server's chain, or None (no backend: packets pass)."""
    if not targets:
        return None
    fam = family(vs)
    proto = (vs.protocol or "TCP").lower()
    total = sum(t.weight for t in targets)
    parts, start = [], 0
    for t in targets:
        end = start + t.weight - 1
        rng = f"{start}" if start == end else f"{start}-{end}"
        parts.append(f"{rng} : {t.address} . {t.port}" if t.port else f"{rng} : {t.address}")
        start = end + 1
    if all(t.port for t in targets):
        return (f"meta l4proto {proto} dnat {fam} to numgen random mod {total} map "
                f"{{ {', '.join(parts)} }}")
    return f"dnat {fam} to numgen random mod {total} map {{ {', '.join(parts)} }}"


class NftDataplane:
    """The nftables `Dataplane` (check/dataplane.py)."""

    def __init__(self) -> None:
        self.chains: dict[str, tuple[str, str | None]] = {}   # id -> (family, rule)
        self.dispatch: dict[str, tuple[str, list[str]]] = {}  # id -> (family, matches)
        self.groups: dict[str, VirtualServerGroup] = {}
        self.applies = 0
        self.failures = 0
        self._lock = asyncio.Lock()

    async def _nft(self, script: str) -> bool:
        proc = await asyncio.create_subprocess_exec(
            "nft", "-f", "-", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(script.encode())
        if proc.returncode != 0:
            self.failures += 1
            log.error("check.nft.failed", error=err.decode(errors="replace").strip()[:500])
            return False
        self.applies += 1
        return True

    @staticmethod
    def _table(fam: str) -> str:
        return (f"table {fam} {TABLE} {{\n"
                f"  chain dispatch {{ }}\n"
                f"  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;"
                f" jump dispatch; }}\n"
                f"  chain output {{ type nat hook output priority -100; policy accept;"
                f" jump dispatch; }}\n}}\n")

    async def setup(self) -> bool:
        """Create our tables, or adopt the ones a previous checker left (a respawn): their
        chains keep balancing until ours replace them, one by one; the hooks are rewritten in
        the same transaction, so there is never a moment without them. Chains we no longer
        own are removed by `prune` once the configured ones are applied."""
        script = ""
        for fam in ("ip", "ip6"):
            script += (f"add table {fam} {TABLE}\n"
                       f"add chain {fam} {TABLE} dispatch\n"
                       f"add chain {fam} {TABLE} prerouting {{ type nat hook prerouting priority"
                       f" dstnat; policy accept; }}\n"
                       f"add chain {fam} {TABLE} output {{ type nat hook output priority -100;"
                       f" policy accept; }}\n"
                       f"flush chain {fam} {TABLE} prerouting\n"
                       f"add rule {fam} {TABLE} prerouting jump dispatch\n"
                       f"flush chain {fam} {TABLE} output\n"
                       f"add rule {fam} {TABLE} output jump dispatch\n")
        return await self._nft(script)

    async def flush_all(self) -> None:
        """lvs_flush is about IPVS services: nftables has none to flush (our own table is
        adopted by `setup`, never flushed)."""

    async def prune(self) -> int:
        """Delete the `vs_*` chains of ours that no configured virtual server uses (left by
        a previous checker or a previous configuration); returns how many."""
        import json
        gone = 0
        async with self._lock:
            for fam in ("ip", "ip6"):
                proc = await asyncio.create_subprocess_exec(
                    "nft", "-j", "list", "table", fam, TABLE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL)
                out, _ = await proc.communicate()
                if proc.returncode != 0:
                    continue
                try:
                    items = json.loads(out).get("nftables", [])
                except ValueError:
                    continue
                stale = [i["chain"]["name"] for i in items if "chain" in i
                         and i["chain"].get("name", "").startswith("vs_")
                         and i["chain"]["name"] not in self.chains]
                if not stale:
                    continue
                script = self._dispatch_script(fam)
                for name in stale:
                    script += f"flush chain {fam} {TABLE} {name}\ndelete chain {fam} {TABLE} {name}\n"
                if await self._nft(script):
                    gone += len(stale)
        return gone

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        """Make the kernel send `vs`'s traffic to `targets` (replacing only its chain)."""
        async with self._lock:
            ident, fam = vs_id(vs), family(vs)
            rule = chain_rule(vs, targets)
            script = f"add chain {fam} {TABLE} {ident}\nflush chain {fam} {TABLE} {ident}\n"
            if rule is not None:
                script += f"add rule {fam} {TABLE} {ident} {rule}\n"
            new_dispatch = ident not in self.dispatch
            self.dispatch[ident] = (fam, match(vs, self.groups))
            if new_dispatch:
                script += self._dispatch_script(fam)
            ok = await self._nft(script)
            if ok:
                self.chains[ident] = (fam, rule)
                log.info("check.nft.applied", vs=ident, backends=[f"{t.address}:{t.port}"
                                                                 for t in targets])
            return ok

    def _dispatch_script(self, fam: str) -> str:
        s = f"flush chain {fam} {TABLE} dispatch\n"
        for ident, (f, matches) in sorted(self.dispatch.items()):
            if f == fam:
                for m in matches:
                    s += f"add rule {fam} {TABLE} dispatch {m} jump {ident}\n"
        return s

    async def remove(self, vs: VirtualServer) -> bool:
        async with self._lock:
            ident, fam = vs_id(vs), family(vs)
            self.dispatch.pop(ident, None)
            self.chains.pop(ident, None)
            script = self._dispatch_script(fam) + \
                f"flush chain {fam} {TABLE} {ident}\ndelete chain {fam} {TABLE} {ident}\n"
            return await self._nft(script)

    async def present(self) -> bool:
        """Are our tables still in the kernel? (`nft flush ruleset`, as nftables.service runs
        at every start or reload of the firewall, removes them with everything else.)"""
        families = {fam for fam, _ in self.dispatch.values()} or {"ip"}
        for fam in sorted(families):
            proc = await asyncio.create_subprocess_exec(
                "nft", "list", "chain", fam, TABLE, "dispatch",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            if await proc.wait() != 0:
                return False
        return True

    async def restore(self) -> bool:
        """Put our tables back as they were, from what we applied (checker state untouched)."""
        async with self._lock:
            script = ""
            for fam in ("ip", "ip6"):
                script += f"table {fam} {TABLE}\ndelete table {fam} {TABLE}\n" + self._table(fam)
            for ident, (fam, rule) in sorted(self.chains.items()):
                script += f"add chain {fam} {TABLE} {ident}\n"
                if rule is not None:
                    script += f"add rule {fam} {TABLE} {ident} {rule}\n"
            for fam in sorted({f for f, _ in self.dispatch.values()}):
                script += self._dispatch_script(fam)
            return await self._nft(script)

    async def teardown(self) -> None:
        await self._nft(f"table ip {TABLE}\ndelete table ip {TABLE}\n"
                        f"table ip6 {TABLE}\ndelete table ip6 {TABLE}\n")
