"""A respawned child without its role's import (issue 15: a master's VRRP child killed under
load came back slowly).

Theory of operation. A forked child imports only its role's code (core/childrun.py), so the
supervisor stays small at start. But a respawn then pays that import again before it can do
anything: 130-420 ms at load 20+, most of the time from SIGKILL to the new child's first
advert. Once a role's first child is ready (and the start's CPU burst is over), the supervisor
imports the role's code itself, off the start path: every later child is forked with it
loaded (shared copy-on-write, out of the collector by the gc.freeze before the fork). The cost
is the parent's RSS (about 1.5 MiB for the VRRP code, 1.3 MiB for the checker's)."""
from __future__ import annotations

import importlib

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.supervisor")

WARM_AFTER = 5.0            # seconds after a role's first child is ready


def warm(role: str) -> None:
    """Import the role's code in this (the supervisor's) process. Never raises."""
    from keepalived_py.core.childrun import FACTORIES
    name = FACTORIES.get(role)
    if name is None:
        return
    try:
        importlib.import_module(name)
    except Exception as e:          # the child imports it again and reports what is wrong
        log.warning("supervisor.warm_failed", role=role, error=repr(e))
        return
    log.info("supervisor.warmed", role=role)
