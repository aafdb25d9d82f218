"""core/startstop.py: what global_defs adds to the command line, and the scripts' runs."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from keepalived_py.config.model import Script
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.core import startstop
from keepalived_py.options import Options, resolve_pidfiles


def test_use_pid_dir_moves_the_default_pidfiles_only() -> None:
    o = startstop.apply_options(Options(vrrp_pid_file="/tmp/v.pid"), ProcessDefs(use_pid_dir=True))
    files = resolve_pidfiles(o)
    assert files["parent"] == "/run/keepalived/keepalived.pid"
    assert files["checker"] == "/run/keepalived/checkers.pid"
    assert files["vrrp"] == "/tmp/v.pid"                      # -r wins
    assert startstop.apply_options(Options(), ProcessDefs()) == Options()


def test_a_script_past_its_timeout_is_killed_and_the_daemon_goes_on(tmp_path: Path) -> None:
    late = tmp_path / "late"
    s = Script(argv=("/bin/sh", "-c", f"sleep 3; touch {late}"), text="sleep")
    t0 = time.monotonic()
    asyncio.run(startstop.run_script("startup", s, 1))
    assert 0.9 < time.monotonic() - t0 < 2.9
    time.sleep(0.2)
    assert not late.exists()
    asyncio.run(startstop.run_script("shutdown", None, 10))   # no script: nothing


def test_config_save_dir_gets_a_copy_per_reading(tmp_path: Path) -> None:
    conf, inc = tmp_path / "k.conf", tmp_path / "inc.conf"
    conf.write_text("include inc.conf\n")
    inc.write_text("global_defs {\n router_id r1\n}\n")
    first = startstop.save_config(str(tmp_path), (str(conf), str(inc)))
    second = startstop.save_config(str(tmp_path), (str(conf),))
    assert first and second and first != second
    text = Path(first).read_text()
    assert f"# {conf}\ninclude inc.conf\n# {inc}\nglobal_defs" in text
    assert Path(first).stat().st_mode & 0o777 == 0o600
    assert startstop.save_config(None, (str(conf),)) is None
