"""promote_secondaries: keepalived 2.2.7 sets net.ipv4.conf.IF.promote_secondaries to 1 on the
interface of an instance that asks for it (unless it is 1 already: then it is left alone), so
that deleting a VIP that happens to be the primary address of its subnet does not take the
other addresses of that subnet with it; the last instance using it resets it to 0 at stop.
VMAC instances need nothing: vrrp/vmac.py sets it on the VMAC itself."""
from __future__ import annotations

import contextlib

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp.promote")


def _path(ifname: str) -> str:
    return f"/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries"


class PromoteSecondaries:
    """Reference counts per interface of the instances that set it (vrrp_if_config.c)."""

    def __init__(self) -> None:
        self.users: dict[str, set[str]] = {}

    def acquire(self, ifname: str, who: str) -> None:
        users = self.users.get(ifname)
        if users is not None:
            users.add(who)
            return
        try:
            with open(_path(ifname)) as f:
                if f.read().strip() == "1":
                    return                  # the operator's (or the kernel's): not ours
            with open(_path(ifname), "w") as f:
                f.write("1")
        except OSError as e:
            log.warning("vrrp.promote_secondaries.failed", interface=ifname, error=e.strerror)
            return
        self.users[ifname] = {who}

    def release(self, who: str) -> None:
        for ifname, users in list(self.users.items()):
            users.discard(who)
            if not users:
                del self.users[ifname]
                with contextlib.suppress(OSError):       # the interface may be gone
                    with open(_path(ifname), "w") as f:
                        f.write("0")
