"""`version 2` on an IPv6 instance: keepalived 2.2.7 runs VRRPv2 over IPv6 (no authentication
data, the pseudo-header checksum its IPV6_CHECKSUM socket gets from the kernel), and so does
keepalived-py since the model keeps the configured version (test_resolved.py compares the
dumps). Here both daemons share a LAN: each must accept the other's adverts."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dumpdiff import KEEPALIVED, REPO
from netlab import Lab, have_netns

pytestmark = pytest.mark.netns
VIPS = ("2001:db8::10/64", "2001:db8::20/64")


def conf(prio1: int, prio2: int) -> str:
    return "".join(
        f"vrrp_instance VI_{n} {{\n interface eth0\n version 2\n priority {p}\n"
        f" virtual_router_id {50 + n}\n virtual_ipaddress {{\n  2001:db8::{n}0/64\n }}\n}}\n"
        for n, p in ((1, prio1), (2, prio2)))


def test_ipv6_version_2_interoperates_with_keepalived(tmp_path: Path) -> None:
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    if not os.access(KEEPALIVED, os.X_OK):
        pytest.skip("keepalived 2.2.7 is not installed")
    with Lab(tag="v2v6") as lab:
        lan = lab.lan()
        k = lab.node("k", lan, "192.0.2.1/24", "2001:db8::1/64")
        p = lab.node("p", lan, "192.0.2.2/24", "2001:db8::2/64")
        logs = {}
        for node, cmd, prios in ((k, [KEEPALIVED], (100, 150)),
                                 (p, [sys.executable, "-m", "keepalived_py"], (150, 100))):
            d = tmp_path / node.ns
            d.mkdir()
            (d / "k.conf").write_text(conf(*prios))
            logs[node.ns] = d / "log"
            env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(d)}
            node.popen([*cmd, "-n", "-l", "-f", str(d / "k.conf"), "-p", str(d / "p.pid"),
                        "-r", str(d / "v.pid"), "-c", str(d / "c.pid"), "-b", str(d / "b.pid")],
                       stdout=open(d / "log", "wb"), stderr=subprocess.STDOUT, env=env)

        def vips() -> tuple[list[str], ...]:
            return tuple([a for a in n.addresses() if a in VIPS] for n in (k, p))

        # VI_1: ours (150) over keepalived (100); VI_2: keepalived (150) over ours (100)
        want = (["2001:db8::20/64"], ["2001:db8::10/64"])
        end = time.monotonic() + 12
        got = vips()
        while time.monotonic() < end and got != want:
            time.sleep(0.2)
            got = vips()
        if got == want:
            time.sleep(1.5)             # and it stays so: no side takes the other's VIP
            got = vips()
        assert got == want, "\n".join(f"{ns}: {f.read_text()[-1500:]}" for ns, f in logs.items())
