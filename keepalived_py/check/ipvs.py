"""The IPVS dataplane through pyroute2's asyncio IPVS API (generic netlink family "IPVS").

Services and destinations are built from the model by pure functions (message-level tests
need no kernel); `IpvsDataplane`, a `check.dataplane.Dataplane`, applies differences — new
destinations added, changed weights set (command "set": pyroute2 maps "update" to a DEL),
removed ones deleted — never a flush and rebuild. Used when the kernel has IPVS (or
`dataplane ipvs` is configured).
"""
from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import structlog

from keepalived_py.check.dataplane import already_done, vs_id
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer, VirtualServerGroup

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
    if vs.fwmark is not None:
        f.update(fwmark=vs.fwmark, af=socket.AF_INET)
    else:
        assert vs.address is not None
        v6 = vs.address.version == 6
        f.update(addr=str(vs.address), port=vs.port or 0,
                 protocol=PROTOCOLS.get(vs.protocol or "TCP", socket.IPPROTO_TCP),
                 af=socket.AF_INET6 if v6 else socket.AF_INET,
                 netmask=128 if v6 else 0xFFFFFFFF)
    return f


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


def _code(e: Exception) -> int | None:
    """The errno of a pyroute2 NetlinkError (or an OSError), else None."""
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else getattr(e, "errno", None)


class IpvsDataplane:
    """The IPVS `Dataplane` (check/dataplane.py). A service or destination the kernel
    already has (a respawned checker adopting its predecessor's) counts as added."""

    groups: dict[str, VirtualServerGroup]

    def __init__(self) -> None:
        self.groups = {}
        self.ipvs: Any = None
        self.current: dict[str, dict[tuple[str, int], Target]] = {}
        self.services: dict[str, Any] = {}

    async def setup(self) -> bool:
        from pyroute2 import AsyncIPVS
        try:
            self.ipvs = AsyncIPVS()
            await self.ipvs.setup_endpoint()
        except Exception as e:
            log.error("check.ipvs.unavailable", error=str(e))
            return False
        return True

    async def _call(self, kind: str, op: str, **kwargs: Any) -> None:
        """One IPVS command; an "already done" errno (dataplane.already_done) is success."""
        try:
            await getattr(self.ipvs, kind)(op, **kwargs)
        except Exception as e:
            if op in ("add", "del") and already_done(_code(e), adding=op == "add"):
                return
            raise

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        ident = vs_id(vs)
        svc = service_of(vs)
        try:
            if ident not in self.services:
                await self._call("service", "add", service=svc)
                self.services[ident] = svc
                self.current[ident] = {}
            have = self.current[ident]
            want = {(t.address, t.port): t for t in targets}
            for key, t in want.items():
                if key not in have:
                    await self._call("dest", "add", service=svc, dest=dest_of(t, vs.lvs_method))
                elif have[key].weight != t.weight:
                    await self._call("dest", "set", service=svc, dest=dest_of(t, vs.lvs_method))
            for key, t in have.items():
                if key not in want:
                    await self._call("dest", "del", service=svc, dest=dest_of(t, vs.lvs_method))
            self.current[ident] = want
            return True
        except Exception as e:
            log.error("check.ipvs.apply_failed", vs=ident, error=str(e))
            return False

    async def flush_all(self) -> None:
        """lvs_flush: remove every IPVS service at start, ours or not (keepalived's rule)."""
        if self.ipvs is None and not await self.setup():
            return
        from pyroute2 import IPVSService
        try:
            for msg in [m async for m in await self.ipvs.service("dump")]:
                await self._call("service", "del", service=IPVSService.from_message(msg))
        except Exception as e:
            log.error("check.ipvs.flush_failed", error=str(e))

    async def remove(self, vs: VirtualServer) -> bool:
        ident = vs_id(vs)
        svc = self.services.pop(ident, None)
        self.current.pop(ident, None)
        if svc is None:
            return True
        try:
            await self._call("service", "del", service=svc)
        except Exception as e:
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
                await self._call("service", "del", service=svc)
            except Exception as e:
                log.error("check.ipvs.remove_failed", vs=ident, error=str(e))
        if self.ipvs is not None:
            self.ipvs.close()
