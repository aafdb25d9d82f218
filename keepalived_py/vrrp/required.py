"""keepalived 2.2.7's chk_min_cfg (vrrp.c vrrp_complete_init), run by the VRRP child on the
configuration it is given: a vrrp_instance without `interface` fails the child's
configuration. Unicast instances too: 2.2.7 tests its unicast flag there before it sets it
(the -t verdict says the same: config/build_resolve.py `required_parts`).

At start keepalived's VRRP child logs "(VI_1) Unknown interface!" and exits with its
permanent CONFIG error; the parent logs "pid N exited with permanent error CONFIG.
Terminating" and keepalived exits with status 2, nothing of the configuration applied. The
VRRP child here raises ConfigError before it touches anything, with the same effect
(core/childrun.py, core/supervisor.py). On a reload keepalived exits the same way;
keepalived-py's parent keeps the running configuration instead, as for any configuration with
an error ("Configuration is invalid - keeping the running one"; README, Status).
"""
from __future__ import annotations

from keepalived_py.config.model import Config
from keepalived_py.errors import ConfigError


def check(config: Config) -> None:
    """Raises ConfigError with keepalived's line for the first instance without interface."""
    for inst in config.vrrp_instances:
        if not inst.interface:
            raise ConfigError(None, f"({inst.name}) Unknown interface!")
