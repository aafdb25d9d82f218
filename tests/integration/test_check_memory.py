"""The checker child's memory (issue 16.3), a whole daemon in a namespace: the dataplane is
chosen as before (`auto`: IPVS where the kernel has the generic netlink family, else nftables,
with the same words), the parent loads the checker's code before forking it (shared pages),
and the checker child's own memory (what is private to it: its USS) stays far below what
importing pyroute2 to probe for IPVS cost it (about 10 MiB of its ~22 MiB)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import Lab
from test_vrrp import wait_for

pytestmark = pytest.mark.netns

USS_MAX_KIB = 14 * 1024       # measured 5-8 MiB with 50 TCP_CHECKs (pyroute2 alone was ~10)


def uss_kib(pid: int) -> int:
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def test_checker_child_probes_ipvs_without_pyroute2_and_shares_the_parents_code(
        lab: Lab, tmp_path: Path) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")
    node = lab.node("dir")
    rs = "".join(f"  real_server 127.1.0.{j + 1} 18091 {{\n    TCP_CHECK {{\n"
                 "      connect_timeout 2\n    }\n  }\n" for j in range(5))
    conf = tmp_path / "k.conf"
    conf.write_text("".join(f"virtual_server 192.0.2.{100 + i} 80 {{\n  delay_loop 1\n"
                            f"  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n{rs}}}\n"
                            for i in range(10)))
    log = tmp_path / "log"
    node.popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-C", "--log-format=json",
                "-f", str(conf), "-p", str(tmp_path / "p.pid"), "-c", str(tmp_path / "c.pid"),
                "-r", str(tmp_path / "v.pid")],
               stdout=subprocess.DEVNULL, stderr=open(log, "ab"))

    def events() -> list[dict[str, object]]:
        out = []
        for line in log.read_text(errors="replace").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict):
                out.append(e)
        return out

    def names() -> list[str]:
        return [str(e.get("event")) for e in events()]
    assert wait_for(lambda: "child.ready" in names(), 30), log.read_text()
    has_ipvs = node.run(sys.executable, "-c", "import asyncio\nfrom keepalived_py.check.genl"
                        " import ipvs_available\nprint(asyncio.run(ipvs_available()))"
                        ).stdout.strip() == "True"
    chosen = [e for e in events() if e.get("event") == "check.dataplane"]
    assert len(chosen) == 1, log.read_text()
    assert chosen[0]["kind"] == ("ipvs" if has_ipvs else "nftables")
    assert chosen[0]["reason"] == ("auto: the kernel has IPVS" if has_ipvs else
                                   "auto: the kernel has no IPVS (no 'IPVS' generic netlink"
                                   " family)")
    # the parent loaded the checker's code before forking it (core/rolewarm.py preload)
    order = names()
    warmed = [i for i, e in enumerate(events()) if e.get("event") == "supervisor.warmed"
              and e.get("role") == "checker"]
    started = [i for i, e in enumerate(events()) if e.get("event") == "supervisor.child.started"
               and e.get("role") == "checker"]
    assert warmed and started and warmed[0] < started[0], order
    if has_ipvs:
        return                       # (the IPVS dataplane imports pyroute2's IPVS API)
    pid = int((tmp_path / "c.pid").read_text().split()[0])
    time.sleep(3)                    # its checks running (the first ones 1-2 s after start)
    assert uss_kib(pid) < USS_MAX_KIB, f"checker child USS {uss_kib(pid)} KiB"
