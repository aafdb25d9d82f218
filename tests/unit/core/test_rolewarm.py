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
