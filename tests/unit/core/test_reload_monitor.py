"""reload_time_file's line as keepalived 2.2.7's reload_monitor.c reads it, and reload_file."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from keepalived_py.core import reload_monitor as rm


def test_a_time_alone_is_today_or_tomorrow() -> None:
    now = time.mktime((2026, 12, 3, 12, 0, 0, 0, 0, -1))
    t, dated = rm.parse_datetime("13:30:00", now)  # type: ignore[misc]
    assert t - now == 5400 and not dated
    t, _ = rm.parse_datetime("11:00:00", now)  # type: ignore[misc]
    assert t - now == 23 * 3600


def test_dates_utc_and_errors() -> None:
    now = time.mktime((2026, 12, 3, 12, 0, 0, 0, 0, -1))
    t, dated = rm.parse_datetime("2026-12-04 12:00:00", now)  # type: ignore[misc]
    assert dated and t - now == 86400
    t, _ = rm.parse_datetime("26-12-04 12:00:00", now)  # type: ignore[misc]
    assert t - now == 86400
    u, _ = rm.parse_datetime("2030-01-01 00:00:00Z", now)  # type: ignore[misc]
    assert u == 1893456000
    assert rm.parse_datetime("2020-01-01 00:00:00", now) == rm.PAST
    assert rm.parse_datetime("12:00", now) == rm.INVALID
    assert rm.parse_datetime("25:00:00", now) == rm.INVALID


def test_the_monitor_reloads_at_the_time_and_removes_a_dated_file(tmp_path: Path) -> None:
    f = tmp_path / "when"
    fired: list[float] = []

    async def go() -> None:
        f.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n", time.localtime(time.time() + 1.2)))
        m = rm.monitor_for(str(f), True, lambda: fired.append(time.time()))
        assert m is not None
        await asyncio.sleep(3.0)
        m.stop()
    asyncio.run(go())
    assert len(fired) == 1 and not f.exists()


def test_reload_file_exists_mode_0644_and_goes(tmp_path: Path) -> None:
    p = rm.reload_file_path(str(tmp_path / "r"), False)
    old = os.umask(0o077)
    try:
        rm.create_reload_file(p)
    finally:
        os.umask(old)
    assert p is not None and os.stat(p).st_mode & 0o777 == 0o644
    rm.remove_reload_file(p)
    assert not os.path.exists(p)
    assert rm.reload_file_path("", False) == "/run/keepalived.reload"
    assert rm.reload_file_path(None, True) is None


def test_reload_check_config_writes_the_lines_and_refuses_errors(tmp_path: Path) -> None:
    from keepalived_py.config.tree import Diagnostics, SourcePos
    log = tmp_path / "check.log"
    log.write_text("old\n")
    d = Diagnostics()
    assert rm.check_passes(str(log), d) and log.read_text() == ""
    d.error(SourcePos("k.conf", 3), "Unknown keyword 'x'")
    assert not rm.check_passes(str(log), d)
    assert "k.conf:3: error: Unknown keyword 'x'" in log.read_text()
    assert rm.check_passes(None, d)                 # not configured: no check here
