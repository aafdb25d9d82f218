"""A respawned child without its role's import (issue 15: a master's VRRP child killed under
load came back slowly).

Theory of operation. A forked child imports only its role's code (core/childrun.py), so the
supervisor stays small at start. But a respawn then pays that import again before it can do
anything: 130-420 ms at load 20+, most of the time from SIGKILL to the new child's first
advert. Once a role's first child is ready (and the start's CPU burst is over), the supervisor
imports the role's code itself, off the start path: every later child is forked with it
loaded (shared copy-on-write, out of the collector by the gc.freeze before the fork). The cost
is the parent's RSS (about 1.5 MiB for the VRRP code, 1.3 MiB for the checker's).

The checker's first child too (issue 16.3: memory of the tree with the checker). Its start is
not on the path to the first VIP (the VRRP child is forked first), so the supervisor
`preload`s before forking it what it would import on its way to ready: the role's code, the
modules its start imports (START_MODULES) and structlog's chain (obs/slogchain.py), which the
parent loads moments later anyway; with them the VRRP code the parent would import 5 s after
the VRRP child is ready; the C heap's free memory goes back to the kernel first. The child
then shares those pages with the parent instead of importing copies of its own, its own
allocations land in fewer of the parent's pages (each one it writes to is copied), and no
later import in the parent copies pages it shares (tree PSS with the checker: 56.6 -> ~40 MiB
with the raw IPVS probe of check/genl.py)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.supervisor")

WARM_AFTER = 5.0            # seconds after a role's first child is ready
# what a forked child of the role imports on its way to ready besides its role's module:
# core/childrun.py's run-time imports, then the daemon's start (check/daemon.py)
START_MODULES = {
    "checker": ("keepalived_py.core.childrun", "keepalived_py.core.childwatch",
                "keepalived_py.obs.memtrace", "keepalived_py.core.sched",
                "keepalived_py.notify.scripts", "keepalived_py.core.scriptenv",
                "keepalived_py.core.umask", "keepalived_py.core.process",
                "keepalived_py.notify.smtp", "keepalived_py.obs.control",
                "keepalived_py.snmp"),
}


def warm(role: str) -> None:
    """Import the role's code in this (the supervisor's) process. Never raises."""
    from keepalived_py.core.childrun import FACTORIES
    name = FACTORIES.get(role)
    if name is None or name in sys.modules:         # (preloaded: said then)
        return
    try:
        importlib.import_module(name)
    except Exception as e:          # the child imports it again and reports what is wrong
        log.warning("supervisor.warm_failed", role=role, error=repr(e))
        return
    log.info("supervisor.warmed", role=role)


def preload(role: str, running: Iterable[str] = ()) -> None:
    """Before forking `role`'s child (a role of START_MODULES: not the VRRP child, whose fork
    is on the start path): its code, its start's modules and structlog's chain loaded here,
    to be shared with the child; and the code of the roles `running` already, which `warm`
    would import 5 s later — writing then into pages this child shares, which copies them
    (measured: ~1 MiB of the checker's memory for the VRRP code). Never raises (the child
    imports what failed itself)."""
    names = START_MODULES.get(role)
    if names is None:
        return
    for name in (role, *running):
        warm(name)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:
            log.warning("supervisor.warm_failed", role=role, module=name, error=repr(e))
    from keepalived_py.obs import slogchain
    slogchain.load()
    # what reading the configuration freed in the C heap, given back before the fork rather
    # than after it (core/supervisor.py run): not inherited resident by the child (~1 ms)
    from keepalived_py.core.process import trim_heap
    trim_heap()
