"""Start-up without the cyclic garbage collector (issue 16).

Importing the modules and building the configuration allocate hundreds of thousands of
objects, almost none of them garbage: the collector, run by allocation counts, walks them
again and again (about a tenth of the CPU between exec and the first VIP). `pause()` turns it
off for start-up; `resume()` turns it back on once the process has collected and frozen what
start-up built — the parent after forking its children (core/supervisor.py), a child after
its daemon started (core/childrun.py). It is also when the log lines start going through
structlog (obs/slogchain.py). A forked child inherits the paused collector and
resumes it itself. Only a collector this module paused is resumed: a caller that disabled
it on purpose (a test, an embedding program) keeps it disabled.
"""
from __future__ import annotations

import gc
import sys

_paused = False


def pause() -> None:
    global _paused
    if not _paused and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Start-up is over: the collector back on."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()
    chain = sys.modules.get("keepalived_py.obs.slogchain")
    if chain is not None:           # logging is set up: structlog renders from now on
        chain.start_over()


def paused() -> bool:
    return _paused
