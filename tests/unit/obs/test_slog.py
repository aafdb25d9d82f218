"""obs/slog.py: the event dictionaries, levels and lines structlog gave the daemon."""
from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from keepalived_py.obs import slog


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelname, record.getMessage()))


@pytest.fixture
def lines() -> Iterator[Lines]:
    h = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(h)
    root.setLevel(logging.DEBUG)
    seen: list[dict[str, Any]] = []

    def render(event: dict[str, Any]) -> str:
        seen.append(dict(event))
        return repr(event)
    slog.configure(render, slog.INFO)
    h.seen = seen  # type: ignore[attr-defined]
    yield h
    root.removeHandler(h)
    root.setLevel(old_level)
    slog.configure(slog.plain, slog.DEBUG)


def test_context_then_keywords_then_event_and_level_in_order(lines: Lines) -> None:
    log = slog.get_logger("keepalived_py.t").bind(role="vrrp")
    log.info("vrrp.ready", pid=7, role_again="x")
    (ev,) = lines.seen  # type: ignore[attr-defined]
    assert list(ev) == ["role", "pid", "role_again", "event", "level"]
    assert ev["event"] == "vrrp.ready" and ev["level"] == "info"
    assert lines.records == [("keepalived_py.t", "INFO", repr(ev))]


def test_below_the_level_nothing_happens_and_exception_is_an_error(lines: Lines) -> None:
    log = slog.get_logger("keepalived_py.t")
    log.debug("quiet", x=1)
    log.warning("w")
    log.exception("boom", why="x")
    log.critical("c")
    levels = [(e["event"], e["level"]) for e in lines.seen]  # type: ignore[attr-defined]
    assert levels == [("w", "warning"), ("boom", "error"), ("c", "critical")]
    assert lines.seen[1]["exc_info"] is True  # type: ignore[attr-defined]
    assert [r[1] for r in lines.records] == ["WARNING", "ERROR", "CRITICAL"]
    slog.configure(slog.plain, slog.DEBUG)
    log.debug("now", x=1)
    assert lines.records[-1] == ("keepalived_py.t", "DEBUG", "now x=1")


def test_bind_does_not_change_the_original(lines: Lines) -> None:
    base = slog.get_logger("n")
    child = base.bind(a=1).bind(b=2)
    base.info("e1")
    child.info("e2", c=3)
    seen = lines.seen  # type: ignore[attr-defined]
    assert "a" not in seen[0] and [seen[1][k] for k in "abc"] == [1, 2, 3]


def test_capture_records_every_level_and_logs_nothing(lines: Lines) -> None:
    log = slog.get_logger("n")
    with slog.capture() as got:
        log.debug("d", x=1)
        log.error("e")
    log.info("after")
    assert [(e["event"], e["log_level"]) for e in got] == [("d", "debug"), ("e", "error")]
    assert [r[2] for r in lines.records] == [repr(lines.seen[0])]  # type: ignore[attr-defined]


def test_the_daemon_modules_do_not_import_structlog() -> None:
    """The point of slog (issue 16): none of structlog's modules on the start path."""
    code = ("import sys, keepalived_py.cli, keepalived_py.core.supervisor, "
            "keepalived_py.core.childrun, keepalived_py.vrrp.daemon, keepalived_py.obs.logging;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'structlog'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_module_of_the_package_uses_structlog() -> None:
    """A module that imported structlog would log through structlog's unconfigured defaults
    (stdout), not the daemon's sinks, and structlog is no dependency any more: slog instead."""
    import pathlib
    import re
    pkg = pathlib.Path(slog.__file__).resolve().parent.parent
    pattern = re.compile(r"^\s*(import structlog|from structlog)", re.M)
    users = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
                   if pattern.search(p.read_text(encoding="utf-8")))
    assert users == [], f"use `from keepalived_py.obs import slog` in {users}"
