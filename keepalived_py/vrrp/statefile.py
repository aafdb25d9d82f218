"""The VRRP child's state file: what a respawned child needs to resume without an outage.

Theory of operation. After every transition (and every tracker result change) the daemon
asks for a write; requests made in one loop iteration become one write, done on a worker
thread after all of that iteration's packets have gone out. The file (JSON, mode 0600, next to
the VRRP pidfile) maps each instance to its state, when it was MASTER (wall clock) and its AH
sequence number, plus TRACKING_KEY: the tracker results. A child started by the supervisor
after its predecessor died reads it (machine.Resumed); a stop that releases the addresses
empties it, so that a quick restart does not resume mastership. A failed write is retried
every RETRY seconds, logged once.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")

TRACKING_KEY = "~tracking"        # the state file's entry for tracker results
RETRY = 2.0                       # seconds between two tries of a failed write


def path_for(pidfile: str) -> str:
    """The state file of the VRRP child whose pidfile is `pidfile`."""
    return os.path.join(os.path.dirname(pidfile) or "/run",
                        f".{os.path.basename(pidfile)}.keepalived-py.state")


def encode_tracking(values: dict[tuple[str, str], bool | int]) -> dict[str, bool | int]:
    return {f"{k}:{n}": v for (k, n), v in values.items()}


def decode_tracking(raw: Any) -> dict[tuple[str, str], bool | int]:
    """The tracker results saved by the child that died (scripts, processes, files)."""
    out: dict[tuple[str, str], bool | int] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            kind, _, name = str(key).partition(":")
            if kind in ("script", "process", "file") and name and isinstance(value, (bool, int)):
                out[(kind, name)] = value
    return out


class StateFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._pending = False
        self._unwritable = False       # the last write failed (retrying)

    def read(self) -> dict[str, Any]:
        try:
            with open(self.path) as f:
                # (imported here: a first start, without a file, imports it after its VIPs)
                import json
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def clear(self) -> None:
        """Nothing of ours stays: written at once (a stop that releases)."""
        from keepalived_py.obs.dumps import write_atomic
        with contextlib.suppress(OSError):
            write_atomic(self.path, "{}", 0o600)

    def request(self, loop: asyncio.AbstractEventLoop | None,
                snapshot: Callable[[], dict[str, Any]]) -> None:
        """Write `snapshot()` soon: coalesced, after this loop iteration, off the loop."""
        if self._pending or loop is None:
            return
        self._pending = True
        loop.call_soon(self._flush, loop, snapshot)

    def _flush(self, loop: asyncio.AbstractEventLoop,
               snapshot: Callable[[], dict[str, Any]]) -> None:
        import json

        from keepalived_py.obs.dumps import write_atomic
        self._pending = False
        text = json.dumps(snapshot())

        def write() -> None:
            try:
                write_atomic(self.path, text, 0o600)
                self._unwritable = False
            except OSError as e:
                # a full or read-only pidfile directory: try again until it is writable, else
                # the next respawn cannot resume mastership (an outage on a child crash)
                if not self._unwritable:
                    log.warning("vrrp.state_file.unwritable", path=self.path, error=e.strerror)
                self._unwritable = True
                with contextlib.suppress(RuntimeError):          # the loop is closing
                    loop.call_soon_threadsafe(loop.call_later, RETRY, self.request, loop,
                                              snapshot)
        loop.run_in_executor(None, write)
