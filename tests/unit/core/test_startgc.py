"""core/startgc.py (no collector during start-up), and no `dataclasses` code generation on the
daemons' start-up path (their classes are Records, keepalived_py/record.py): issue 16."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

from keepalived_py.core import startgc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_pause_resume_restores_the_collector():
    assert gc.isenabled()
    startgc.pause()
    try:
        assert not gc.isenabled() and startgc.paused()
        startgc.pause()                         # twice: still one pause
    finally:
        startgc.resume()
    assert gc.isenabled() and not startgc.paused()


def test_a_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    try:
        startgc.pause()
        startgc.resume()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_daemons_define_no_dataclass_at_start():
    """What a daemon imports to start (the CLI, the supervisor, the configuration, each child)
    makes no class through dataclasses (each costs compiled source at every start; a Record
    costs none), and nothing patches the dataclasses module."""
    code = (
        "import dataclasses, sys\n"
        "made = []\n"
        "orig = dataclasses._process_class\n"
        "def spy(cls, *a, **k):\n"
        "    made.append(cls.__module__ + '.' + cls.__qualname__)\n"
        "    return orig(cls, *a, **k)\n"
        "dataclasses._process_class = spy\n"
        "exec_before = getattr(dataclasses, 'exec', None)\n"
        "import keepalived_py.cli, keepalived_py.core.supervisor, keepalived_py.config.build\n"
        "import keepalived_py.core.childrun, keepalived_py.vrrp.daemon, keepalived_py.check.daemon\n"
        "import keepalived_py.bfd.daemon\n"
        "assert getattr(dataclasses, 'exec', None) is exec_before\n"
        "print('\\n'.join(m for m in made if m.startswith('keepalived_py')))\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == []
