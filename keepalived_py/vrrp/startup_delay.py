"""global_defs vrrp_startup_delay: at the VRRP child's first start (not at a reload), no
instance leaves BACKUP before the delay has passed; its Master_Down timer runs from the end of
the delay (keepalived 2.2.7 vrrp_daemon.c start_vrrp and vrrp_scheduler.c
vrrp_init_instance_sands). The machine does the waiting (Started.hold_until)."""
from __future__ import annotations

from keepalived_py.config.model import Config
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")


def startup_hold(config: Config, now: float) -> float:
    """The monotonic time before which no instance may become master (0.0: none)."""
    delay = config.global_defs.process.vrrp_startup_delay
    if not delay:
        return 0.0
    log.info("vrrp.startup_delay", seconds=delay, compat=f"Delaying startup for {delay:g} seconds")
    return now + delay
