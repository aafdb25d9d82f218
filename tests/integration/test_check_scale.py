"""The checker at scale, the whole daemon in a namespace (issue 13): 2,000 real servers on
loopback addresses kept checked at their delay_loop (checks/s and the drift of check starts
from their schedule, from the checker's own counters), probes not tracked by conntrack, one
line for an unroutable real server and one for a virtual address the host does not have; a
reload that changes every real server keeps the checkers and their results, which then reach
the reloaded real servers (the nftables table follows them); and with no nft binary, one
clear error while VRRP keeps running. The 10,000-server figures: bench/checker_daemon.py."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import accept_listener
import pytest
from netlab import Lab, Node
from test_vrrp import Peer, instance, wait_for

from keepalived_py.obs.control import query

pytestmark = pytest.mark.netns

SERVERS = 2000
PORT = 18080


def conf(weight: int) -> str:
    rs = "".join(f"  real_server 127.1.{i // 250}.{i % 250 + 1} {PORT} {{\n    weight {weight}\n"
                 "    TCP_CHECK {\n      connect_timeout 2\n      retry 0\n    }\n  }\n"
                 for i in range(SERVERS))
    # no route to 198.51.100.9 in the namespace; 192.0.2.100 is not one of its addresses
    rs += ("  real_server 198.51.100.9 80 {\n    TCP_CHECK {\n      connect_timeout 1\n"
           "    }\n  }\n")
    return ("global_defs {\n  dataplane nftables\n}\n"
            "virtual_server 192.0.2.100 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n"
            f"  protocol TCP\n{rs}}}\n")


def totals(ctl: str) -> dict[str, object]:
    return json.loads(query(ctl, "checks", timeout=10))  # type: ignore[no-any-return]


def test_checker_keeps_2000_servers_on_schedule_and_a_reload_keeps_their_results(
        lab: Lab, tmp_path: Path) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")
    node = lab.node("ck")
    lst = node.popen([sys.executable, accept_listener.PATH, str(PORT)], stdout=subprocess.PIPE)
    assert lst.stdout is not None and lst.stdout.readline().strip() == b"ready"
    cfg = tmp_path / "k.conf"
    cfg.write_text(conf(1))
    log = tmp_path / "log"
    daemon = node.popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-C", "-f", str(cfg),
                         "-p", str(tmp_path / "p.pid"), "-c", str(tmp_path / "c.pid"),
                         "-r", str(tmp_path / "v.pid")],
                        stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    ctl = str(tmp_path / "keepalived-py-checker.ctl")
    assert wait_for(lambda: Path(ctl).exists(), 30), log.read_text()[-3000:]
    # every checker has run once (the first checks spread over the first delay_loop)
    assert wait_for(lambda: totals(ctl)["checks"] >= SERVERS + 1, 15), totals(ctl)  # type: ignore[operator]
    first = totals(ctl)
    assert wait_for(lambda: totals(ctl)["checks"] >= int(first["checks"]) + 2 * SERVERS,  # type: ignore[call-overload]
                    6), (first, totals(ctl))
    rate = totals(ctl)
    drift = rate["drift"]
    assert isinstance(drift, dict)
    # a schedule that falls behind shows as drift growing without bound (seconds); under
    # the load of a shared machine single starts can be late by a few scheduler slices
    assert drift["p99_ms"] < 250, rate
    conntrack = node.run("cat", "/proc/sys/net/netfilter/nf_conntrack_count", check=False)
    if conntrack.returncode == 0:           # conntrack is loaded by the NAT table
        assert int(conntrack.stdout) < 200, "probe connections are tracked"
    text = log.read_text()
    assert text.count("is not reachable from this host") == 1, text[-3000:]
    assert text.count("192.0.2.100 is not an address of this host") == 1, text[-3000:]
    assert "198.51.100.9" in text and "Network is unreachable" in text
    table = node.run("nft", "list", "table", "ip", "keepalived_py").stdout
    assert "127.1.7.250 . 18080" in table
    probes = node.run("nft", "list", "table", "ip", "keepalived_py_probes").stdout
    assert "notrack" in probes and "@flows" in probes

    # reload: every real server changes (its weight), no checker does
    before = totals(ctl)
    cfg.write_text(conf(2))
    daemon.send_signal(signal.SIGHUP)
    # weight 2 each: 4,000 slots
    assert wait_for(lambda: f"mod {2 * SERVERS} " in node.run(
        "nft", "list", "table", "ip", "keepalived_py").stdout, 20), node.run(
        "nft", "list", "table", "ip", "keepalived_py").stdout[:1500]
    after = totals(ctl)
    assert after["checkers"] == before["checkers"]
    assert int(after["checks"]) >= int(before["checks"])  # type: ignore[call-overload]  # kept, not restarted
    # the servers die after the reload: the kept checkers' results reach the reloaded real
    # servers, so the table loses every backend
    lst.kill()
    lst.wait(5)
    assert wait_for(lambda: "dnat" not in node.run(
        "nft", "list", "table", "ip", "keepalived_py").stdout, 15), (
        totals(ctl), log.read_text()[-2000:])
    assert daemon.poll() is None


def test_without_nft_one_error_and_vrrp_keeps_running(lab: Lab, tmp_path: Path) -> None:
    lan = lab.lan()
    node: Node = lab.node("nonft", lan, "192.0.2.1/24")
    text = instance(150, vip="192.0.2.100/24") + (
        "virtual_server 192.0.2.100 80 {\n  delay_loop 1\n  lb_kind NAT\n  protocol TCP\n"
        "  real_server 192.0.2.1 8080 {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n}\n"
    ).replace("global_defs {", "global_defs {\n  dataplane nftables")
    peer = Peer(node, tmp_path, text)
    empty = tmp_path / "bin"
    empty.mkdir()
    d = peer.dir
    peer.proc = node.popen(["env", f"PATH={empty}", sys.executable, "-m", "keepalived_py", "-n",
                            "-l", "-f", str(peer.conf), "-p", str(d / "p.pid"),
                            "-r", str(d / "v.pid"), "-c", str(d / "c.pid")],
                           stdout=subprocess.DEVNULL, stderr=open(d / "log", "ab"))
    assert wait_for(lambda: peer.has("192.0.2.100/24"), 15), peer.log()
    # the real server is down (nothing listens): a change the dataplane would apply
    assert wait_for(lambda: "TCP_CHECK on service" in peer.log(), 10), peer.log()
    checker = int((d / "c.pid").read_text())
    log = (d / "log").read_text(errors="replace")
    assert log.count("nftables is not usable") == 1, log[-3000:]
    assert log.count("check.nft.failed") == 1, log[-3000:]
    assert "Traceback" not in log
    assert int((d / "c.pid").read_text()) == checker and peer.proc.poll() is None
    peer.stop()
