"""The healthcheck child with the nftables dataplane, end to end in namespaces: a client sends
requests to the virtual address through a director to real HTTP servers (issue 6). The
configurations force `dataplane nftables`: on a kernel with IPVS the checker would pick IPVS."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from netlab import Lab, Node
from stallwatch import StallWatch
from test_vrrp import wait_for

pytestmark = pytest.mark.netns

SERVER = r"""
import http.server, socketserver, sys
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("0.0.0.0", 8080), H).serve_forever()
"""

CLIENT = r"""
import sys, urllib.request
n = int(sys.argv[1])
for _ in range(n):
    try:
        print(urllib.request.urlopen("http://192.0.2.100/", timeout=2).read().decode(), flush=True)
    except Exception as e:
        print("ERR", type(e).__name__, flush=True)
"""


def conf(servers: list[tuple[str, int]], sorry: str | None = "198.51.100.13") -> str:
    rs = "\n".join(
        f"  real_server {ip} 8080 {{\n    weight {w}\n"
        "    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n"
        "      connect_timeout 1\n      retry 1\n      delay_before_retry 0.5\n    }\n  }"
        for ip, w in servers)
    sorry_line = f"  sorry_server {sorry} 8080\n" if sorry else ""
    return (f"global_defs {{\n  enable_script_security\n  dataplane nftables\n}}\n"
            f"virtual_server 192.0.2.100 80 {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n"
            f"  protocol TCP\n{sorry_line}{rs}\n}}\n")


class Topology:
    def __init__(self, lab: Lab, tmp: Path) -> None:
        if shutil.which("nft") is None:
            pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")
        front, back = lab.lan("front"), lab.lan("back")
        self.client = lab.node("cl", front, "192.0.2.10/24")
        self.director = lab.node("dir", front, "192.0.2.1/24", "192.0.2.100/24")
        lab.attach(self.director, back, "eth1", "198.51.100.1/24")
        self.director.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.servers: dict[str, Node] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, host in (("rs1", 11), ("rs2", 12), ("sorry", 13)):
            node = lab.node(name, back, f"198.51.100.{host}/24")
            node.run("ip", "route", "add", "default", "via", "198.51.100.1")
            self.servers[name] = node
            self.start_server(name)
        self.tmp = tmp
        self.lab = lab

    def start_server(self, name: str) -> None:
        self.procs[name] = self.servers[name].popen([sys.executable, "-c", SERVER, name],
                                                    stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL)
        ip = {"rs1": 11, "rs2": 12, "sorry": 13}[name]
        assert wait_for(lambda: self.servers[name].run(
            sys.executable, "-c", f"import socket; socket.create_connection(('198.51.100.{ip}', 8080), 1)",
            check=False).returncode == 0, 10)

    def stop_server(self, name: str) -> None:
        p = self.procs.pop(name)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(5)
        # `ip netns exec` forks: end whatever still runs in that namespace
        for pid in subprocess.run(["ip", "netns", "pids", self.servers[name].ns],
                                  capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)

    def requests(self, n: int = 30) -> Counter[str]:
        out = self.client.run(sys.executable, "-c", CLIENT, str(n), timeout=120).stdout
        return Counter(line.strip() for line in out.splitlines() if line.strip())

    def start_daemon(self, text: str, *args: str) -> Path:
        d = self.tmp / "dir"
        d.mkdir(exist_ok=True)
        (d / "k.conf").write_text(text)
        self.daemon = self.director.popen(
            [sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(d / "k.conf"),
             "-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"),
             "-b", str(d / "b.pid"), *args],
            stdout=subprocess.DEVNULL, stderr=open(d / "log", "ab"))
        self.dir = d
        return d

    def log(self) -> str:
        return (self.dir / "log").read_text(errors="replace")[-4000:]

    def table(self) -> str:
        return self.director.run("nft", "list", "table", "ip", "keepalived_py", check=False).stdout


def test_traffic_follows_health_and_falls_back_to_the_sorry_server(lab: Lab,
                                                                   tmp_path: Path) -> None:
    t = Topology(lab, tmp_path)
    t.start_daemon(conf([("198.51.100.11", 1), ("198.51.100.12", 1)]))
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 30), t.log()
    got = t.requests(40)
    assert set(got) == {"rs1", "rs2"}, got
    # kill rs2: out within retry x delay_before_retry + delay_loop (+ connect timeout)
    with StallWatch() as sw:
        t.stop_server("rs2")
        t0 = time.monotonic()
        took = wait_for(lambda: "198.51.100.12" not in t.table(), 10)
        assert took is not None, t.log()
    stall = sw.stalled(t0, t0 + took)
    print(f"\nrs2 out of the table after {took:.3f} s, host stall in it {stall:.3f} s")
    assert took - stall < 1 * 0.5 + 1 + 1 + 1.5, (took, stall, t.log())
    assert set(t.requests(20)) == {"rs1"}
    # all dead: the sorry server answers
    t.stop_server("rs1")
    assert wait_for(lambda: "198.51.100.13 . 8080" in t.table(), 6), t.log()
    assert set(t.requests(10)) == {"sorry"}
    # back up: back in
    t.start_server("rs1")
    t.start_server("rs2")
    assert wait_for(lambda: "198.51.100.11" in t.table() and "198.51.100.12" in t.table(), 8)
    assert set(t.requests(40)) == {"rs1", "rs2"}


def test_reload_removes_a_sorry_server_equal_to_a_real_server(lab: Lab, tmp_path: Path) -> None:
    """keepalived 2.3.3 segfaults here; ours removes the sorry server cleanly."""
    t = Topology(lab, tmp_path)
    d = t.start_daemon(conf([("198.51.100.11", 1), ("198.51.100.12", 1)], sorry="198.51.100.11"))
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 30), t.log()
    # the forked checker may apply its first table before the parent has written its pidfile
    assert wait_for(lambda: (d / "c.pid").exists(), 10), t.log()
    child = int((d / "c.pid").read_text())
    (d / "k.conf").write_text(conf([("198.51.100.12", 1)], sorry=None))
    os.kill(int((d / "p.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: "198.51.100.11" not in t.table(), 8), t.log()
    assert int((d / "c.pid").read_text()) == child          # the checker did not crash
    assert set(t.requests(10)) == {"rs2"}
    # and a virtual server removed entirely leaves no chain behind
    (d / "k.conf").write_text("global_defs {\n  enable_script_security\n  dataplane nftables\n}\n"
                              "virtual_server 192.0.2.100 81 {\n  lb_algo rr\n  lb_kind NAT\n"
                              "  protocol TCP\n  real_server 198.51.100.12 8080 {\n  }\n}\n")
    os.kill(int((d / "p.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: "tcp dport 80 " not in t.table(), 8), t.table()


def test_status_shows_virtual_and_real_servers(lab: Lab, tmp_path: Path) -> None:
    t = Topology(lab, tmp_path)
    d = t.start_daemon(conf([("198.51.100.11", 1), ("198.51.100.12", 1)]),
                       "--prometheus=127.0.0.1:9651")
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 30), t.log()
    out = t.director.run(sys.executable, "-m", "keepalived_py", "status", "-c",
                         str(d / "c.pid"), "-r", str(d / "v.pid")).stdout
    assert "VIRTUAL SERVER 192.0.2.100:80 TCP" in out and "198.51.100.11:8080  UP" in out
    # no VRRP instance, no VRRP child: the parent's endpoint still serves the checker's metrics
    got = t.director.run(sys.executable, "-c", "import urllib.request;print(urllib.request."
                         "urlopen('http://127.0.0.1:9651/metrics', timeout=5).read().decode())").stdout
    assert "keepalived_up 1" in got and 'keepalived_py_child_up{role="checker"} 1' in got, got
    assert 'keepalived_py_realserver_up{vs="192.0.2.100:80",rs="198.51.100.11:8080"} 1' in got, got


def test_virtual_server_group_range_balances_every_address(lab: Lab, tmp_path: Path) -> None:
    t = Topology(lab, tmp_path)
    t.director.run("ip", "addr", "add", "192.0.2.101/24", "dev", "eth0")
    t.start_daemon("global_defs {\n  enable_script_security\n  dataplane nftables\n}\n"
                   "virtual_server_group WEB {\n  192.0.2.100-101 80\n}\n"
                   "virtual_server group WEB {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n"
                   "  protocol TCP\n  real_server 198.51.100.11 8080 {\n"
                   "    TCP_CHECK { connect_timeout 1 }\n  }\n}\n")
    assert wait_for(lambda: "192.0.2.100-192.0.2.101" in t.table(), 30), t.log()
    out = t.client.run(sys.executable, "-c",
                       "import urllib.request\n"
                       "for a in ('192.0.2.100', '192.0.2.101'):\n"
                       "    print(urllib.request.urlopen(f'http://{a}/', timeout=3).read().decode())",
                       timeout=30).stdout.split()
    assert out == ["rs1", "rs1"]
    # keepalived's own words, which operators' scripts grep for (the first check comes 1 s
    # plus a random part of the delay_loop after start, as keepalived's)
    assert wait_for(lambda: "TCP connection to [198.51.100.11]:tcp:8080 success." in t.log(),
                    5), t.log()


def test_ipvs_dataplane_against_the_kernel(lab: Lab) -> None:
    """Needs the kernel's IPVS (generic netlink family "IPVS"); this machine's kernel may not
    have it — then the test says so and the nftables dataplane is what runs here."""
    node = lab.node("ipvs")
    probe = node.run(sys.executable, "-c", "import asyncio;from keepalived_py.check.ipvs import "
                     "ipvs_available;print(asyncio.run(ipvs_available()))", check=False)
    if probe.stdout.strip() != "True":
        pytest.skip("the kernel has no IPVS (no 'IPVS' generic netlink family)")
    code = ("import asyncio, ipaddress\n"
            "from keepalived_py.check.ipvs import IpvsDataplane\n"
            "from keepalived_py.check.realserver import Target\n"
            "from keepalived_py.config.model_lvs import VirtualServer\n"
            "async def main():\n"
            "    d = IpvsDataplane(); assert await d.setup()\n"
            "    vs = VirtualServer(address=ipaddress.ip_address('192.0.2.100'), port=80,"
            " protocol='TCP', lvs_sched='wrr')\n"
            "    assert await d.apply(vs, [Target('198.51.100.11', 80, 2)])\n"
            "    assert await d.apply(vs, [Target('198.51.100.11', 80, 5),"
            " Target('198.51.100.12', 80, 1)])\n"
            "    await d.teardown()\n"
            "asyncio.run(main()); print('ok')\n")
    assert "ok" in node.run(sys.executable, "-c", code).stdout


def test_sigusr1_writes_keepalived_check_data(lab: Lab, tmp_path: Path) -> None:
    t = Topology(lab, tmp_path)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    d = tmp_path / "dir"
    d.mkdir()
    (d / "k.conf").write_text(conf([("198.51.100.11", 1)]))
    t.daemon = t.director.popen(
        [sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(d / "k.conf"),
         "-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"), "-b", str(d / "b.pid")],
        stdout=subprocess.DEVNULL, stderr=open(d / "log", "ab"),
        env={**os.environ, "TMPDIR": str(dumps)})
    t.dir = d
    assert wait_for(lambda: "198.51.100.11 . 8080" in t.table(), 30), t.log()
    os.kill(int((d / "p.pid").read_text()), signal.SIGUSR1)
    path = dumps / "keepalived_check.data"
    assert wait_for(path.exists, 5), t.log()
    text = path.read_text()
    assert " VS VIP = 192.0.2.100, VPORT = 80" in text
    assert "   RIP = 198.51.100.11, RPORT = 8080, WEIGHT = 1 EFF WEIGHT = 1" in text


def test_nftables_table_flushed_by_the_firewall_is_restored_with_checker_state(
        lab: Lab, tmp_path: Path) -> None:
    """nftables.service's config begins with `flush ruleset`: our table goes with it; it is
    back within one delay_loop (1 s here), and a server that was down stays out."""
    t = Topology(lab, tmp_path)
    t.start_daemon(conf([("198.51.100.11", 1), ("198.51.100.12", 1)]))
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 30), t.log()
    t.stop_server("rs2")
    assert wait_for(lambda: "198.51.100.12" not in t.table(), 8), t.log()
    with StallWatch() as sw:
        t.director.run("nft", "flush", "ruleset")
        assert "198.51.100.11" not in t.table()
        t0 = time.monotonic()
        took = wait_for(lambda: "198.51.100.11 . 8080" in t.table(), 10)
        assert took is not None, t.log()
    stall = sw.stalled(t0, t0 + took)
    print(f"\nthe table restored after {took:.3f} s, host stall in it {stall:.3f} s")
    assert took - stall < 1 + 1.5, (took, stall, t.log())
    assert "198.51.100.12" not in t.table(), t.table()
    assert "was removed by another tool - restoring it" in t.log()
    assert set(t.requests(10)) == {"rs1"}


def test_respawned_checker_adopts_its_table_without_a_flush(lab: Lab, tmp_path: Path) -> None:
    """The checker child killed: its table keeps balancing while the new one starts (no
    flush, no gap), the hooks are not duplicated, and a chain nobody owns is pruned."""
    t = Topology(lab, tmp_path)
    t.start_daemon(conf([("198.51.100.11", 1), ("198.51.100.12", 1)]))
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), 30), t.log()
    t.director.run("nft", "add", "chain", "ip", "keepalived_py", "vs_deadbeef00")
    child = int((t.dir / "c.pid").read_text())
    os.kill(child, signal.SIGKILL)
    assert set(t.requests(20)) == {"rs1", "rs2"}          # served all through the respawn
    assert wait_for(lambda: (t.dir / "c.pid").read_text().strip() != str(child), 5)
    assert wait_for(lambda: "vs_deadbeef00" not in t.table(), 8), (t.table(), t.log())
    table = t.table()
    assert table.count("jump dispatch") == 2, table      # prerouting + output, once each
    assert "198.51.100.11 . 8080" in table and "198.51.100.12 . 8080" in table
