"""The IPVS dataplane through pyroute2's asyncio IPVS API (generic netlink family "IPVS").

Services and destinations are built from the model by pure functions (message-level tests
need no kernel); `IpvsDataplane`, a `check.dataplane.Dataplane`, applies differences — new
destinations added, changed weights set (command "set": pyroute2 maps "update" to a DEL),
removed ones deleted — never a flush and rebuild. Used when the kernel has IPVS (or
`dataplane ipvs` is configured).

Reconcile, never retry: a service or destination that is already in the kernel (a respawned
checker finds what its predecessor configured, or keepalived ran before without `-C`) is
adopted — EEXIST on add becomes a "set" to the configured attributes and the kernel's
destinations are read back, so the next difference is computed against what is really
there; ENOENT/ESRCH on delete means it is already gone. `already_done` is that one rule.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Sequence
from typing import Any

from keepalived_py.check import dataplane
from keepalived_py.check.dataplane import vs_id
from keepalived_py.check.genl import (  # noqa: F401 (GenlError, parse_nlas: the module's API)
    NLA_F_NESTED,
    GenlError,
    GenlSocket,
    ipvs_available,
    nla,
    parse_nlas,
)
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.check.ipvs")

PROTOCOLS = {"TCP": socket.IPPROTO_TCP, "UDP": socket.IPPROTO_UDP, "SCTP": 132}
# IP_VS_CONN_F_* forwarding methods (linux/ip_vs.h)
METHODS = {"NAT": 0, "TUN": 2, "DR": 3}
IP_VS_SVC_F_PERSISTENT = 0x1
IP_VS_SVC_F_ONEPACKET = 0x4


def service_fields(vs: VirtualServer) -> dict[str, Any]:
    """The IPVS service attributes for `vs` (address/port/protocol or fwmark)."""
    flags = 0
    if vs.persistence_timeout:
        flags |= IP_VS_SVC_F_PERSISTENT
    f: dict[str, Any] = {"sched_name": vs.lvs_sched or "wlc",
                         "flags": {"flags": flags, "mask": 0xFFFF},
                         "timeout": vs.persistence_timeout or 0}
    v6 = vs.address is not None and vs.address.version == 6
    if vs.fwmark is not None:                  # ip_family: given, or the servers' (build_lvs)
        v6 = vs.ip_family == "inet6"
        f.update(fwmark=vs.fwmark, af=socket.AF_INET6 if v6 else socket.AF_INET)
    else:
        assert vs.address is not None
        f.update(addr=str(vs.address), port=vs.port or 0,
                 protocol=PROTOCOLS.get(vs.protocol or "TCP", socket.IPPROTO_TCP),
                 af=socket.AF_INET6 if v6 else socket.AF_INET)
    f["netmask"] = granularity(vs.persistence_granularity, v6)
    return f


def granularity(value: str | None, v6: bool) -> str:
    """persistence_granularity as IPVS's netmask attribute (4 bytes, pyroute2 "ip4addr"): a
    dotted IPv4 mask as is; for IPv6 a prefix length, which the kernel reads as a host-order
    u32 (as libipvs sends it); none means one client address (/32, /128)."""
    plen = 128
    if v6:
        try:
            plen = int((value or "128").lstrip("/"))
        except ValueError:
            plen = 128
        return socket.inet_ntoa(struct.pack("=I", plen))
    try:
        return str(ipaddress.IPv4Address(value or "255.255.255.255"))
    except ValueError:
        return "255.255.255.255"


def already_done(op: str, err: BaseException) -> bool:
    """A pyroute2 error on an IPVS "add"/"del" read by the checker's one errno rule
    (check.dataplane.already_done): EEXIST on add, ENOENT/ESRCH on delete are success."""
    code = getattr(err, "code", None)
    if op not in ("add", "del"):
        return False
    return dataplane.already_done(code if isinstance(code, int) else None, op == "add")


def dest_fields(target: Target, method: str) -> dict[str, Any]:
    return {"addr": target.address, "port": target.port, "weight": target.weight,
            "fwd_method": METHODS.get(method, 0)}


def pyroute2_ipvs() -> Any:
    """pyroute2's IPVS API (AsyncIPVS, IPVSService, IPVSDest): its module alone, without the
    package's __init__ (pyroute2_parts.py: ~1.5 instead of ~10 MiB), only on the IPVS
    dataplane."""
    from keepalived_py.pyroute2_parts import pyroute2_without_its_init
    pyroute2_without_its_init()
    import pyroute2.ipvs
    return pyroute2.ipvs


def service_of(vs: VirtualServer) -> Any:
    return pyroute2_ipvs().IPVSService(**service_fields(vs))


def dest_of(target: Target, method: str) -> Any:
    return pyroute2_ipvs().IPVSDest(**dest_fields(target, method))


async def _messages(request: Any) -> list[Any]:
    """A dump's messages: pyroute2 answers with a list or an async iterator."""
    result = await request
    if hasattr(result, "__aiter__"):
        return [m async for m in result]
    return list(result)


class IpvsDataplane:
    groups: dict[str, Any]

    def __init__(self) -> None:
        self.groups = {}
        self.ipvs: Any = None
        self.current: dict[str, dict[tuple[str, int], Target]] = {}
        self.services: dict[str, Any] = {}
        self.fields: dict[str, dict[str, Any]] = {}

    async def setup(self) -> bool:
        try:
            self.ipvs = pyroute2_ipvs().AsyncIPVS()
            await self.ipvs.setup_endpoint()
        except Exception as e:
            log.error("check.ipvs.unavailable", error=str(e))
            return False
        return True

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        ident = vs_id(vs)
        svc = service_of(vs)
        try:
            if ident not in self.services:
                self.current[ident] = await self._add_service(ident, svc)
            elif self.fields.get(ident) != service_fields(vs):
                await self.ipvs.service("set", service=svc)     # lb_algo, persistence changed
            self.services[ident] = svc
            self.fields[ident] = service_fields(vs)
            have = self.current[ident]
            want = {(t.address, t.port): t for t in targets}
            for key, t in want.items():
                method = t.method or vs.lvs_method          # per real server, or the VS's
                if key not in have:
                    await self._dest("add", svc, dest_of(t, method))
                elif have[key].weight != t.weight or \
                        (have[key].method or vs.lvs_method) != method:
                    await self._dest("set", svc, dest_of(t, method))
                have[key] = t
            for key, t in list(have.items()):
                if key not in want:
                    await self._dest("del", svc, dest_of(t, t.method or vs.lvs_method))
                    del have[key]
            return True
        except Exception as e:
            log.error("check.ipvs.apply_failed", vs=ident, error=str(e))
            return False

    async def _add_service(self, ident: str, svc: Any) -> dict[tuple[str, int], Target]:
        """Add the service, or adopt it as the kernel has it (its destinations read back)."""
        try:
            await self.ipvs.service("add", service=svc)
            return {}
        except Exception as e:
            if not already_done("add", e):
                raise
        await self.ipvs.service("set", service=svc)
        have = await self.dests(svc)
        log.info("check.ipvs.adopted", vs=ident, destinations=len(have))
        return have

    async def dests(self, svc: Any) -> dict[tuple[str, int], Target]:
        """The kernel's destinations of `svc`."""
        out: dict[tuple[str, int], Target] = {}
        for msg in await _messages(self.ipvs.dest("dump", service=svc)):
            a = dict(msg.get("IPVS_CMD_ATTR_DEST")["attrs"])
            addr = str(a.get("IPVS_DEST_ATTR_ADDR"))
            port = int(a.get("IPVS_DEST_ATTR_PORT", 0))
            fwd = int(a.get("IPVS_DEST_ATTR_FWD_METHOD", 0)) & 0x7
            method = next((k for k, v in METHODS.items() if v == fwd), "")
            out[(addr, port)] = Target(addr, port, int(a.get("IPVS_DEST_ATTR_WEIGHT", 0)),
                                       method)
        return out

    async def _dest(self, op: str, svc: Any, dest: Any) -> None:
        try:
            await self.ipvs.dest(op, service=svc, dest=dest)
        except Exception as e:
            if not already_done(op, e):
                raise
            if op == "add":                          # there already: make it what we want
                await self.ipvs.dest("set", service=svc, dest=dest)

    async def flush_all(self) -> None:
        """lvs_flush: remove every IPVS service at start, ours or not (keepalived's rule)."""
        if self.ipvs is None and not await self.setup():
            return
        try:
            for msg in await _messages(self.ipvs.service("dump")):
                await self.ipvs.service("del",
                                        service=pyroute2_ipvs().IPVSService.from_message(msg))
        except Exception as e:
            log.error("check.ipvs.flush_failed", error=str(e))

    async def remove(self, vs: VirtualServer) -> bool:
        ident = vs_id(vs)
        svc = self.services.pop(ident, None)
        self.current.pop(ident, None)
        self.fields.pop(ident, None)
        if svc is None:
            return True
        try:
            await self.ipvs.service("del", service=svc)
        except Exception as e:
            if not already_done("del", e):
                log.error("check.ipvs.remove_failed", vs=ident, error=str(e))
                return False
        return True

    async def prune(self) -> int:
        """IPVS services are not tagged as ours: nothing is pruned (lvs_flush removes all)."""
        return 0

    async def present(self) -> bool:
        return True

    async def restore(self) -> bool:
        return True

    async def teardown(self) -> None:
        for ident in list(self.services):
            svc = self.services.pop(ident)
            try:
                await self.ipvs.service("del", service=svc)
            except Exception as e:
                if not already_done("del", e):
                    log.warning("check.ipvs.remove_failed", vs=ident, error=str(e))
        if self.ipvs is not None:
            self.ipvs.close()


# -- raw generic netlink: what pyroute2's IPVS API has no message for ----------------------
# The sync daemon (IPVS_CMD_NEW_DAEMON / DEL_DAEMON / GET_DAEMON), the connection timeouts
# (IPVS_CMD_SET_CONFIG / GET_CONFIG) and a full flush (IPVS_CMD_FLUSH): pyroute2 0.9 declares
# IPVS_CMD_ATTR_DAEMON and the timeouts as opaque "hex", so these are encoded here
# (linux/ip_vs.h) on check/genl.py's raw requests. Blocking requests on a socket of their
# own: each is one kernel round trip (keepalived's libipvs is synchronous too), and the VRRP
# child uses them without an IPVS event loop.
IPVS_CMD_NEW_DAEMON, IPVS_CMD_DEL_DAEMON, IPVS_CMD_GET_DAEMON = 9, 10, 11
IPVS_CMD_SET_CONFIG, IPVS_CMD_GET_CONFIG, IPVS_CMD_FLUSH = 12, 13, 17
IPVS_CMD_ATTR_DAEMON = 3
IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, IPVS_CMD_ATTR_TIMEOUT_UDP = 4, 5, 6
(IPVS_DAEMON_ATTR_STATE, IPVS_DAEMON_ATTR_MCAST_IFN, IPVS_DAEMON_ATTR_SYNC_ID,
 IPVS_DAEMON_ATTR_SYNC_MAXLEN, IPVS_DAEMON_ATTR_MCAST_GROUP, IPVS_DAEMON_ATTR_MCAST_GROUP6,
 IPVS_DAEMON_ATTR_MCAST_PORT, IPVS_DAEMON_ATTR_MCAST_TTL) = range(1, 9)
IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP = 1, 2
SYNC_STATES = {"MASTER": IP_VS_STATE_MASTER, "BACKUP": IP_VS_STATE_BACKUP}


def daemon_attrs(state: str, sync: Any | None) -> bytes:
    """IPVS_CMD_ATTR_DAEMON for a sync daemon in `state` (MASTER/BACKUP); `sync` is the
    configuration (model.LvsSyncDaemon) when starting, None when stopping (the kernel needs
    the state only; keepalived sends syncid 0 then)."""
    body = nla(IPVS_DAEMON_ATTR_STATE, struct.pack("=i", SYNC_STATES[state]))
    if sync is None:
        return nla(IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED,
                   body + nla(IPVS_DAEMON_ATTR_SYNC_ID, struct.pack("=i", 0)))
    body += nla(IPVS_DAEMON_ATTR_MCAST_IFN, sync.interface.encode() + b"\0")
    body += nla(IPVS_DAEMON_ATTR_SYNC_ID, struct.pack("=i", sync.syncid or 0))
    if sync.maxlen:
        body += nla(IPVS_DAEMON_ATTR_SYNC_MAXLEN, struct.pack("=H", sync.maxlen))
    if sync.port:
        body += nla(IPVS_DAEMON_ATTR_MCAST_PORT, struct.pack("=H", sync.port))
    if sync.ttl:
        body += nla(IPVS_DAEMON_ATTR_MCAST_TTL, struct.pack("=B", sync.ttl))
    if sync.group is not None:
        if sync.group.version == 6:
            body += nla(IPVS_DAEMON_ATTR_MCAST_GROUP6, sync.group.packed)
        else:
            body += nla(IPVS_DAEMON_ATTR_MCAST_GROUP, sync.group.packed)
    return nla(IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED, body)


def timeout_attrs(tcp: int, tcpfin: int, udp: int) -> bytes:
    return (nla(IPVS_CMD_ATTR_TIMEOUT_TCP, struct.pack("=I", tcp))
            + nla(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, struct.pack("=I", tcpfin))
            + nla(IPVS_CMD_ATTR_TIMEOUT_UDP, struct.pack("=I", udp)))


class IpvsControl(GenlSocket):
    """Blocking IPVS requests over a NETLINK_GENERIC socket of its own (see above); opening
    it resolves the family, which autoloads ip_vs; OSError when absent."""

    FAMILY = b"IPVS"

    def ipvs(self, cmd: int, attrs: bytes = b"", dump: bool = False) -> list[bytes]:
        return self.request(cmd, attrs, dump)

    # -- the sync daemon --------------------------------------------------------------------
    def start_daemon(self, state: str, sync: Any) -> None:
        self.ipvs(IPVS_CMD_NEW_DAEMON, daemon_attrs(state, sync))

    def stop_daemon(self, state: str) -> None:
        self.ipvs(IPVS_CMD_DEL_DAEMON, daemon_attrs(state, None))

    def daemons(self) -> dict[str, dict[str, Any]]:
        """The running sync daemons by state: interface and syncid."""
        out: dict[str, dict[str, Any]] = {}
        for msg in self.ipvs(IPVS_CMD_GET_DAEMON, dump=True):
            d = parse_nlas(parse_nlas(msg).get(IPVS_CMD_ATTR_DAEMON, b""))
            if IPVS_DAEMON_ATTR_STATE not in d:
                continue
            st = struct.unpack_from("=i", d[IPVS_DAEMON_ATTR_STATE])[0]
            name = {v: k for k, v in SYNC_STATES.items()}.get(st, str(st))
            out[name] = {"interface": d.get(IPVS_DAEMON_ATTR_MCAST_IFN, b"").split(b"\0")[0]
                         .decode(errors="replace"),
                         "syncid": struct.unpack_from("=i", d[IPVS_DAEMON_ATTR_SYNC_ID])[0]
                         if len(d.get(IPVS_DAEMON_ATTR_SYNC_ID, b"")) >= 4 else 0}
        return out

    # -- timeouts and flush -----------------------------------------------------------------
    def timeouts(self) -> tuple[int, int, int]:
        msgs = self.ipvs(IPVS_CMD_GET_CONFIG)
        a = parse_nlas(msgs[0]) if msgs else {}

        def u32(k: int) -> int:
            v = a.get(k, b"")
            return struct.unpack_from("=I", v)[0] if len(v) >= 4 else 0
        return (u32(IPVS_CMD_ATTR_TIMEOUT_TCP), u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN),
                u32(IPVS_CMD_ATTR_TIMEOUT_UDP))

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.ipvs(IPVS_CMD_SET_CONFIG, timeout_attrs(tcp, tcpfin, udp))

    def flush(self) -> None:
        self.ipvs(IPVS_CMD_FLUSH)



def sync_daemon_cmd(ctl: IpvsControl, op: str, state: str, sync: Any | None,
                    ignore_error: bool = False) -> bool:
    """keepalived's ipvs_syncd_cmd for one state: start ("add") or stop ("del"); EEXIST on a
    start and ESRCH/ENOENT on a stop are "already done"; other errors are logged (with
    keepalived's words) unless `ignore_error`. True when the kernel is as asked."""
    try:
        if op == "add":
            ctl.start_daemon(state, sync)
        else:
            ctl.stop_daemon(state)
    except OSError as e:
        if dataplane.already_done(e.errno, op == "add"):
            return True
        if not ignore_error:
            log.warning("check.ipvs.syncd_failed", op=op, state=state, error=str(e),
                        compat=f"IPVS cmd {'IPVS_STARTDAEMON' if op == 'add' else 'IPVS_STOPDAEMON'}"
                               f" error: {e.strerror}({e.errno})")
        return False
    log.info("check.ipvs.syncd", op=op, state=state,
             interface=getattr(sync, "interface", None))
    return True
