"""SNMP and D-Bus cost nothing when the configuration does not enable them."""
from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, sys
from keepalived_py.check.daemon import CheckerDaemon
from keepalived_py.config.model import Config
from keepalived_py.options import Options
from keepalived_py.vrrp.exports import VrrpExports

class Daemon:
    options = Options()
    runners = {}
    loop = None

async def main():
    await VrrpExports(Daemon()).configure(Config())
    CheckerDaemon(Options())._configure_snmp(Config())
asyncio.run(main())
print(sorted(m for m in sys.modules
             if m.startswith(("jeepney", "keepalived_py.dbus", "keepalived_py.snmp."))))
"""


def test_disabled_snmp_and_dbus_import_nothing_of_theirs() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
