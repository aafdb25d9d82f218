"""The checker's start and its probes' close, through the nftables dataplane in namespaces
(issue 13): a start with `lvs_flush` removes a stale virtual server left in our table, a start
without it adopts the table (the configured virtual server is never missing, its rule never
changes); the first check of each real server comes keepalived's 1 s + a random part of
`warmup` after the start (measured at the real servers); and a TCP_CHECK closes so that a real
HTTP server (Python's http.server, beside the director and on it) logs nothing — keepalived's
FIN, not a reset — while conntrack stays empty."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from stallwatch import StallWatch
from test_vrrp import wait_for

from keepalived_py.obs.control import query

pytestmark = pytest.mark.netns

PORT = 18090
# accepts on every address of the namespace; prints the first accept per local address
LISTENER = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(512)
print("ready", flush=True)
seen = set()
while True:
    c, _ = s.accept()
    try:
        a = c.getsockname()[0]
    except OSError:
        a = "?"
    if a not in seen:
        seen.add(a)
        print(a, repr(time.time()), flush=True)
    c.close()
"""


def need_nft() -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")


def start(node: Node, d: Path, text: str, *args: str) -> subprocess.Popen[bytes]:
    (d / "k.conf").write_text(text)
    return node.popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-C",
                       "--log-format=json", "-f", str(d / "k.conf"), "-p", str(d / "p.pid"),
                       "-c", str(d / "c.pid"), "-r", str(d / "v.pid"), *args],
                      stdout=subprocess.DEVNULL, stderr=open(d / "log", "ab"))


def events(d: Path, name: str) -> list[dict[str, object]]:
    out = []
    for line in (d / "log").read_text(errors="replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("event") == name:
            out.append(e)
    return out


def stamp(e: dict[str, object]) -> float:
    """A log line's time (the JSON log's local time to the millisecond) as time.time()."""
    ts = str(e["timestamp"])
    whole, _, ms = ts.partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(ms or 0) / 1000


def services(node: Node) -> dict[str, tuple[str, str]]:
    """virtual address -> (its chain, the chain's rules), read from our table."""
    text = node.run("nft", "list", "table", "ip", "keepalived_py", check=False).stdout
    out = {}
    for vip, chain in re.findall(r"ip daddr (\S+) tcp dport 80 jump (vs_\w+)", text):
        m = re.search(rf"chain {chain} {{\n(.*?)\n\t}}", text, re.S)
        out[vip] = (chain, m.group(1).strip() if m else "")
    return out


def lb_conf(*vips: str, flush: bool = False) -> str:
    # delay_loop 30: no first check, and no pruning of what nobody owns, during the test
    vs = "".join(f"virtual_server {vip} 80 {{\n  delay_loop 30\n  lb_algo wrr\n  lb_kind NAT\n"
                 f"  protocol TCP\n  real_server 127.1.0.1 {PORT} {{\n    TCP_CHECK {{\n"
                 "      connect_timeout 2\n    }\n  }\n}\n" for vip in vips)
    return ("global_defs {\n  dataplane nftables\n" + ("  lvs_flush\n" if flush else "")
            + "}\n" + vs)


def test_lvs_flush_removes_a_stale_service_without_it_the_table_is_adopted(
        lab: Lab, tmp_path: Path) -> None:
    need_nft()
    node = lab.node("fl")
    d = tmp_path
    # a checker that leaves its table behind (-I: keepalived's --dont-release-ipvs)
    p = start(node, d, lb_conf("192.0.2.100", "192.0.2.99"), "-I")
    assert wait_for(lambda: set(services(node)) == {"192.0.2.100", "192.0.2.99"}, 30), \
        (d / "log").read_text()[-3000:]
    p.send_signal(signal.SIGTERM)
    p.wait(20)
    before = services(node)
    assert set(before) == {"192.0.2.100", "192.0.2.99"} and "dnat" in before["192.0.2.100"][1]

    # without lvs_flush: the configured server is adopted; sampled all through the start,
    # its dispatch rule and its chain are always there and never change
    p = start(node, d, lb_conf("192.0.2.100"), "-I")
    samples = 0
    t0 = time.monotonic()
    settled = None
    while time.monotonic() - t0 < 40:
        now = services(node)
        samples += 1
        assert now.get("192.0.2.100") == before["192.0.2.100"], (samples, now)
        if settled is None and Path(d / "keepalived-py-checker.ctl").exists() and \
                events(d, "check.nft.applied"):
            settled = time.monotonic()
        if settled is not None and time.monotonic() - settled > 1.0:
            break
    assert settled is not None, (d / "log").read_text()[-3000:]
    assert samples >= 10, samples
    # the stale server's chain is adopted, not flushed: pruned once a delay_loop has passed
    # (its dispatch rule went with the first apply)
    assert "chain " + before["192.0.2.99"][0] + " {" in node.run(
        "nft", "list", "table", "ip", "keepalived_py").stdout
    assert not events(d, "check.nft.flushed")
    p.send_signal(signal.SIGTERM)
    p.wait(20)

    # with lvs_flush: the stale server is gone from the first apply on
    (d / "log").write_text("")
    p = start(node, d, lb_conf("192.0.2.100", flush=True))
    assert wait_for(lambda: events(d, "check.nft.applied"), 30), (d / "log").read_text()[-3000:]
    now = services(node)
    assert set(now) == {"192.0.2.100"} and "dnat" in now["192.0.2.100"][1], now
    assert "chain " + before["192.0.2.99"][0] + " {" not in node.run(
        "nft", "list", "table", "ip", "keepalived_py").stdout
    assert len(events(d, "check.nft.flushed")) == 1
    assert not events(d, "check.nft.ipvs_only")          # lvs_flush is used on nftables
    p.send_signal(signal.SIGTERM)
    p.wait(20)
    # stopped without -I: the table goes
    assert node.run("nft", "list", "table", "ip", "keepalived_py", check=False).returncode != 0


WARMUP = 4.0          # the default warmup: the delay_loop
SLACK = 1.0           # scheduling on a loaded machine (the checker's own drift)


def test_first_checks_come_1s_plus_a_random_part_of_warmup_after_the_start(
        lab: Lab, tmp_path: Path) -> None:
    need_nft()
    node = lab.node("wu")
    lst = node.popen([sys.executable, "-c", LISTENER, str(PORT)], stdout=subprocess.PIPE)
    assert lst.stdout is not None and lst.stdout.readline().strip() == b"ready"
    first: dict[str, float] = {}

    def read() -> None:
        assert lst.stdout is not None
        for line in lst.stdout:
            a, t = line.decode().split()
            first[a] = float(t)
    threading.Thread(target=read, daemon=True).start()
    spread = [f"127.1.0.{i}" for i in range(1, 13)]       # default warmup (delay_loop 4)
    at_once = ["127.1.0.13", "127.1.0.14"]                # warmup 0: 1 s after the start
    rs = "".join(f"  real_server {a} {PORT} {{\n    TCP_CHECK {{\n      connect_timeout 2\n"
                 + ("      warmup 0\n" if a in at_once else "") + "    }\n  }\n"
                 for a in spread + at_once)
    text = ("global_defs {\n  dataplane nftables\n}\n"
            f"virtual_server 192.0.2.100 80 {{\n  delay_loop {WARMUP:g}\n  lb_algo wrr\n"
            f"  lb_kind NAT\n  protocol TCP\n{rs}}}\n")
    watch = StallWatch().start()
    try:
        start(node, tmp_path, text)
        assert wait_for(lambda: len(first) == 14, 30), (first,
                                                          (tmp_path / "log").read_text()[-3000:])
    finally:
        watch.stop()
    to_mono = time.monotonic() - time.time()          # wall-clock stamps -> CLOCK_MONOTONIC
    # the checker's start lies between its dataplane line and its first apply
    begin = stamp(events(tmp_path, "check.dataplane")[0])
    ready = stamp(events(tmp_path, "check.nft.applied")[0])
    offsets = {a: round(first[a] - begin, 3) for a in spread + at_once}

    def late(a: str) -> float:
        """When `a` was first checked, less the host's own stalls since the start (a host
        that ran nobody delays every process alike; tests/stallwatch.py)."""
        return first[a] - watch.stalled(begin + to_mono, first[a] + to_mono)
    info = (offsets, f"start took {ready - begin:.3f} s", watch.figures())
    for a in spread:
        assert first[a] >= begin + 1.0 - 0.002, info         # never before keepalived's 1 s
        assert late(a) <= ready + 1.0 + WARMUP + SLACK, info
    for a in at_once:
        assert first[a] >= begin + 1.0 - 0.002 and late(a) <= ready + 1.0 + SLACK, info
    # spread over the warmup, not a burst (12 uniform draws over 4 s span < 1 s: p < 3e-6)
    got = [first[a] for a in spread]
    assert max(got) - min(got) >= 1.0, offsets
    print("first checks after the start (s):", sorted(offsets.values()), info[1:])


SERVERS = 10          # virtual servers per HTTP server (10 checks/s each at delay_loop 1)


def test_tcp_check_closes_like_keepalived_a_real_http_server_logs_nothing_and_conntrack_stays_empty(
        lab: Lab, tmp_path: Path) -> None:
    need_nft()
    lan = lab.lan()
    director = lab.node("dr", lan, "192.0.2.1/24")
    server = lab.node("www", lan, "192.0.2.2/24")
    logs = {}
    for name, node, addr in (("remote", server, "192.0.2.2"), ("local", director, "127.0.0.1")):
        logs[name] = tmp_path / f"http-{name}.log"
        node.popen([sys.executable, "-m", "http.server", "--bind", addr, "8080"],
                   stdout=subprocess.DEVNULL, stderr=open(logs[name], "wb"))
        assert wait_for(lambda n=node, a=addr: n.run(   # type: ignore[misc]
            sys.executable, "-c", f"import socket; socket.create_connection(('{a}', 8080), 1)",
            check=False).returncode == 0, 10)
    vs = "".join(f"virtual_server 192.0.2.{100 + i} 80 {{\n  delay_loop 1\n  lb_kind NAT\n"
                 f"  protocol TCP\n  real_server {addr} 8080 {{\n    TCP_CHECK {{\n"
                 "      connect_timeout 2\n      warmup 0\n    }\n  }\n}\n"
                 for i, addr in enumerate(["192.0.2.2"] * SERVERS + ["127.0.0.1"] * SERVERS))
    start(director, tmp_path, "global_defs {\n  dataplane nftables\n}\n" + vs)
    ctl = str(tmp_path / "keepalived-py-checker.ctl")
    assert wait_for(lambda: Path(ctl).exists(), 30), (tmp_path / "log").read_text()[-3000:]

    def checks() -> int:
        return int(json.loads(query(ctl, "checks", timeout=10))["checks"])
    assert wait_for(lambda: checks() >= 6 * 2 * SERVERS, 30), checks()
    for name, path in logs.items():
        text = path.read_text(errors="replace")
        # after a reset it would be a ConnectionResetError traceback per check
        assert "Traceback" not in text and "Error" not in text, (name, text[-2000:])
    count = director.run("cat", "/proc/sys/net/netfilter/nf_conntrack_count").stdout
    assert int(count) < 5, director.run("conntrack", "-L", check=False).stdout[-2000:]
    down = [e for e in events(tmp_path, "check.realserver.changed")]
    assert not down, down


# what an older keepalived-py left in its table: the probes' chains and flow set lived in
# keepalived_py itself before they had a table of their own
OLD_LAYOUT = """
add set ip keepalived_py probe_flows { type ipv4_addr . inet_service . ipv4_addr . inet_service;\
 flags dynamic,timeout; timeout 2s; size 262144; }
add chain ip keepalived_py probes { type filter hook output priority raw; policy accept; }
add rule ip keepalived_py probes meta mark 0x6b700000 meta l4proto tcp update @probe_flows\
 { ip daddr . tcp dport . ip saddr . tcp sport }
add rule ip keepalived_py probes meta mark 0x6b700000 notrack
add chain ip keepalived_py probe_replies { type filter hook prerouting priority raw;\
 policy accept; }
add rule ip keepalived_py probe_replies meta l4proto tcp ip saddr . tcp sport . ip daddr\
 . tcp dport @probe_flows notrack
"""


def test_a_table_left_by_an_older_version_is_brought_to_the_current_layout(
        lab: Lab, tmp_path: Path) -> None:
    """A respawned or upgraded checker finds keepalived_py with an older version's `probes`
    and `probe_replies` chains and `probe_flows` set: they go (once the configured server is
    applied); what it keeps is never flushed — the configured server's chain is there all
    along and a client its persistence map remembers is still remembered."""
    need_nft()
    node = lab.node("ol")
    d = tmp_path
    conf = ("global_defs {\n  dataplane nftables\n}\nvirtual_server 192.0.2.100 80 {\n"
            "  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  persistence_timeout 600\n"
            f"  protocol TCP\n  real_server 127.1.0.1 {PORT} {{\n    TCP_CHECK {{\n"
            "      connect_timeout 2\n    }\n  }\n}\n")
    p = start(node, d, conf, "-I")            # -I: its table stays behind
    assert wait_for(lambda: "192.0.2.100" in services(node), 30), (d / "log").read_text()[-3000:]
    p.send_signal(signal.SIGTERM)
    p.wait(20)
    chain = services(node)["192.0.2.100"][0]
    (d / "old.nft").write_text(OLD_LAYOUT)
    node.run("nft", "-f", str(d / "old.nft"))
    node.run("nft", "add", "element", "ip", "keepalived_py", f"{chain}_p",
             "{ 198.51.100.7 : 127.1.0.1 . 18090 }")

    def table() -> str:
        return node.run("nft", "list", "table", "ip", "keepalived_py").stdout
    assert "chain probes {" in table() and "198.51.100.7" in table()
    (d / "log").write_text("")
    p = start(node, d, conf, "-I")
    try:
        t0 = time.monotonic()
        while "chain probes {" in (text := table()) and time.monotonic() - t0 < 30:
            assert f"jump {chain}" in text and f"chain {chain} {{" in text, text
            time.sleep(0.2)
        text = table()
        for old in ("chain probes {", "chain probe_replies {", "set probe_flows {"):
            assert old not in text, text
        assert f"jump {chain}" in text and "dnat" in services(node)["192.0.2.100"][1], text
        assert "198.51.100.7" in text, text                      # the map was not flushed
        assert "set flows {" in node.run("nft", "list", "table", "ip",
                                         "keepalived_py_probes").stdout
        layout = events(d, "check.nft.layout")
        assert len(layout) == 1 and layout[0]["chains"] == "probe_replies probes", layout
        assert layout[0]["sets"] == "probe_flows", layout
        assert not events(d, "check.nft.flushed")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(20)
