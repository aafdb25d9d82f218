"""Where a child's memory goes, on demand (issue 15's soak): with KEEPALIVED_PY_TRACEMALLOC=1
in the environment, each child starts tracemalloc at start-up and its SIGUSR1 data dump
(keepalived.data, keepalived_check.data) ends with a section of the top allocation sites.
Off by default: tracing costs memory and CPU on every allocation. KEEPALIVED_PY_TRACEMALLOC=N
with N > 1 keeps N frames per allocation (default 1)."""
from __future__ import annotations

import os
import sys

ENV = "KEEPALIVED_PY_TRACEMALLOC"
TOP = 25


def _tracing() -> bool:
    """Without importing tracemalloc (pickle and more, tens of ms on a slow host) when nobody
    asked for it."""
    tm = sys.modules.get("tracemalloc")
    return tm is not None and bool(tm.is_tracing())


def start_if_asked() -> bool:
    value = os.environ.get(ENV, "")
    if not value or value == "0" or _tracing():
        return _tracing()
    import tracemalloc
    try:
        frames = max(1, int(value))
    except ValueError:
        frames = 1
    tracemalloc.start(frames)
    return True


def section(top: int = TOP) -> str:
    """The dump section ("" when not tracing): current/peak traced memory and the `top`
    allocation sites by size."""
    if not _tracing():
        return ""
    import tracemalloc
    snap = tracemalloc.take_snapshot().filter_traces((
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ))
    stats = snap.statistics("lineno")
    current, peak = tracemalloc.get_traced_memory()
    lines = ["------< tracemalloc >------",
             f" Traced memory = {current / 1024:.1f} KiB (peak {peak / 1024:.1f} KiB)",
             f" Top {min(top, len(stats))} allocation sites:"]
    for st in stats[:top]:
        frame = st.traceback[0]
        lines.append(f"   {st.size / 1024:9.1f} KiB {st.count:7d} blocks  "
                     f"{frame.filename}:{frame.lineno}")
    return "\n".join(lines) + "\n"
