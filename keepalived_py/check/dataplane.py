"""The checker's dataplane interface, shared by nftables (nft.py) and IPVS (ipvs.py).

Theory of operation. The checker daemon knows virtual servers and, for each, the targets
(live real servers, or the sorry server) that realserver.targets computes. A dataplane makes
the kernel balance a virtual server's traffic over exactly those targets. `apply` adds the
service when it is new and adds, re-weights or deletes real servers to match (never a flush
and rebuild); `remove` deletes the service. `setup` creates the dataplane's kernel state or
adopts what a previous checker left (traffic keeps flowing across a respawn), `prune` then
removes what no configured virtual server owns, and `present`/`restore` notice and repair a
removal by another tool. `teardown` removes our state and closes the kernel handle.

Both dataplanes name a virtual server by `vs_id` (its address, port, protocol, fwmark and
group): the same identity the daemon diffs a reload by. Kernel races are handled by errno in
one place (`already_done`, keepalived_py/kernel_errno.py, shared with the VRRP child).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from keepalived_py import kernel_errno
from keepalived_py.check.realserver import Target
from keepalived_py.config.model_lvs import VirtualServer, VirtualServerGroup


def already_done(code: int | None, adding: bool) -> bool:
    """Does a kernel error `code` on an add (`adding`) or delete mean "already done"? The
    rule the VRRP child's netlink uses too (keepalived_py/kernel_errno.py)."""
    return kernel_errno.already_done(adding, code)


def vs_id(vs: VirtualServer) -> str:
    """A virtual server's stable identity (an nft chain name, a dataplane key)."""
    key = f"{vs.address}|{vs.port}|{vs.protocol}|{vs.fwmark}|{vs.group}"
    return "vs_" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]


class Dataplane(Protocol):
    """What the checker daemon drives; see the module docstring."""

    groups: dict[str, VirtualServerGroup]   # virtual_server_group name -> group (for matches)

    async def setup(self) -> bool:
        """Create or adopt our kernel state; False when this dataplane is unusable."""

    async def flush_all(self) -> None:
        """lvs_flush: remove every service in the kernel, ours or not."""

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        """Add `vs` if new, then add, update and remove its real servers to match `targets`."""

    async def remove(self, vs: VirtualServer) -> bool:
        """Remove `vs` and its real servers."""

    async def prune(self) -> int:
        """Remove services of ours that no configured virtual server owns; how many."""

    async def present(self) -> bool:
        """Is our kernel state still there (not removed by another tool)?"""

    async def restore(self) -> bool:
        """Put our kernel state back as last applied."""

    async def teardown(self) -> None:
        """Remove our kernel state and close."""
