from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from keepalived_py.obs import slog
from keepalived_py.obs.logging import setup
from keepalived_py.options import Options


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    import faulthandler
    faulthandler.disable()


def test_json_log_format_is_one_object_per_line_from_every_logger(
        console: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup(Options(log_console=True, no_syslog=True, log_json=True, log_detail=True))
    slog.get_logger("x").info("vrrp.state.changed", instance="VI_1",
                                   compat="(VI_1) Entering MASTER STATE")
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    import pyroute2  # noqa: F401 - imported after setup, as in the children (it resets levels)
    logging.getLogger("pyroute2.netlink.core").debug("internal chatter")   # quiet even at -D
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert [o["event"] for o in lines] == ["vrrp.state.changed", "python.log", "python.log"]
    assert lines[0]["compat"] == "(VI_1) Entering MASTER STATE" and "timestamp" in lines[0]
    assert "RuntimeError: boom" in lines[2]["traceback"]
    assert "internal chatter" not in err


def test_text_log_format_keeps_keepalived_lines(console: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    setup(Options(log_console=True, no_syslog=True))
    slog.get_logger("x").info("vrrp.state.changed", compat="(VI_1) Entering MASTER STATE")
    assert capsys.readouterr().err.rstrip().endswith(": (VI_1) Entering MASTER STATE")
