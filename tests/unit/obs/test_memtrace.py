"""obs/memtrace.py: KEEPALIVED_PY_TRACEMALLOC=1 makes the data dumps end with the top
allocation sites; without it nothing is traced and the dumps are unchanged."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from keepalived_py.obs import dumps, memtrace


def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memtrace.ENV, raising=False)
    assert not tracemalloc.is_tracing()
    assert memtrace.start_if_asked() is False
    assert memtrace.section() == ""


def test_data_dump_has_the_top_allocations(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv(memtrace.ENV, "1")
    assert memtrace.start_if_asked() is True
    try:
        hoard = [bytes(1000) for _ in range(2000)]       # ~2 MB from this line
        w = dumps.DumpWriter(lambda k: (str(tmp_path / f"{k}.txt"), f"{k} body\n"))
        w.request("data")
        w.request("stats")
        assert w.wait_idle()
        data = (tmp_path / "data.txt").read_text()
        assert data.startswith("data body\n------< tracemalloc >------\n")
        assert " Traced memory = " in data and "test_memtrace.py:" in data
        top = next(line for line in data.splitlines() if " KiB " in line and "blocks" in line)
        assert "test_memtrace.py" in top                # the hoard is the biggest site
        assert (tmp_path / "stats.txt").read_text() == "stats body\n"
        del hoard
    finally:
        tracemalloc.stop()
