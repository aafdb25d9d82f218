"""The checker child's global IPVS settings: lvs_timeouts, lvs_flush, lvs_flush_on_stop and
the sync daemon when no VRRP instance runs it (keepalived 2.2.7's check/check_daemon.c).

- `lvs_timeouts`: set at start and reload; a reload that drops them, and the stop, put back
  the values the kernel had before we first changed them.
- `lvs_flush`: every IPVS service is flushed at start (IPVS_CMD_FLUSH), ours or not.
- `lvs_sync_daemon IF` without `inst`: both a master and a backup daemon run, started at
  start (after stopping any a killed checker left), restarted when a reload changes them,
  stopped at stop. With `inst NAME` the VRRP child runs it (vrrp/lvs_syncd.py).
- `lvs_flush_on_stop` (alone: ALL): all of IPVS is flushed at stop; VS and the default
  remove our virtual servers (the same end state here: IPVS deletes a service's real
  servers with it).
Only on the IPVS dataplane; errors are logged, never fatal (the balancing goes on).
"""
from __future__ import annotations

import json
import os

from keepalived_py.check.ipvs import IpvsControl, sync_daemon_cmd
from keepalived_py.config.model import GlobalDefs, LvsSyncDaemon
from keepalived_py.obs import slog
from keepalived_py.obs.dumps import write_atomic

log = slog.get_logger("keepalived_py.check")


def checker_syncd(g: GlobalDefs) -> LvsSyncDaemon | None:
    """The sync daemon the checker runs (keepalived's checker_ipvs_syncd_needed)."""
    s = g.lvs_sync_daemon
    return s if s is not None and s.instance is None else None


class IpvsGlobals:
    def __init__(self, state_path: str | None = None) -> None:
        self.ctl = IpvsControl()
        self.syncd: LvsSyncDaemon | None = None
        self.original: tuple[int, int, int] | None = None   # the kernel's, before ours
        # the kernel's timeouts before we changed them, kept across a checker respawn (the
        # new checker would otherwise read ours back as "the originals"); removed at stop
        self.state_path = state_path

    def _originals(self) -> tuple[int, int, int]:
        if self.original is None and self.state_path:
            try:
                with open(self.state_path) as f:
                    v = json.load(f)
                if isinstance(v, list) and len(v) == 3 and all(isinstance(x, int) for x in v):
                    self.original = (v[0], v[1], v[2])
            except (OSError, ValueError):
                pass
        if self.original is None:
            self.original = self.ctl.timeouts()
            if self.state_path:
                try:
                    write_atomic(self.state_path, json.dumps(list(self.original)), 0o600)
                except OSError as e:
                    log.warning("check.ipvs.state_unwritable", path=self.state_path,
                                error=e.strerror)
        return self.original

    def flush(self) -> None:
        try:
            self.ctl.flush()
            log.info("check.ipvs.flushed")
        except OSError as e:
            log.error("check.ipvs.flush_failed", error=str(e))

    def configure(self, g: GlobalDefs, reload: bool) -> None:
        self._timeouts(g.lvs_timeouts, reload)
        want = checker_syncd(g)
        if want == self.syncd and reload:
            return
        if want is not None or (reload and self.syncd is not None):
            # a killed checker's daemons, changed settings, or a daemon the VRRP child ran
            # before this reload: stop both first (with `inst` the checker leaves them alone)
            for role in ("MASTER", "BACKUP"):
                sync_daemon_cmd(self.ctl, "del", role, None, ignore_error=True)
        self.syncd = want
        if want is not None:
            for role in ("MASTER", "BACKUP"):
                sync_daemon_cmd(self.ctl, "add", role, want)

    def reassert(self) -> None:
        """A reload that moves the sync daemon between the VRRP child and us races with the
        VRRP child stopping its own (the kernel keys daemons by role only): a little later,
        start whichever of ours is missing (EEXIST: still running, nothing said)."""
        if self.syncd is not None:
            for role in ("MASTER", "BACKUP"):
                sync_daemon_cmd(self.ctl, "add", role, self.syncd)

    def _timeouts(self, want: tuple[int, int, int], reload: bool) -> None:
        try:
            if any(want):
                orig = self._originals()
                self.ctl.set_timeouts(*(w or o for w, o in zip(want, orig, strict=True)))
                log.info("check.ipvs.timeouts", tcp=want[0], tcpfin=want[1], udp=want[2])
            elif reload and self.original is not None:
                self.ctl.set_timeouts(*self.original)
                log.info("check.ipvs.timeouts_restored")
        except OSError as e:
            log.warning("check.ipvs.timeouts_failed", error=str(e),
                        compat="Failed to set ipvs timeouts")

    def stop(self, g: GlobalDefs, release: bool) -> None:
        if self.syncd is not None:
            for role in ("MASTER", "BACKUP"):
                sync_daemon_cmd(self.ctl, "del", role, None, ignore_error=True)
            self.syncd = None
        if release and g.lvs_flush_on_stop == "ALL":
            self.flush()
        if self.original is not None and release:   # ipvs_stop(): the kernel's timeouts back
            try:
                self.ctl.set_timeouts(*self.original)
                if self.state_path:
                    os.unlink(self.state_path)
            except OSError as e:
                log.warning("check.ipvs.timeouts_failed", error=str(e))
        self.ctl.close()
