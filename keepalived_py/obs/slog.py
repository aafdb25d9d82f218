"""Structured log calls: `log = get_logger("keepalived_py.vrrp")`, then
`log.info("vrrp.state.changed", instance="VI_1", compat="(VI_1) Entering MASTER STATE")`.

Why not structlog. Every process used four things of it: a named logger, `bind`, level
methods that do nothing below the configured level, and one renderer handing a line to the
standard `logging` module (obs/logging.py). Importing structlog costs a daemon more than all
of that: its package imports its dev console, tracebacks, stdlib, threadlocal, json, uuid,
platform... modules — about a sixth of the parent's CPU between exec and the VRRP child's
fork, on the path to the first VIP (issue 16). This module is that subset, with the same
event dictionaries and the same lines.

The event dictionary of a call is the bound context, then the call's keywords, then
`event` (the dotted name) and `level` ("debug", "info", "warning", "error", "critical";
`exception` is "error" with exc_info=True among the keywords), as structlog built it. The
renderer `configure` installs turns it into the line given to `logging.getLogger(name)`'s
method of that level. Before `configure` (a test, `-t`), every level is rendered as
"event key=value ..." and handed to `logging` in the same way.

`capture()` is for tests: inside it, calls of every level are recorded as event
dictionaries (with "log_level" too, as structlog.testing's capture had it) and not logged.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

EventDict = dict[str, Any]
Renderer = Callable[[EventDict], str]

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50


def plain(event: EventDict) -> str:
    """"event key=value ..." (what is rendered before `configure`)."""
    name = event.pop("event", "")
    event.pop("level", None)
    return f"{name} " + " ".join(f"{k}={v}" for k, v in event.items())


class _Config:
    __slots__ = ("capture", "min_level", "renderer")

    def __init__(self) -> None:
        self.renderer: Renderer = plain
        self.min_level = DEBUG
        self.capture: list[EventDict] | None = None


_config = _Config()


def configure(renderer: Renderer, min_level: int) -> None:
    """Every logger of the process from now on: calls below `min_level` do nothing, the
    others are rendered by `renderer` (which may change the dictionary it is given)."""
    _config.renderer = renderer
    _config.min_level = min_level


class Logger:
    """A named logger with a bound context; `bind` returns a new one."""

    __slots__ = ("_context", "_name", "_std")

    def __init__(self, name: str, context: EventDict | None = None) -> None:
        self._name = name
        self._context = context
        self._std: logging.Logger | None = None

    def bind(self, **kw: Any) -> Logger:
        return Logger(self._name, {**self._context, **kw} if self._context else kw)

    def _emit(self, method: str, event: str, kw: dict[str, Any]) -> None:
        ctx = self._context
        ed = {**ctx, **kw} if ctx else kw
        ed["event"] = event
        ed["level"] = method
        cap = _config.capture
        if cap is not None:
            ed["log_level"] = method
            cap.append(ed)
            return
        line = _config.renderer(ed)
        std = self._std
        if std is None:
            std = self._std = logging.getLogger(self._name)
        getattr(std, method)(line)

    def debug(self, event: str, **kw: Any) -> None:
        if _config.min_level <= DEBUG or _config.capture is not None:
            self._emit("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        if _config.min_level <= INFO or _config.capture is not None:
            self._emit("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        if _config.min_level <= WARNING or _config.capture is not None:
            self._emit("warning", event, kw)

    warn = warning

    def error(self, event: str, **kw: Any) -> None:
        if _config.min_level <= ERROR or _config.capture is not None:
            self._emit("error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        kw.setdefault("exc_info", True)
        self.error(event, **kw)

    def critical(self, event: str, **kw: Any) -> None:
        if _config.min_level <= CRITICAL or _config.capture is not None:
            self._emit("critical", event, kw)


def get_logger(name: str) -> Logger:
    return Logger(name)


@contextmanager
def capture() -> Iterator[list[EventDict]]:
    """Record the event dictionaries of every call (all levels) instead of logging them."""
    old = _config.capture
    seen: list[EventDict] = []
    _config.capture = seen
    try:
        yield seen
    finally:
        _config.capture = old
