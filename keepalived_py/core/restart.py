"""Respawn backoff (pure): the first restart at once, then doubling from 1 s up to 60 s; a child
that stayed up 60 s starts again from the beginning."""
from __future__ import annotations

from dataclasses import dataclass

FIRST_DELAY = 0.0
BASE = 1.0
CAP = 60.0
STABLE_AFTER = 60.0


@dataclass(slots=True)
class Backoff:
    failures: int = 0

    def next_delay(self, uptime: float) -> float:
        """Delay before restarting a child that died after `uptime` seconds."""
        if uptime >= STABLE_AFTER:
            self.failures = 0
        self.failures += 1
        if self.failures == 1:
            return FIRST_DELAY
        return min(CAP, BASE * 2 ** (self.failures - 2))
