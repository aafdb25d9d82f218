"""One boot of the stock-kernel VM per pytest session, shared by the test modules that read
its results (test_ipvs_vm.py: IPVS; test_ipvlan_vm.py: use_ipvlan). The guest runs
ipvs_scenario.py, then ipvlan_scenario.py; each writes its own JSON file in the directory
shared with the host. Booting once keeps CI time down: the boot and the guest's Python
imports cost more than the ipvlan scenario itself.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.vm import image, machine

ROOT = Path(__file__).resolve().parents[2]
# the IPVS scenario alone: ~2.5-3.5 min here under load, 5.2 min at a load average of 10 and
# 7.3 min at 17 (2 cores); both scenarios: 7-8 min measured at 27. A hard limit for a VM that
# is stuck, not the budget
VM_TIMEOUT = 960.0
SCRIPT = ('"$KP_PY" tests/vm/ipvs_scenario.py /run/kpvm\n'
          'echo "kpvm: ipvs scenario rc=$?"\n'
          'exec "$KP_PY" tests/vm/ipvlan_scenario.py /run/kpvm\n')


@dataclass
class Boot:
    run: machine.Run | None
    out: Path
    skip: str | None            # why the VM suite does not run here (None: it ran)


_boot: Boot | None = None


def why_not() -> str | None:
    if os.environ.get("KP_VM") == "0":
        return "KP_VM=0: the stock-kernel VM suite is disabled"
    if os.geteuid() != 0:
        return "the VM suite needs root (9p export of /, namespaces in the guest)"
    missing = image.missing_tools()
    if missing:
        return f"VM tooling missing: {', '.join(missing)} (tests/run.sh installs it)"
    return None


def boot(make_dir: Callable[[str], Path]) -> Boot:
    """The session's VM run (booted at the first call; `make_dir`: pytest's
    tmp_path_factory.mktemp, which makes the shared directory)."""
    global _boot
    if _boot is None:
        out = make_dir("kpvm")
        why = why_not()
        if why is not None:
            _boot = Boot(None, out, why)
        else:
            env = {"KP_VM_CWD": str(ROOT), "KP_PY": sys.executable, "PYTHONPATH": str(ROOT),
                   "KP_NS_PREFIX": os.environ.get("KP_NS_PREFIX", "kp"),
                   "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
            _boot = Boot(machine.run(SCRIPT, out, env, VM_TIMEOUT), out, None)
    return _boot
