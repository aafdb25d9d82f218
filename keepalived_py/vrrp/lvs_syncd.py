"""The IPVS sync daemon following a VRRP instance (global_defs `lvs_sync_daemon IF inst NAME`).

keepalived 2.2.7's rule (vrrp/vrrp.c, vrrp_scheduler.c, vrrp_daemon.c): the VRRP child starts
the kernel's sync daemon as BACKUP when the instance starts; when the instance becomes MASTER
the backup daemon is stopped and a master daemon started; when it leaves MASTER (BACKUP,
FAULT) the reverse; at shutdown the daemon of the current role is stopped. Unlike keepalived
2.2.7 (which restarts it from an empty configuration), a reload that changes the sync daemon's
settings stops the running daemon and starts it again with the new ones. The kernel requests
are check/ipvs.py's (raw generic netlink: pyroute2 has no sync-daemon message).
"""
from __future__ import annotations

from collections.abc import Callable

from keepalived_py.config.model import Config, LvsSyncDaemon


class SyncDaemonFollower:
    def __init__(self) -> None:
        self.cfg: LvsSyncDaemon | None = None
        self.role: str | None = None            # "MASTER" | "BACKUP": the daemon running
        self.ctl = None
        self.stopped = False

    def _cmd(self, op: str, role: str, ignore_error: bool = False) -> None:
        from keepalived_py.check.ipvs import IpvsControl, sync_daemon_cmd
        if self.ctl is None:
            self.ctl = IpvsControl()  # type: ignore[assignment]
        sync_daemon_cmd(self.ctl, op, role, self.cfg,  # type: ignore[arg-type]
                        ignore_error=ignore_error)

    def configure(self, config: Config, state_of: Callable[[str], str | None]) -> None:
        """Start, reload: the daemon in the role of its instance's state."""
        sync = config.global_defs.lvs_sync_daemon
        new = sync if sync is not None and sync.instance is not None else None
        if new == self.cfg:
            return
        if self.cfg is not None and self.role is not None:
            self._cmd("del", self.role, ignore_error=True)      # changed or removed
        self.cfg, self.role = new, None
        if new is None:
            return
        assert new.instance is not None
        role = "MASTER" if state_of(new.instance) == "MASTER" else "BACKUP"
        self._cmd("add", role)
        self.role = role

    def reassert(self) -> None:
        """After a reload that took the daemon over from the checker child (which stops its
        own at the same time, and the kernel keys daemons by role only): start ours again if
        it is missing (EEXIST: still running)."""
        if not self.stopped and self.cfg is not None and self.role is not None:
            self._cmd("add", self.role)

    def state_changed(self, instance: str, state: str) -> None:
        if self.stopped or self.cfg is None or instance != self.cfg.instance:
            return
        role = "MASTER" if state == "MASTER" else "BACKUP"
        if role == self.role:
            return
        if self.role is not None:
            self._cmd("del", self.role)
        self._cmd("add", role)
        self.role = role

    def stop(self) -> None:
        """Shutdown: the running daemon stops; later transitions (STOP) change nothing."""
        self.stopped = True
        if self.cfg is not None and self.role is not None:
            self._cmd("del", self.role)
        self.role = None
        if self.ctl is not None:
            self.ctl.close()
