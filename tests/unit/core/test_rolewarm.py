"""core/rolewarm.py: the supervisor imports a role's code once its first child is ready."""
from __future__ import annotations

import subprocess
import sys

from keepalived_py.core import rolewarm


def test_warm_imports_the_roles_code_and_never_raises() -> None:
    code = ("import sys\nfrom keepalived_py.core import rolewarm\n"
            "assert 'keepalived_py.check.daemon' not in sys.modules\n"
            "rolewarm.warm('checker'); rolewarm.warm('no-such-role')\n"
            "assert 'keepalived_py.check.daemon' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_failing_import_is_logged_not_raised(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from keepalived_py.core import childrun
    monkeypatch.setitem(childrun.FACTORIES, "broken", "keepalived_py.no_such_module")
    rolewarm.warm("broken")


def test_preload_loads_the_checkers_start_and_structlog_before_its_fork() -> None:
    """issue 16.3: what the checker child would import on its way to ready is in the parent
    before the fork (shared, not copied), with the code of the roles already running (the VRRP
child's, which warm() would import later); the VRRP child's fork is not delayed by any of it."""
    code = ("import sys\nfrom keepalived_py.core import rolewarm\n"
            "from keepalived_py.obs import slogchain\n"
            "rolewarm.preload('vrrp')\n"
            "assert 'keepalived_py.vrrp.daemon' not in sys.modules\n"
            "assert 'structlog' not in sys.modules\n"
            "rolewarm.preload('checker', ['vrrp'])\n"
            "assert 'keepalived_py.vrrp.daemon' in sys.modules\n"
            "missing = [m for m in ('keepalived_py.check.daemon', 'structlog',"
            " *rolewarm.START_MODULES['checker']) if m not in sys.modules]\n"
            "assert not missing, missing\n"
            "assert slogchain._state.chain is not None\n"
            "assert not any(m.startswith('pyroute2') for m in sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
