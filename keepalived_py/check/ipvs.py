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

import structlog

from keepalived_py.check import dataplane
from keepalived_py.check.dataplane import vs_id
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer

log = structlog.get_logger("keepalived_py.check.ipvs")

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
    if vs.fwmark is not None:
        f.update(fwmark=vs.fwmark, af=socket.AF_INET)
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


def service_of(vs: VirtualServer) -> Any:
    from pyroute2 import IPVSService
    return IPVSService(**service_fields(vs))


def dest_of(target: Target, method: str) -> Any:
    from pyroute2 import IPVSDest
    return IPVSDest(**dest_fields(target, method))


async def ipvs_available() -> bool:
    """Does this kernel have IPVS (the generic netlink family)?"""
    try:
        from pyroute2 import AsyncIPVS
        ipvs = AsyncIPVS()
        await ipvs.setup_endpoint()
        ipvs.close()
        return True
    except Exception:
        return False


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
        from pyroute2 import AsyncIPVS
        try:
            self.ipvs = AsyncIPVS()
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
                if key not in have:
                    await self._dest("add", svc, dest_of(t, vs.lvs_method))
                elif have[key].weight != t.weight:
                    await self._dest("set", svc, dest_of(t, vs.lvs_method))
                have[key] = t
            for key, t in list(have.items()):
                if key not in want:
                    await self._dest("del", svc, dest_of(t, vs.lvs_method))
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
            out[(addr, port)] = Target(addr, port, int(a.get("IPVS_DEST_ATTR_WEIGHT", 0)))
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
                from pyroute2 import IPVSService
                await self.ipvs.service("del", service=IPVSService.from_message(msg))
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
