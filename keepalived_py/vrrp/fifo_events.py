"""Notify-FIFO lines and log lines keepalived 2.2.7 writes besides state changes:

- `notify_priority_changes` (instance, else its sync group, else global_defs'
  vrrp_notify_priority_changes): on every change of the effective priority, a FIFO line
  `INSTANCE "NAME" MASTER_PRIORITY|BACKUP_PRIORITY PRIO` (MASTER_PRIORITY only in MASTER);
- `fifo_write_vrrp_states_on_reload`: after a reload, every sync group's state and every kept
  instance's that is not MASTER again on the FIFOs (vrrp_init_state);
- `log_unknown_vrids`: "Unknown VRID(N) received on interface(IF). ignoring...".
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keepalived_py.notify.fifo import vrrp_fifo_line
from keepalived_py.obs import slog
from keepalived_py.vrrp import machine as m

log = slog.get_logger("keepalived_py.vrrp")

UNKNOWN_VRID_LOG_INTERVAL = 1.0    # keepalived logs each one; at most one line per second per
#                                    (interface, VRID) here, so that a flood cannot fill a disk


def priority_line(name: str, state: m.State, priority: int) -> bytes:
    kind = "MASTER_PRIORITY" if state is m.State.MASTER else "BACKUP_PRIORITY"
    return vrrp_fifo_line("INSTANCE", name, kind, priority)


def reload_lines(groups: Iterable[tuple[str, str]], instances: Iterable[tuple[str, m.State, int]]
                 ) -> list[bytes]:
    """The FIFO lines of fifo_write_vrrp_states_on_reload: groups (name, state) first, then
    the instances (name, state, priority) that are not MASTER."""
    out = [vrrp_fifo_line("GROUP", g, state, 0) for g, state in groups]
    out += [vrrp_fifo_line("INSTANCE", n, st.value, prio) for n, st, prio in instances
            if st is not m.State.MASTER]
    return out


class UnknownVrids:
    """log_unknown_vrids: one line per advert for a VRID no instance on that socket has."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, int], float] = {}
        self.count = 0

    def heard(self, ifname: str, vrid: int, now: float) -> None:
        self.count += 1
        key = (ifname, vrid)
        if now - self.last.get(key, -UNKNOWN_VRID_LOG_INTERVAL) < UNKNOWN_VRID_LOG_INTERVAL:
            return
        self.last[key] = now
        if len(self.last) > 4096:
            self.last.clear()
        log.info("vrrp.advert.unknown_vrid", vrid=vrid, interface=ifname,
                 compat=f"Unknown VRID({vrid}) received on interface({ifname}). ignoring...")


def write(fifos: list[Any], lines: Iterable[bytes]) -> None:
    for line in lines:
        for f in fifos:
            f.write(line)
