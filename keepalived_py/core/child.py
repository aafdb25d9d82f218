"""The contract between the supervisor parent and a child daemon (VRRP, checker).

The supervisor forks; in the child it builds the daemon with the role's factory
(`keepalived_py.vrrp.daemon.create(options)` / `keepalived_py.check.daemon.create(options)`),
runs an asyncio loop, and drives the daemon through these calls. The daemon never handles
signals, pidfiles or the parent link itself: core/ does that.
"""
from __future__ import annotations

import enum
import signal
from typing import Protocol

from keepalived_py.config.model import Config

#: in a respawned child's environment: when its predecessor died (CLOCK_MONOTONIC seconds,
#: comparable across processes), so that a VRRP master resumes without an outage
PREV_EXIT_ENV = "KEEPALIVED_PY_PREVIOUS_EXIT"


class DumpKind(enum.Enum):
    DATA = "data"              # SIGUSR1 -> keepalived.data
    STATS = "stats"            # SIGUSR2 -> keepalived.stats
    JSON = "json"              # keepalived's JSON signal (SIGRTMIN+2 = 36) -> keepalived.json
    STATS_CLEAR = "stats_clear"


#: the signals that ask for a dump: the supervisor forwards them, a child acts on them
DUMP_SIGNALS: dict[int, DumpKind] = {
    signal.SIGUSR1: DumpKind.DATA,
    signal.SIGUSR2: DumpKind.STATS,
    signal.SIGRTMIN + 2: DumpKind.JSON,
    signal.SIGRTMIN + 29: DumpKind.STATS_CLEAR,
}

# exit statuses a child ends with (keepalived's KEEPALIVED_EXIT_*): the supervisor reads them
EXIT_FATAL = 1
EXIT_CONFIG = 2
EXIT_MISSING_PERMISSION = 4
EXIT_PROGRAM_ERROR = 70          # a child's unexpected exception: respawned, not permanent


class ChildDaemon(Protocol):
    role: str                  # "vrrp" | "checker" | "bfd"

    async def start(self, config: Config) -> None:
        """Load `config` and start working; returns once loaded (the parent then says READY)."""

    async def reload(self, config: Config) -> None:
        """Apply the difference from the running configuration to `config`."""

    async def stop(self, release: bool) -> None:
        """Stop; release what it owns (VIPs, IPVS entries) unless `release` is False (-V / -I)."""

    def dump(self, kind: DumpKind) -> None:
        """Write the dump `kind` (never on the path of an advert)."""
