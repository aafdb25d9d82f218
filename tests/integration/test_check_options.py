"""Checker options against real servers in namespaces (issue 13): what the real server sees.

A recording server (198.51.100.11:8080) answers each connection with HTTP 200 and logs the
peer address/port and the request it read. The checks run in the director's namespace from
a configuration built as the daemon builds it (the real server's `virtualhost` reaching the
HTTP_GET's Host, keepalived's fallback url -> checker -> real server -> virtual server):
`bindto` and `bind_port` are the source the server sees, `bind_if` binds the socket to a
device (a check through the wrong one fails), `http_protocol 1.1` sends keepalived's HTTP/1.1
request with "Connection: close". Then one daemon: FILE_CHECK takes a real server out and back
and `rs_init_notifies` announces the servers up at start (notify_up), both seen by scripts;
that daemon's dataplane is chosen by `--dataplane=nftables`.
"""
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

RECORDER = r"""
import json, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(16)
log = open(sys.argv[1], "a")
while True:
    c, peer = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        if data:
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    finally:
        c.close()
    log.write(json.dumps({"peer": list(peer), "request": data.decode(errors="replace")}) + "\n")
    log.flush()
"""

CONF = """
virtual_server 192.0.2.100 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  virtualhost vs.example
  real_server 198.51.100.11 8080 {
    virtualhost rs.example
    TCP_CHECK {
      bindto 198.51.100.2
      bind_port 40001
      connect_timeout 2
    }
    HTTP_GET {
      url {
        path /health
      }
      http_protocol 1.1
      bind_if eth0
      connect_timeout 2
    }
    HTTP_GET {
      url {
        path /other
      }
      bind_if lo
      connect_timeout 2
    }
  }
}
"""

# runs in the director's namespace: the checkers exactly as the daemon builds and runs them
PROBE = r"""
import asyncio, json, sys
from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.check.checkers import run_checker
d = Diagnostics()
c = build_config(read_tree_text(open(sys.argv[1]).read(), path="k.conf", diagnostics=d), d,
                 check_interfaces=False)
rs = c.virtual_servers[0].real_servers[0]
async def main():
    out = []
    for ch in rs.checkers:
        ok, why = await run_checker(ch, str(rs.address), rs.port, ch.connect_timeout or 2)
        out.append([ch.kind, ok, why])
    print(json.dumps(out))
asyncio.run(main())
"""


def test_checker_source_options_http_protocol_and_virtualhost_seen_by_the_server(
        lab: Lab, tmp_path: Path) -> None:
    back = lab.lan("back")
    director = lab.node("dir", back, "198.51.100.1/24", "198.51.100.2/24")
    server = lab.node("rs1", back, "198.51.100.11/24")
    seen = tmp_path / "seen.jsonl"
    proc = server.popen([sys.executable, "-c", RECORDER, str(seen)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: director.run(
            sys.executable, "-c",
            "import socket; socket.create_connection(('198.51.100.11', 8080), 1)",
            check=False).returncode == 0, 10)
        conf = tmp_path / "k.conf"
        conf.write_text(CONF)
        seen.write_text("")                              # the readiness probe's line
        t0 = time.monotonic()
        out = director.run(sys.executable, "-c", PROBE, str(conf), timeout=60).stdout
        took = time.monotonic() - t0
        results = json.loads(out.strip().splitlines()[-1])
        assert [r[:2] for r in results] == [["TCP_CHECK", True], ["HTTP_GET", True],
                                            ["HTTP_GET", False]], results
        assert wait_for(lambda: len(seen.read_text().splitlines()) >= 2, 5)
        lines = [json.loads(x) for x in seen.read_text().splitlines()]
        tcp, http = lines[0], lines[1]
        assert tcp["peer"] == ["198.51.100.2", 40001], tcp            # bindto + bind_port
        assert tcp["request"] == ""
        head = http["request"].split("\r\n")
        assert head[0] == "GET /health HTTP/1.1", head                 # http_protocol 1.1
        assert "Connection: close" in head and "Host: rs.example" in head, head
        assert "User-Agent: KeepAliveClient" in head
        assert all("/other" not in x["request"] for x in lines)       # bind_if lo: no route
        print(f"\nchecker options probe: {took:.2f} s")
    finally:
        proc.kill()
        proc.wait(5)


DAEMON_CONF = """global_defs {{
  enable_script_security
  script_user root
  rs_init_notifies
}}
virtual_server 192.0.2.100 80 {{
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.11 8080 {{
    notify_up "{notes} up 11"
    notify_down "{notes} down 11"
    FILE_CHECK {{
      track_file flag
      weight 0
      warmup 0
    }}
  }}
  real_server 198.51.100.12 8080 {{
    notify_up "{notes} up 12"
    alpha
    TCP_CHECK {{
      connect_timeout 1
      warmup 0
    }}
    inhibit_on_failure
  }}
}}
track_file flag {{
  file {flag}
}}
"""


def test_file_check_and_rs_init_notifies_in_the_daemon(lab: Lab, tmp_path: Path) -> None:
    """rs_init_notifies: the server up from the start (FILE_CHECK on a file holding 0) has its
    notify_up run once at start; the `alpha` one (down until a check succeeds; its TCP_CHECK
    never does) has none. Writing a
    non-zero value (weight 0: down) takes it out: notify_down; 0 again: notify_up."""
    if shutil.which("nft") is None:
        pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")
    director = lab.node("dir", lab.lan("back"), "198.51.100.1/24")
    notes, flag, log = tmp_path / "notes.sh", tmp_path / "flag", tmp_path / "notes"
    notes.write_text(f"#!/bin/sh\necho \"$1 $2\" >> {log}\n")
    notes.chmod(0o755)
    flag.write_text("0\n")
    conf = tmp_path / "k.conf"
    conf.write_text(DAEMON_CONF.format(notes=notes, flag=flag))
    d = tmp_path
    proc = director.popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-C",
                           "--dataplane=nftables", "-f",
                           str(conf), "-p", str(d / "p.pid"), "-r", str(d / "v.pid"),
                           "-c", str(d / "c.pid")],
                          stdout=subprocess.DEVNULL, stderr=open(d / "log", "ab"))

    def notes_now() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []
    try:
        assert wait_for(lambda: "up 11" in notes_now(), 30), (d / "log").read_text()[-3000:]
        flag.write_text("1\n")
        assert wait_for(lambda: "down 11" in notes_now(), 15), (d / "log").read_text()[-3000:]
        flag.write_text("0\n")
        assert wait_for(lambda: notes_now().count("up 11") == 2, 15), notes_now()
        assert "up 12" not in notes_now(), notes_now()      # alpha: no init notify
        # the dataplane forced on the command line (no `dataplane` keyword here)
        assert "Using the nftables dataplane (--dataplane=nftables)" in (d / "log").read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
