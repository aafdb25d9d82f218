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

What IPVS's schedulers become (`lb_algo`): `rr` is round robin by `numgen inc` over equal
slots, `wrr` the same over slots sized by weight; `sh`/`mh` hash the source address, `dh`
the destination (`jhash`, slots sized by weight); the schedulers that need connection counts
(`lc`, `wlc`, `lblc`, `lblcr`, `sed`, `nq`, `fo`, `ovf`) cannot be expressed — they fall back
to weighted random (`numgen random`) with a warning naming the virtual server. Persistence
(`persistence_timeout`, `persistence_granularity`): a dynamic map per virtual server, keyed by
the client address masked by the granularity, remembers the real server a client was sent to,
for the timeout (counted from that choice); a client found there goes to the same server, a
new one is chosen by the scheduler through a per-real-server chain that records it. When a
real server leaves, the map forgets who went there. For IPv6 (nft 1.0.6 cannot update a
map whose data is an IPv6 address and a port) each real server has a dynamic set of its
clients instead, looked up in turn; a server that leaves takes its set with it.
`inhibit_on_failure` servers have weight 0: no slot, so no new connections; established ones
stay on them (conntrack). DNAT is the only forwarding method nftables has: `lb_kind DR`/`TUN`
warn and are balanced by DNAT.

The checker's own probe connections carry probe.PROBE_MARK and an output chain at the raw
priority of the output hook exempts them from connection tracking (`notrack`): the NAT hooks
make the kernel track every connection, and at thousands of probes per second their entries
would fill the conntrack table (new connections, balanced ones included, are then dropped).
The server's packets back need a rule too: a SYN-ACK or a FIN with no entry creates none, but
a plain ACK does (conntrack picks up established flows), and a server ACKs the probe's FIN
(probe.py closes with a FIN, then a reset). A probe's SYN and FIN record its flow, reversed, in
the dynamic set `flows` (timeout PROBE_LINGER s) and a packet whose flow is there is not
tracked, in prerouting (a remote server) and output (a server on this host). That set and its
chains are a table of their own, `keepalived_py_probes`.

No `nft` binary or no nftables in the kernel is one error (the same failure is not logged
again until something else happened), never an exception.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from keepalived_py.check.dataplane import vs_id
from keepalived_py.check.probe import PROBE_MARK
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer, VirtualServerGroup
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.check.nft")
TABLE = "keepalived_py"
# How long a probe's addresses and ports stay in the `flows` set after its SYN or FIN: the
# server's answers come within a round trip of these (its ACK of the FIN; after the probe's
# reset it sends nothing). Short, because a connection of this host's own that gets the same
# ports within that time is not tracked either (a local client of a virtual server balanced
# to that server: its replies are then not un-NATed). The size bounds the set well above
# 10,000 probes/s.
PROBE_TABLE = f"{TABLE}_probes"
# what this version has in its tables besides the virtual servers' own chains, maps and sets
# (prune removes anything else: an older version's layout)
BASE_CHAINS = frozenset({"dispatch", "prerouting", "output"})
PROBE_CHAINS = frozenset({"output", "prerouting"})
PROBE_SETS = frozenset({"flows"})
PROBE_LINGER = 2
PROBE_FLOWS = 262144


def family(vs: VirtualServer) -> str:
    if vs.address is None:                      # fwmark: ip_family (given or the servers')
        return "ip6" if vs.ip_family == "inet6" else "ip"
    return "ip6" if vs.address.version == 6 else "ip"


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


ROUND_ROBIN = frozenset({"rr", "wrr"})
HASHED = {"sh": "saddr", "mh": "saddr", "dh": "daddr"}
COUNTING = frozenset({"lc", "wlc", "lblc", "lblcr", "sed", "nq", "fo", "ovf"})


def warnings(vs: VirtualServer) -> list[str]:
    """What this virtual server asks for that the nftables dataplane does differently (each
    logged once at startup, naming the server and the fallback)."""
    name = _name(vs)
    out = []
    sched = vs.lvs_sched or "wlc"
    if sched in COUNTING:
        out.append(f"{name}: lb_algo {sched} needs connection counts that nftables cannot see;"
                   " using weighted random (numgen random) instead")
    elif sched not in ROUND_ROBIN and sched not in HASHED:
        out.append(f"{name}: lb_algo {sched} is unknown to the nftables dataplane;"
                   " using weighted random (numgen random) instead")
    methods = {vs.lvs_method, vs.sorry_server_lvs_method if vs.sorry_server else None} | {
        rs.lvs_method for rs in vs.real_servers if rs.lvs_method}
    for m in sorted(x for x in methods if x and x != "NAT"):
        out.append(f"{name}: lb_kind {m} cannot be done by nftables, which can only NAT;"
                   " real servers get DNAT (they must route replies back through this host)")
    return out


def _name(vs: VirtualServer) -> str:
    if vs.fwmark is not None:
        return f"virtual_server fwmark {vs.fwmark}"
    if vs.group is not None:
        return f"virtual_server group {vs.group}"
    return f"virtual_server {vs.address} {vs.port or 0}"


def _slots(vs: VirtualServer, targets: Sequence[Target]) -> list[tuple[int, int, Target]]:
    """(first, last, target) slot ranges: by weight, equal for rr; weight 0 gets none."""
    out, start = [], 0
    for t in targets:
        if t.weight <= 0:
            continue
        n = 1 if (vs.lvs_sched or "wlc") == "rr" else t.weight
        out.append((start, start + n - 1, t))
        start += n
    return out


def _selector(vs: VirtualServer, total: int) -> str:
    sched = vs.lvs_sched or "wlc"
    if sched in ROUND_ROBIN:
        return f"numgen inc mod {total}"
    if sched in HASHED:
        return f"jhash {family(vs)} {HASHED[sched]} mod {total}"
    return f"numgen random mod {total}"


def _dest(t: Target) -> str:
    return f"{t.address} . {t.port}" if t.port else f"{t.address}"


def chain_rule(vs: VirtualServer, targets: Sequence[Target]) -> str | None:
    """The DNAT rule of a virtual server's chain, or None (no backend: packets pass)."""
    slots = _slots(vs, targets)
    if not slots:
        return None
    fam = family(vs)
    proto = (vs.protocol or "TCP").lower()
    total = slots[-1][1] + 1
    parts = [f"{a if a == b else f'{a}-{b}'} : {_dest(t)}" for a, b, t in slots]
    sel = _selector(vs, total)
    if all(t.port for _, _, t in slots):
        return f"meta l4proto {proto} dnat {fam} to {sel} map {{ {', '.join(parts)} }}"
    return f"dnat {fam} to {sel} map {{ {', '.join(parts)} }}"


def persistent(vs: VirtualServer) -> bool:
    """Persistence on nftables, both families (IPv6 by one set per real server: see
    chain_script)."""
    return bool(vs.persistence_timeout)


def pset(ident: str, t: Target) -> str:
    """The IPv6 persistence set of one real server of `ident`, named by its address:port
    (a server that stays keeps its clients across changes of the others)."""
    h = hashlib.sha1(f"{t.address}|{t.port}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{ident}_s{h}"


def client_key(vs: VirtualServer) -> str:
    """The persistence key: the client address masked by persistence_granularity."""
    fam = family(vs)
    g = vs.persistence_granularity
    if not g:
        return f"{fam} saddr"
    if fam == "ip6":
        import ipaddress
        try:
            mask = ipaddress.IPv6Network(f"::/{int(g.lstrip('/'))}").netmask
        except ValueError:
            return f"{fam} saddr"
        return f"{fam} saddr and {mask}"
    return f"{fam} saddr and {g}"


def chain_script(vs: VirtualServer, targets: Sequence[Target], ident: str) -> tuple[str, list[str]]:
    """The nft commands that fill `ident`'s (already flushed) chain, and the names of the
    helper chains they create (persistence: one per real server, recording the choice)."""
    fam = family(vs)
    rule = chain_rule(vs, targets)
    zero = [f"{t.address}:{t.port}" for t in targets if t.weight <= 0]
    # inhibited servers: kept in the table as a comment, with no slot (no new connections)
    note = f"add rule {fam} {TABLE} {ident} counter comment \"inhibited {' '.join(zero)}\"\n" \
        if zero else ""
    if rule is None:
        return note, []
    if not persistent(vs):
        return note + f"add rule {fam} {TABLE} {ident} {rule}\n", []
    slots = _slots(vs, targets)
    total = slots[-1][1] + 1
    proto = (vs.protocol or "TCP").lower()
    ported = all(t.port for _, _, t in slots)
    pmap = f"{ident}_p"
    key = client_key(vs)
    if fam == "ip6":
        # nft 1.0.6 aborts on an IPv6 map update whose data is "address . port": a dynamic
        # set per real server instead, of the (masked) clients it was chosen for; a client in
        # one goes to that server, others are scheduled and recorded in the chosen one's set
        l4 = f"meta l4proto {proto} " if ported else ""
        script = note
        subs, verdicts, lookups = [], [], ""
        for i, (a, b, t) in enumerate(slots):
            sub, name = f"{ident}_b{i}", pset(ident, t)
            subs.append(sub)
            verdicts.append(f"{a if a == b else f'{a}-{b}'} : jump {sub}")
            script += (f"add set ip6 {TABLE} {name} {{ type ipv6_addr; flags dynamic,timeout;"
                       f" timeout {vs.persistence_timeout}s; }}\n"
                       f"add chain ip6 {TABLE} {sub}\nflush chain ip6 {TABLE} {sub}\n"
                       f"add rule ip6 {TABLE} {sub} update @{name} {{ {key} }}"
                       f" {l4}dnat ip6 to {_dnat6(t)}\n")
            lookups += f"add rule ip6 {TABLE} {ident} {key} @{name} jump {sub}\n"
        script += lookups + (f"add rule ip6 {TABLE} {ident} {_selector(vs, total)}"
                             f" vmap {{ {', '.join(verdicts)} }}\n")
        return script, subs
    addr_type = "ipv6_addr" if fam == "ip6" else "ipv4_addr"
    value = f"{addr_type} . inet_service" if ported else addr_type
    l4 = f"meta l4proto {proto} " if ported else ""
    script = (f"add map {fam} {TABLE} {pmap} {{ type {addr_type} : {value}; flags dynamic,timeout;"
              f" timeout {vs.persistence_timeout}s; }}\n"
              + note +
              f"add rule {fam} {TABLE} {ident} {l4}{key} @{pmap} dnat {fam} to {key} map @{pmap}\n")
    subs, verdicts = [], []
    for i, (a, b, t) in enumerate(slots):
        sub = f"{ident}_b{i}"
        subs.append(sub)
        verdicts.append(f"{a if a == b else f'{a}-{b}'} : jump {sub}")
        script += (f"add chain {fam} {TABLE} {sub}\nflush chain {fam} {TABLE} {sub}\n"
                   f"add rule {fam} {TABLE} {sub} update @{pmap} {{ {key} : {_dest(t)} }}"
                   f" {l4}dnat {fam} to {_dest(t).replace(' . ', ':') if fam == 'ip' else _dnat6(t)}\n")
    script += (f"add rule {fam} {TABLE} {ident} {_selector(vs, total)}"
               f" vmap {{ {', '.join(verdicts)} }}\n")
    return script, subs


def _some(names: list[str], n: int = 8) -> str:
    """At most `n` names, then how many more."""
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return " ".join(names[:n]) + more


def _dnat6(t: Target) -> str:
    return f"[{t.address}]:{t.port}" if t.port else f"{t.address}"


class NftDataplane:
    """The nftables `Dataplane` (check/dataplane.py)."""

    def __init__(self) -> None:
        self.chains: dict[str, tuple[str, str]] = {}          # id -> (family, chain body)
        self.subs: dict[str, list[str]] = {}                  # id -> its helper chains
        self.persist: dict[str, tuple[int, frozenset[Target]]] = {}  # id -> (timeout, backends)
        self.warned: dict[str, list[str]] = {}
        self.dispatch: dict[str, tuple[str, list[str]]] = {}  # id -> (family, matches)
        self.groups: dict[str, VirtualServerGroup] = {}
        self.applies = 0
        self.failures = 0
        self._lock = asyncio.Lock()
        self._said = ""                     # the last failure logged (said once)

    async def _nft(self, script: str) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                "nft", "-f", "-", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate(script.encode())
            text = err.decode(errors="replace").strip()[:500]
        except OSError as e:              # no nft binary (FileNotFoundError), EMFILE...
            proc, text = None, f"cannot run nft(8): {e.strerror or e}"
        if proc is None or proc.returncode != 0:
            self.failures += 1
            if text != self._said:
                self._said = text
                log.error("check.nft.failed", error=text)
            return False
        self._said = ""
        self.applies += 1
        return True

    @staticmethod
    async def _list(*args: str) -> tuple[int, bytes]:
        """`nft <args>`: (exit status, stdout); 127 when nft cannot be run."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "nft", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            out, _ = await proc.communicate()
        except OSError:
            return 127, b""
        return proc.returncode or 0, out

    @staticmethod
    def _table(fam: str) -> str:
        return (f"table {fam} {TABLE} {{\n"
                f"  chain dispatch {{ }}\n"
                f"  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;"
                f" jump dispatch; }}\n"
                f"  chain output {{ type nat hook output priority -100; policy accept;"
                f" jump dispatch; }}\n"
                f"}}\n") + NftDataplane._probes(fam)

    @staticmethod
    def _probes(fam: str) -> str:
        """The checker's probes out of connection tracking, in a table of their own
        (PROBE_TABLE: its set's elements are probe addresses, not balancing): packets carrying
        PROBE_MARK, and the server's packets back to them, recognised by their addresses and
        ports, which a probe's SYN and FIN record (for PROBE_LINGER seconds) in a dynamic set."""
        addr = "ipv6_addr" if fam == "ip6" else "ipv4_addr"
        t = f"{fam} {PROBE_TABLE}"
        return (f"add table {t}\n"
                f"add set {t} flows {{ type {addr} . inet_service . {addr} . inet_service;"
                f" flags dynamic,timeout; timeout {PROBE_LINGER}s; size {PROBE_FLOWS}; }}\n"
                f"add chain {t} output {{ type filter hook output priority raw;"
                f" policy accept; }}\n"
                f"flush chain {t} output\n"
                # recorded at the SYN and again at the FIN (the server answers the FIN; no
                # other packet of a probe needs it)
                f"add rule {t} output meta mark {PROBE_MARK:#x} tcp flags & (syn|fin) != 0"
                f" update @flows {{ {fam} daddr . tcp dport . {fam} saddr . tcp sport }}\n"
                f"add rule {t} output meta mark {PROBE_MARK:#x} notrack accept\n"
                # a real server on this host: its packets leave by the output hook
                f"add rule {t} output meta l4proto tcp {fam} saddr . tcp sport . {fam} daddr"
                f" . tcp dport @flows notrack\n"
                f"add chain {t} prerouting {{ type filter hook prerouting priority raw;"
                f" policy accept; }}\n"
                f"flush chain {t} prerouting\n"
                f"add rule {t} prerouting meta l4proto tcp {fam} saddr . tcp sport . {fam}"
                f" daddr . tcp dport @flows notrack\n")

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
                       f"add rule {fam} {TABLE} output jump dispatch\n"
                       + self._probes(fam))
        return await self._nft(script)

    async def flush_all(self) -> None:
        """lvs_flush at the checker's start (keepalived's ipvs_flush_cmd): every virtual
        server left in our tables goes, ours or a previous configuration's, before `setup`
        makes them anew; other tables are not ours to touch. Without lvs_flush a start adopts
        what it finds (`setup`)."""
        if await self._nft(f"table ip {TABLE}\ndelete table ip {TABLE}\n"
                           f"table ip6 {TABLE}\ndelete table ip6 {TABLE}\n"):     # not probes
            log.info("check.nft.flushed", table=TABLE,
                     compat=f"lvs_flush: nftables tables {TABLE} flushed")

    async def prune(self) -> int:
        """Bring our tables to this version's layout once the configured virtual servers are
        applied: every chain, map and set in them that nothing here uses goes — the `vs_*`
        ones of virtual servers no longer configured (left by a previous checker or a
        previous configuration) and whatever an older version of ours had there (its
        `probes` and `probe_replies` chains and `probe_flows` set in `keepalived_py`, before
        the probes had a table of their own). What is kept is never flushed (the dispatch
        chain is rewritten in the same transaction that drops the rules leading to what
        goes); returns how many chains went."""
        import json
        gone = 0
        async with self._lock:
            for fam in ("ip", "ip6"):
                owned = set(self.chains) | {s for subs in self.subs.values() for s in subs}
                maps = {f"{i}_p" for i, (_, body) in self.chains.items() if f"{i}_p" in body}
                sets = {pset(i, t) for i, (_, ts) in self.persist.items() for t in ts}
                want = {TABLE: (owned | BASE_CHAINS, maps | sets),
                        PROBE_TABLE: (PROBE_CHAINS, PROBE_SETS)}
                script = ""
                stale_chains = 0
                for table, (chains, named) in want.items():
                    code, out = await self._list("-j", "list", "table", fam, table)
                    if code != 0:
                        continue
                    try:
                        items = json.loads(out).get("nftables", [])
                    except ValueError:
                        continue
                    stale = sorted({i["chain"].get("name", "") for i in items if "chain" in i}
                                   - chains - {""})
                    stale_named = sorted({(k, i[k].get("name", "")) for i in items
                                          for k in ("map", "set") if k in i
                                          and i[k].get("name", "") not in named})
                    if not stale and not stale_named:
                        continue
                    if table == TABLE:
                        script += self._dispatch_script(fam)
                    # rules first (a chain in use by a jump, a set used by a rule cannot go),
                    # then the chains, then the sets and maps
                    script += "".join(f"flush chain {fam} {table} {n}\n" for n in stale)
                    script += "".join(f"delete chain {fam} {table} {n}\n" for n in stale)
                    script += "".join(f"delete {k} {fam} {table} {n}\n"
                                      for k, n in stale_named)
                    stale_chains += len(stale)
                    if any(not n.startswith("vs_") for n in stale) or any(
                            not n.startswith("vs_") for _, n in stale_named):
                        log.info("check.nft.layout", family=fam, table=table,
                                 chains=" ".join(n for n in stale if not n.startswith("vs_")),
                                 sets=" ".join(n for _, n in stale_named
                                               if not n.startswith("vs_")),
                                 compat=f"nftables table {fam} {table}: removing what an"
                                        " older keepalived-py left there")
                if script and await self._nft(script):
                    gone += stale_chains
        return gone

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        """Make the kernel send `vs`'s traffic to `targets` (replacing only its chains)."""
        async with self._lock:
            ident, fam = vs_id(vs), family(vs)
            said = warnings(vs)
            if self.warned.get(ident) != said:
                self.warned[ident] = said
                for text in said:
                    log.warning("check.nft.fallback", vs=ident, compat=text)
            body, subs = chain_script(vs, targets, ident)
            old_subs = self.subs.get(ident, [])
            script = f"add chain {fam} {TABLE} {ident}\nflush chain {fam} {TABLE} {ident}\n"
            for sub in old_subs:
                script += f"flush chain {fam} {TABLE} {sub}\n"
            for sub in old_subs:
                if sub not in subs:
                    script += f"delete chain {fam} {TABLE} {sub}\n"
            pmap = f"{ident}_p"
            before = self.persist.get(ident)
            live = frozenset(t for t in targets if t.weight > 0)
            if before is not None and (not persistent(vs)
                                       or before[0] != vs.persistence_timeout):
                if fam == "ip6":                  # gone or redefined
                    script += "".join(f"delete set ip6 {TABLE} {pset(ident, t)}\n"
                                      for t in before[1])
                else:
                    script += f"delete map {fam} {TABLE} {pmap}\n"
                before = None
            if before is not None and fam == "ip6":
                # a real server left: its set goes (its clients choose again)
                script += "".join(f"delete set ip6 {TABLE} {pset(ident, t)}\n"
                                  for t in before[1] - live)
            script += body
            if before is not None and before[1] - live and fam == "ip":
                # a real server left: its clients choose again
                script += f"flush map {fam} {TABLE} {pmap}\n"
            new_dispatch = ident not in self.dispatch
            self.dispatch[ident] = (fam, match(vs, self.groups))
            if new_dispatch:
                script += self._dispatch_script(fam)
            ok = await self._nft(script)
            if ok:
                self.chains[ident] = (fam, body)
                self.subs[ident] = subs
                if persistent(vs) and (f"{ident}_p" in body or f"{ident}_s" in body):
                    self.persist[ident] = (vs.persistence_timeout or 0, live)
                elif not persistent(vs):
                    self.persist.pop(ident, None)
                names = [f"{t.address}:{t.port}" for t in targets if t.weight]
                zero = [f"{t.address}:{t.port}" for t in targets if not t.weight]
                # a summary: a virtual server of 10,000 real servers is not a 10,000-name line
                log.info("check.nft.applied", vs=ident, backends=len(names),
                         inhibited=len(zero), first=_some(names), first_inhibited=_some(zero))
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
            subs = self.subs.pop(ident, [])
            script = self._dispatch_script(fam) + f"flush chain {fam} {TABLE} {ident}\n"
            script += "".join(f"flush chain {fam} {TABLE} {sub}\n" for sub in subs)
            script += "".join(f"delete chain {fam} {TABLE} {sub}\n" for sub in subs)
            script += f"delete chain {fam} {TABLE} {ident}\n"
            before = self.persist.pop(ident, None)
            if before is not None and fam == "ip6":
                script += "".join(f"delete set ip6 {TABLE} {pset(ident, t)}\n"
                                  for t in before[1])
            elif before is not None:
                script += f"delete map {fam} {TABLE} {ident}_p\n"
            return await self._nft(script)

    async def present(self) -> bool:
        """Are our tables still in the kernel? (`nft flush ruleset`, as nftables.service runs
        at every start or reload of the firewall, removes them with everything else.)"""
        families = {fam for fam, _ in self.dispatch.values()} or {"ip"}
        for fam in sorted(families):
            code, _ = await self._list("list", "chain", fam, TABLE, "dispatch")
            if code != 0:
                return False
        return True

    async def restore(self) -> bool:
        """Put our tables back as they were, from what we applied (checker state untouched)."""
        async with self._lock:
            script = ""
            for fam in ("ip", "ip6"):
                script += (f"table {fam} {TABLE}\ndelete table {fam} {TABLE}\n"
                           f"table {fam} {PROBE_TABLE}\ndelete table {fam} {PROBE_TABLE}\n"
                           + self._table(fam))
            for ident, (fam, body) in sorted(self.chains.items()):
                script += f"add chain {fam} {TABLE} {ident}\n" + body
            for fam in sorted({f for f, _ in self.dispatch.values()}):
                script += self._dispatch_script(fam)
            return await self._nft(script)

    async def teardown(self) -> None:
        await self._nft("".join(f"table {fam} {t}\ndelete table {fam} {t}\n"
                                for fam in ("ip", "ip6") for t in (TABLE, PROBE_TABLE)))
