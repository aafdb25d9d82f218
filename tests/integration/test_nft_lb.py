"""The nftables dataplane as a load balancer (issue 13): scheduling (`lb_algo`), persistence,
`inhibit_on_failure` and the warnings for what nftables cannot do, proven with traffic from
client addresses through the director to real HTTP servers (test_check.Topology), and the
table read with nft(8)."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from netlab import Lab
from test_check import Topology
from test_vrrp import wait_for

pytestmark = pytest.mark.netns

# one HTTP request per line of argv[2:] ("SRC"), each on a new connection from that source
CLIENT = r"""
import http.client, sys
vip = sys.argv[1]
for src in sys.argv[2:]:
    try:
        c = http.client.HTTPConnection(vip, 80, timeout=3, source_address=(src, 0))
        c.request("GET", "/")
        print(src, c.getresponse().read().decode(), flush=True)
        c.close()
    except Exception as e:
        print(src, "ERR", type(e).__name__, flush=True)
"""

CLIENTS = ("192.0.2.10", "192.0.2.20", "192.0.2.30")


def lb_conf(sched: str, extra: str = "", rs2: str = "", weights: tuple[int, int] = (2, 1),
            more: str = "") -> str:
    def real(ip: str, w: int, opts: str) -> str:
        return (f"  real_server {ip} 8080 {{\n    weight {w}\n{opts}"
                "    TCP_CHECK {\n      connect_timeout 1\n      retry 0\n    }\n  }\n")
    return ("global_defs {\n  enable_script_security\n  dataplane nftables\n}\n"
            f"virtual_server 192.0.2.100 80 {{\n  delay_loop 1\n  lb_algo {sched}\n"
            f"  lb_kind NAT\n  protocol TCP\n{extra}"
            + real("198.51.100.11", weights[0], "") + real("198.51.100.12", weights[1], rs2)
            + "}\n" + more)


def topology(lab: Lab, tmp: Path, text: str) -> Topology:
    t = Topology(lab, tmp)
    for extra in CLIENTS[1:]:
        t.client.run("ip", "addr", "add", f"{extra}/24", "dev", "eth0")
    t.start_daemon(text)
    assert wait_for(lambda: "198.51.100.12" in t.table() and "198.51.100.11" in t.table(), 30), \
        t.log()
    return t


def send(t: Topology, sources: list[str], vip: str = "192.0.2.100") -> list[tuple[str, str]]:
    out = t.client.run(sys.executable, "-c", CLIENT, vip, *sources, timeout=60).stdout
    return [tuple(line.split(None, 1)) for line in out.splitlines() if line.strip()]  # type: ignore[misc]


def test_nft_lb_wrr_is_round_robin_by_weight_and_warns_for_counting_schedulers(
        lab: Lab, tmp_path: Path) -> None:
    more = ("virtual_server 192.0.2.100 81 {\n  lb_algo wlc\n  lb_kind DR\n  protocol TCP\n"
            "  real_server 198.51.100.11 8080 {\n  }\n}\n")
    t = topology(lab, tmp_path, lb_conf("wrr", more=more))
    assert "numgen inc mod 3" in t.table(), t.table()
    got = Counter(server for _, server in send(t, [CLIENTS[0]] * 30))
    assert got == {"rs1": 20, "rs2": 10}, got          # exactly 2:1, in turn
    log = t.log()
    assert ("virtual_server 192.0.2.100 81: lb_algo wlc needs connection counts that nftables"
            " cannot see; using weighted random (numgen random) instead") in log, log
    assert "virtual_server 192.0.2.100 81: lb_kind DR cannot be done by nftables" in log, log


def test_nft_lb_rr_ignores_weights(lab: Lab, tmp_path: Path) -> None:
    t = topology(lab, tmp_path, lb_conf("rr", weights=(5, 1)))
    got = Counter(server for _, server in send(t, [CLIENTS[0]] * 20))
    assert got == {"rs1": 10, "rs2": 10}, got


def test_nft_lb_source_hash_keeps_each_client_on_one_server(lab: Lab, tmp_path: Path) -> None:
    t = topology(lab, tmp_path, lb_conf("sh", weights=(1, 1)))
    assert "jhash ip saddr mod 2" in t.table(), t.table()
    by_client: dict[str, set[str]] = {}
    for src, server in send(t, [c for c in CLIENTS for _ in range(6)]):
        by_client.setdefault(src, set()).add(server)
    assert all(len(s) == 1 and s <= {"rs1", "rs2"} for s in by_client.values()), by_client
    assert len(by_client) == 3


def test_nft_lb_persistence_keeps_a_client_on_its_server_until_it_dies(
        lab: Lab, tmp_path: Path) -> None:
    t = topology(lab, tmp_path, lb_conf("rr", extra="  persistence_timeout 30\n", weights=(1, 1)))
    first = send(t, [CLIENTS[0]] * 6)
    assert len({s for _, s in first}) == 1, first        # round robin, but persistent
    second = send(t, [CLIENTS[1]] * 6)
    assert len({s for _, s in second}) == 1 and second[0][1] != first[0][1], (first, second)
    table = t.table()
    assert "flags dynamic,timeout" in table and "timeout 30s" in table, table
    # the server of the first client dies: the client moves, and stays on the new one
    dead = first[0][1]
    t.stop_server(dead)
    ip = "198.51.100.11" if dead == "rs1" else "198.51.100.12"
    assert wait_for(lambda: f"{ip} . 8080" not in t.table(), 8), t.log()
    after = send(t, [CLIENTS[0]] * 4)
    assert {s for _, s in after} == {"rs1", "rs2"} - {dead}, after


SERVER6 = r"""
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)     # beside the IPv4 server
s.bind(("::", 8080))
s.listen(16)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n" + sys.argv[1].encode())
    except OSError:
        pass                # a TCP_CHECK probe ends with a reset (check/probe.py)
    finally:
        c.close()
"""


def test_nft_lb_ipv6_persistence_keeps_each_client_on_its_server(
        lab: Lab, tmp_path: Path) -> None:
    """IPv6 persistence on nftables (one dynamic set per real server: nft 1.0.6 cannot update
    an IPv6 map whose data is an address and a port): under round robin, each client stays on
    one server; clients of another /64 may land elsewhere; a dead server's clients move."""
    import subprocess
    t = Topology(lab, tmp_path)
    t.director.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    for node, addrs in ((t.client, ("2001:db8::10/64", "2001:db8::20/64")),
                        (t.director, ("2001:db8::1/64", "2001:db8::100/64"))):
        for a in addrs:
            node.run("ip", "addr", "add", a, "dev", "eth0", "nodad")
    t.client.run("ip", "addr", "add", "2001:db8:0:1::30/64", "dev", "eth0", "nodad")
    t.director.run("ip", "addr", "add", "2001:db8:0:1::1/64", "dev", "eth0", "nodad")
    t.director.run("ip", "addr", "add", "2001:db8:1::1/64", "dev", "eth1", "nodad")
    procs = []
    for name, host in (("rs1", 11), ("rs2", 12)):
        node = t.servers[name]
        node.run("ip", "addr", "add", f"2001:db8:1::{host}/64", "dev", "eth0", "nodad")
        node.run("ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
        procs.append(node.popen([sys.executable, "-c", SERVER6, name],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        t.start_daemon("global_defs {\n  enable_script_security\n  dataplane nftables\n}\n"
                       "virtual_server 2001:db8::100 80 {\n  delay_loop 1\n  lb_algo rr\n"
                       "  lb_kind NAT\n  protocol TCP\n  persistence_timeout 30\n"
                       "  persistence_granularity 64\n"
                       + "".join(f"  real_server 2001:db8:1::{h} 8080 {{\n    TCP_CHECK {{\n"
                                 "      connect_timeout 1\n      retry 0\n    }\n  }\n"
                                 for h in (11, 12)) + "}\n")

        def table6() -> str:
            return t.director.run("nft", "list", "table", "ip6", "keepalived_py",
                                  check=False).stdout
        assert wait_for(lambda: "2001:db8:1::12" in table6() and "2001:db8:1::11" in table6(),
                        10), t.log()
        # both servers listening: their first checks passed (1 s + part of warmup after start)
        assert wait_for(lambda: all(f"[2001:db8:1::{h}]:tcp:8080 success" in t.log()
                                    for h in (11, 12)), 10), t.log()
        first = send(t, ["2001:db8::10"] * 4, "2001:db8::100")
        assert len({s for _, s in first}) == 1 and first[0][1] in ("rs1", "rs2"), first
        same64 = send(t, ["2001:db8::20"] * 3, "2001:db8::100")    # the same /64: same server
        assert {s for _, s in same64} == {first[0][1]}, (first, same64)
        other = send(t, ["2001:db8:0:1::30"] * 4, "2001:db8::100")  # another /64: the other
        assert len({s for _, s in other}) == 1 and other[0][1] != first[0][1], (first, other)
        table = table6()
        assert "flags dynamic,timeout" in table and "ffff:ffff:ffff:ffff::" in table, table
        assert "persistence_timeout on IPv6" not in t.log()
    finally:
        for p in procs:
            p.kill()
            p.wait(5)


def test_nft_lb_persistence_granularity_groups_clients_by_mask(lab: Lab, tmp_path: Path) -> None:
    t = topology(lab, tmp_path, lb_conf("rr", extra="  persistence_timeout 30\n"
                                        "  persistence_granularity 255.255.255.0\n",
                                        weights=(1, 1)))
    got = send(t, [c for c in CLIENTS for _ in range(3)])
    assert len({s for _, s in got}) == 1, got            # one /24: one server for all of them
    assert "ip saddr & 255.255.255.0" in t.table(), t.table()


def test_nft_lb_inhibit_on_failure_keeps_the_server_with_no_new_connections(
        lab: Lab, tmp_path: Path) -> None:
    t = topology(lab, tmp_path, lb_conf("wrr", rs2="    inhibit_on_failure\n", weights=(1, 1)))
    t.stop_server("rs2")
    assert wait_for(lambda: "inhibited 198.51.100.12:8080" in t.table(), 8), (t.table(), t.log())
    table = t.table()
    assert "198.51.100.12 . 8080" not in table, table      # no share of new connections
    assert {s for _, s in send(t, [CLIENTS[0]] * 6)} == {"rs1"}
    t.start_server("rs2")
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 8), t.log()
    assert "inhibited" not in t.table()


def test_nft_lb_persistence_survives_a_checker_respawn(lab: Lab, tmp_path: Path) -> None:
    """The checker child killed: the new one adopts the table and its persistence map (the
    client keeps its server), and its helper chains are rewritten, not doubled."""
    import os
    import signal
    t = topology(lab, tmp_path, lb_conf("rr", extra="  persistence_timeout 30\n", weights=(1, 1)))
    first = {s for _, s in send(t, [CLIENTS[0]] * 3)}
    assert len(first) == 1
    child = int((t.dir / "c.pid").read_text())
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: (t.dir / "c.pid").read_text().strip() not in ("", str(child)), 8)
    assert wait_for(lambda: t.log().count("check.nft.applied") >= 2, 8), t.log()
    assert {s for _, s in send(t, [CLIENTS[0]] * 4)} == first
    table = t.table()
    assert table.count("update @vs_") == 2, table            # one per real server


def test_nft_lb_no_usable_dataplane_is_one_clear_error(lab: Lab, tmp_path: Path) -> None:
    """No IPVS in the kernel and nft(8) failing: the checker says so, naming both, and keeps
    checking (no crash, no respawn loop)."""
    import os
    import subprocess
    probe = lab.node("probe").run(sys.executable, "-c", "import asyncio;from keepalived_py.check."
                                  "ipvs import ipvs_available;print(asyncio.run(ipvs_available()))")
    if probe.stdout.strip() != "False":
        pytest.skip("this kernel has IPVS: the nftables-only failure is not reachable")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nft").write_text("#!/bin/sh\necho 'nft: not usable here' >&2\nexit 1\n")
    (fake / "nft").chmod(0o755)
    node = lab.node("dir")
    conf = tmp_path / "k.conf"
    conf.write_text("virtual_server 192.0.2.100 80 {\n  delay_loop 1\n  protocol TCP\n"
                    "  real_server 198.51.100.11 8080 {\n  }\n}\n")
    log = tmp_path / "log"
    node.popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-C", "-f", str(conf),
                "-p", str(tmp_path / "p.pid"), "-c", str(tmp_path / "c.pid"), "-b", str(tmp_path / "b.pid"),
                "-r", str(tmp_path / "v.pid")], stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
               env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    text = "no load-balancing dataplane: the kernel has no IPVS and nftables is not usable"
    assert wait_for(lambda: text in log.read_text(errors="replace"), 10), log.read_text()
    child = (tmp_path / "c.pid").read_text().strip()
    assert wait_for(lambda: "check.nft.failed" in log.read_text(), 5)
    assert (tmp_path / "c.pid").read_text().strip() == child          # no respawn
