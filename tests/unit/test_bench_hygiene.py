"""bench/compare.py leaves nothing in /tmp: its byte-code/venv directory is made on first use
(importing the module makes none) and removed at exit, also when SIGTERM ends the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import compare; "


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PRELUDE + code], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)


def test_import_makes_no_directory_and_use_removes_it_at_exit() -> None:
    p = _python("print(len(compare._PYCACHE)); print(compare.daemon_env()['PYTHONPYCACHEPREFIX'])")
    out, _ = p.communicate(timeout=60)
    made, path = out.split()
    assert p.returncode == 0 and made == "0"
    assert os.path.basename(path).startswith("kp-compare-pyc-")
    assert not os.path.exists(path)


def test_sigterm_ends_the_run_as_ctrl_c_and_removes_the_directory() -> None:
    p = _python("compare.exit_on_signals(); print(compare.pycache(), flush=True); "
                "import time; time.sleep(60)")
    assert p.stdout is not None
    path = p.stdout.readline().strip()
    assert os.path.isdir(path)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 128 + signal.SIGTERM
    assert not os.path.exists(path)
