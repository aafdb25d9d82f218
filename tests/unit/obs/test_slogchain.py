"""obs/slogchain.py: structlog renders the lines, loaded once the start is over; events wait
for it in order and are never lost."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from keepalived_py.obs import slog, slogchain
from keepalived_py.obs.logging import _compat_renderer, _json_renderer

EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("info", "vrrp.state.changed", {"instance": "VI_1", "compat": "(VI_1) Entering MASTER STATE"}),
    ("debug", "vrrp.advert.sent", {"instance": "VI_1", "compat": "(VI_1) advert", "prio": 100}),
    ("debug", "vrrp.rx", {"n": 3, "ratio": 0.5, "none": None, "flag": True,
                          "addrs": ["192.0.2.1", "192.0.2.2"], "raw": b"\x01", "d": {"a": 1}}),
    ("info", "child.ready", {"pid": 42}),
    ("error", "child.reload_failed", {"error": repr(ValueError("x")), "exc_info": True}),
]


@pytest.mark.parametrize("json_lines", [False, True])
def test_structlog_chain_renders_the_same_bytes_as_the_fallback(json_lines: bool) -> None:
    fallback = _json_renderer if json_lines else _compat_renderer
    chain = slogchain._build(json_lines, fallback)
    assert chain[-1].__module__.startswith("structlog") or not json_lines
    for level, name, kw in EVENTS:
        want = fallback({**kw, "event": name, "level": level})
        out: Any = {**kw, "event": name, "level": level}
        for proc in chain:
            out = proc(None, level, out)
        assert out == want
        if json_lines:
            assert json.loads(out)["event"] == name


RUN = textwrap.dedent("""
    import logging, sys, time
    from keepalived_py.core import startgc
    startgc.pause()                         # as __main__ does: the start path
    from keepalived_py.obs.logging import setup
    from keepalived_py.obs import slog, slogchain
    from keepalived_py.options import Options
    slogchain.QUEUE_MAX = int(sys.argv[2])
    setup(Options(log_console=True, no_syslog=True, log_detail=True,
                  log_json=sys.argv[1] == "json"))
    log = slog.get_logger("keepalived_py.t").bind(instance="VI_1")
    def mark(what):
        print(f"--{what} structlog={'structlog' in sys.modules}", file=sys.stderr, flush=True)
    {body}
""")


def run(body: str, fmt: str = "text", qmax: int = 1000) -> list[str]:
    code = RUN.replace("{body}", textwrap.dedent(body).strip())
    out = subprocess.run([sys.executable, "-c", code, fmt, str(qmax)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stderr.splitlines()


def msgs(lines: list[str]) -> list[str]:
    """The lines without the time ("Thu Dec 03 17:00:00 2026: ")."""
    return [line if line.startswith("--") else line.split(": ", 1)[1] for line in lines]


def test_events_wait_for_the_end_of_the_start_then_come_in_order() -> None:
    lines = run("""
        log.info("a.one", n=1, compat="first")
        log.debug("a.two", n=2)
        mark("before")
        startgc.resume()
        mark("after")
        log.info("a.three", compat="third")
    """)
    assert msgs(lines) == ["--before structlog=False", "first",
                           "a.two instance=VI_1 n=2", "--after structlog=True", "third"]


def test_a_warning_renders_what_waits_first_then_itself() -> None:
    lines = run("""
        log.info("a.one", compat="first")
        log.warning("a.warn", compat="careful")
        mark("then")
        log.info("a.two", compat="second")
    """)
    assert msgs(lines) == ["first", "careful", "--then structlog=True", "second"]


def test_overflow_renders_the_oldest_with_the_fallback_in_order() -> None:
    lines = run("""
        for i in range(5):
            log.info("a.n", compat=f"line {i}")
        mark("full")
    """, qmax=3)
    # 0 and 1 made room (the plain fallback), 2..4 wait until the exit (atexit)
    assert msgs(lines) == ["line 0", "line 1", "--full structlog=False",
                           "line 2", "line 3", "line 4"]


def test_lines_that_waited_keep_the_time_they_happened() -> None:
    lines = run("""
        log.info("a.one", compat="first")
        time.sleep(1.2)
        startgc.resume()
        log.info("a.two", compat="second")
    """, fmt="json")
    objs = [json.loads(line) for line in lines]
    assert [o["event"] for o in objs] == ["a.one", "a.two"]
    t0, t1 = (o["timestamp"] for o in objs)
    from datetime import datetime
    gap = (datetime.fromisoformat(t1) - datetime.fromisoformat(t0)).total_seconds()
    assert gap >= 1.1


def test_a_forked_child_drops_the_parents_lines_and_os_exit_flushes_its_own() -> None:
    lines = run("""
        import os
        log.info("a.parent", compat="parent line")
        pid = os.fork()
        if pid == 0:
            slogchain.forked()
            log.info("a.child", compat="child line")
            slogchain.flush()               # what core/supervisor.py does before os._exit
            os._exit(0)
        os.waitpid(pid, 0)
        startgc.resume()
    """)
    assert msgs(lines) == ["child line", "parent line"]


@pytest.fixture
def restore() -> Iterator[None]:
    st = slogchain._state
    saved = (list(st.pending), st.chain, st.tried, st.over, st.json, st.fallback)
    cfg = (slog._config.renderer, slog._config.min_level, slog._config.emitter)
    yield
    st.pending.clear()
    st.pending.extend(saved[0])
    st.chain, st.tried, st.over, st.json, st.fallback = saved[1:]
    slog.configure(*cfg)


def test_capture_still_sees_every_call_while_events_wait(restore: None) -> None:
    slogchain._state.over = False
    slogchain._state.tried = False
    slogchain._state.chain = None
    slog.configure(_compat_renderer, logging.INFO, slogchain.emit)
    with slog.capture() as got:
        slog.get_logger("t").debug("d", x=1)
    assert [e["event"] for e in got] == ["d"]
    assert not slogchain._state.pending
