"""A failover timeline for benchmarks (issue 16.4): where a takeover's milliseconds go.

Off unless the environment names a file: KP_FO_TRACE=PATH. Then the VRRP child keeps the
last RING stamps (CLOCK_MONOTONIC nanoseconds, a kind, an instance name and two numbers) in
memory and writes them to PATH.<pid> when it stops, one line each, after a first line with
the offset of CLOCK_REALTIME from CLOCK_MONOTONIC (to line them up with packet captures'
kernel time stamps). Nothing is written while the daemon runs, and with the variable unset
every call site is one test of `ON`.

Kinds (what a, b mean):
  rx      a socket wake-up read packets             a: when it woke (s), b: how many
  fire    a timer wake-up                           a: the deadline it was armed for (s),
                                                    b: how many keys were due
  due     a backup's down timer ran out (name)      a: its deadline (s), b: the master's last
                                                    advert as anchored (s)
  sent    its advert left (sendto returned)
  wake    takeover.py ran the machines of a wake-up  a: how many, b: when it began (s)
  flush   the held work was queued                   a: how many instances
  run     one held item carried out (name)           a: how many actions, b: when it began
  zero    a stopping master's priority-0 advert left (name)
"""
from __future__ import annotations

import os
import time
from collections import deque

ON = bool(os.environ.get("KP_FO_TRACE"))
RING = 20000

_ring: deque[tuple[int, str, str, float, float]] = deque(maxlen=RING)


def stamp(kind: str, name: str = "", a: float = 0.0, b: float = 0.0) -> None:
    _ring.append((time.monotonic_ns(), kind, name, a, b))


def dump() -> None:
    """Write the stamps to KP_FO_TRACE.<pid> (once; a failure to write is ignored: this is
    a benchmark's aid, never the daemon's business)."""
    path = os.environ.get("KP_FO_TRACE")
    if not path or not _ring:
        return
    offset = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.monotonic_ns()
    lines = [f"offset {offset}\n"]
    lines += [f"{t} {kind} {name or '-'} {a:.9f} {b:.9f}\n" for t, kind, name, a, b in _ring]
    _ring.clear()
    try:
        with open(f"{path}.{os.getpid()}", "w") as f:
            f.writelines(lines)
    except OSError:
        pass
