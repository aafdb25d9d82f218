"""structlog behind obs/slog.py: the rendering of every log line, loaded off the start path.

obs/slog.py stays the cheap front of every log call (the level check, the event dictionary,
`capture()` for tests). What turns an event dictionary into a line is a structlog processor
chain (`chain`): for --log-format=json our key normalisation then structlog's JSONRenderer;
for text, keepalived's words (obs/logging.py's compat renderer) as the final processor. The
line then goes to `logging.getLogger(name)`'s method of the event's level, as before.

Importing structlog costs the parent ~20 ms of CPU before the VRRP child's fork (issue 16),
so it is imported lazily. Until the start is over (core/startgc.py's `resume()`: the parent
after forking its children, a child after its daemon started; a process that never paused
the collector, a test, is never on a start path), events wait in a bounded
queue (`QUEUE_MAX`) with the time they happened, and are rendered in order, with that time,
once structlog is loaded. Nothing waiting is ever lost or reordered:
- a warning, error or critical event loads the chain at once and flushes the queue first;
- on overflow the oldest waiting event is rendered by the plain fallback (the renderer
  obs/logging.py configured: the same bytes) to make room;
- `flush()` runs at exit (atexit), before an uncaught exception's lines, before a forked
  child's os._exit and before daemonizing (the console is /dev/null after it), without
  loading structlog;
- a child forked by the supervisor drops what it inherited (`forked()`): the parent's lines.
If structlog cannot be imported, the fallback renderer renders everything.
"""
from __future__ import annotations

import atexit
import logging
import time
from collections import deque
from typing import Any

from keepalived_py.obs import slog
from keepalived_py.obs.slog import EventDict

QUEUE_MAX = 1000
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR, "critical": logging.CRITICAL}
_URGENT = frozenset(("warning", "error", "critical"))


class _State:
    __slots__ = ("chain", "fallback", "json", "over", "pending", "tried")

    def __init__(self) -> None:
        self.pending: deque[tuple[slog.Logger, str, EventDict, int]] = deque()
        self.chain: list[Any] | None = None     # structlog processors, once loaded
        self.tried = False                      # structlog's import attempted
        self.over = False                       # the start is over: no more waiting
        self.json = False
        self.fallback: slog.Renderer = slog.plain


_state = _State()


def _normalise(_logger: Any, _method: str, event: EventDict) -> EventDict:
    """JSON values: numbers, booleans, strings and null as they are, anything else str()."""
    return {k: (v if isinstance(v, (int, float, bool, str)) or v is None else str(v))
            for k, v in event.items()}


def _build(json_lines: bool, text: slog.Renderer) -> list[Any]:
    import structlog
    if json_lines:
        # the time is the formatter's (obs/logging.py's _JsonFormatter: the record's, i.e.
        # when the event happened, also for an event that waited in the queue)
        return [_normalise, structlog.processors.JSONRenderer(sort_keys=True)]

    def compat(_logger: Any, _method: str, event: EventDict) -> str:
        return text(event)
    return [compat]


def _load() -> None:
    st = _state
    if st.tried:
        return
    st.tried = True
    try:
        st.chain = _build(st.json, st.fallback)
    except ImportError:
        st.chain = None


def render(method: str, event: EventDict) -> str:
    """The line of one event: through structlog's chain once loaded, else the fallback."""
    chain = _state.chain
    if chain is None:
        return _state.fallback(event)
    out: Any = event
    for proc in chain:
        out = proc(None, method, out)
    return str(out)


def _deliver(logger: slog.Logger, method: str, event: EventDict, at_ns: int | None,
             line: str | None = None) -> None:
    if line is None:
        line = render(method, event)
    std = logger.std()
    if at_ns is None:
        getattr(std, method)(line)
        return
    level = LEVELS[method]
    if not std.isEnabledFor(level):
        return
    rec = std.makeRecord(std.name, level, "(unknown file)", 0, line, (), None,
                         "(unknown function)")
    rec.created = at_ns / 1e9          # when it happened, not when it was rendered
    rec.msecs = (at_ns % 1_000_000_000) // 1_000_000 + 0.0
    rec.relativeCreated = (rec.created - logging._startTime) * 1000  # type: ignore[attr-defined]
    std.handle(rec)


def emit(logger: slog.Logger, method: str, event: EventDict) -> None:
    """obs/slog.py's emitter once obs/logging.py configured the process."""
    st = _state
    if st.chain is not None or st.tried:
        if st.pending:
            flush()
        _deliver(logger, method, event, None)
        return
    if st.over or method in _URGENT:
        flush(load=True)
        _deliver(logger, method, event, None)
        return
    if len(st.pending) >= QUEUE_MAX:
        lg, m, ev, at = st.pending.popleft()
        _deliver(lg, m, ev, at, st.fallback(ev))
    st.pending.append((logger, method, event, time.time_ns()))


def flush(load: bool = False) -> None:
    """Render what waits, in order (through structlog if `load` or already loaded)."""
    st = _state
    if load:
        _load()
    while st.pending:
        lg, m, ev, at = st.pending.popleft()
        _deliver(lg, m, ev, at)


def load() -> None:
    """Load structlog's chain now, before the start is over: the supervisor, before forking a
    child that is not on the start path (core/rolewarm.py `preload`), so that the child shares
    it. From then on events are rendered as they come (what waited first, in order)."""
    _load()


def start_over() -> None:
    """The start is over (core/startgc.py): load structlog, render what waited."""
    _state.over = True
    flush(load=True)


def forked() -> None:
    """In a child the supervisor forked: what waits is the parent's (it renders it)."""
    _state.pending.clear()
    _state.over = False


def install(json_lines: bool, fallback: slog.Renderer, min_level: int) -> None:
    """obs/logging.py's set-up: events of this process go through here from now on."""
    from keepalived_py.core import startgc
    st = _state
    st.json = json_lines
    st.fallback = fallback
    if not startgc.paused():            # not on a start path (a test, an embedding program)
        st.over = True
    if st.tried:                        # reconfigured (a child's own set-up): rebuild
        st.tried = False
        st.chain = None
        _load()
    slog.configure(fallback, min_level, emit)


atexit.register(flush)
