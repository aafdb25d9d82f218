"""Respawn backoff (pure).

A child that dies after it had loaded its configuration (it said `ready`) is restarted at
once: an operator's kill or a one-off crash must cost as little as possible. A child that
dies before it is ready is in a crash loop: the first restart is immediate, then the delay
doubles from 1 s up to 60 s. The count starts again once a child has stayed up 60 s.
"""
from __future__ import annotations

from keepalived_py.record import Record


BASE = 1.0
CAP = 60.0
STABLE_AFTER = 60.0


class Backoff(Record, kw_only=False, frozen=False):
    failures: int = 0

    def next_delay(self, uptime: float, was_ready: bool = False) -> float:
        """Delay before restarting a child that died after `uptime` seconds."""
        if uptime >= STABLE_AFTER:
            self.failures = 0
        if was_ready:
            return 0.0
        self.failures += 1
        if self.failures == 1:
            return 0.0
        return min(CAP, BASE * 2.0 ** (self.failures - 2))
