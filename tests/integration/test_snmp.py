"""SNMP through AgentX against net-snmp's snmpd as the master agent, and keepalived 2.2.7.

snmpd and snmptrapd run in the node's namespace (its own loopback; never the host's service),
each with its own config, persistent directory and AgentX socket under tmp_path; MIB loading is
switched off (MIBS/MIBDIRS) and every OID is numeric, so nothing depends on the host's MIBs.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vrrp import Peer, lan_of, wait_for

pytestmark = pytest.mark.netns

KA = ".1.3.6.1.4.1.9586.100.5"
INSTANCE = f"{KA}.2.3.1"
VRRP_MIB = ".1.3.6.1.2.1.68"
VRRPV3_MIB = ".1.3.6.1.2.1.207"
TRAP_INSTANCE = f"{KA}.2.10.0.2"


class Master:
    """snmpd (master agent, AgentX on a unix socket) and snmptrapd in one namespace."""

    def __init__(self, node: Node, d: Path) -> None:
        self.node, self.dir = node, d
        d.mkdir(exist_ok=True)
        (d / "persist").mkdir(exist_ok=True)
        (d / "mibs").mkdir(exist_ok=True)
        self.socket = d / "agentx"
        self.traps = d / "traps.log"
        self.traps.touch()
        (d / "snmpd.conf").write_text(
            f"master agentx\nagentXSocket unix:{self.socket}\nagentXPerms 0600 0700\n"
            "rocommunity public 127.0.0.1\ntrap2sink 127.0.0.1:16162 public\n")
        (d / "snmptrapd.conf").write_text("disableAuthorization yes\n")
        self.env = {**os.environ, "MIBS": "", "MIBDIRS": str(d / "mibs"),
                    "SNMP_PERSISTENT_DIR": str(d / "persist")}
        node.run("ip", "link", "set", "lo", "up")
        self.snmpd: subprocess.Popen[bytes] | None = None
        self.trapd = node.popen(["snmptrapd", "-f", "-C", "-c", str(d / "snmptrapd.conf"),
                                 "-Lf", str(self.traps), "-On", "udp:127.0.0.1:16162"],
                                env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def start(self) -> Master:
        self.snmpd = self.node.popen(["snmpd", "-f", "-C", "-c", str(self.dir / "snmpd.conf"),
                                      "-Lf", str(self.dir / "snmpd.log"), "udp:127.0.0.1:16161"],
                                     env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_for(self.socket.exists, 5), "snmpd made no AgentX socket"
        return self

    def stop(self) -> None:
        if self.snmpd is not None and self.snmpd.poll() is None:
            self.snmpd.terminate()
            self.snmpd.wait(5)
        with_socket = self.socket.exists()
        if with_socket:
            self.socket.unlink()

    def walk(self, oid: str) -> dict[str, str]:
        out = self.node.run("snmpbulkwalk", "-v2c", "-c", "public", "-On", "-t", "2", "-r", "1",
                            "127.0.0.1:16161", oid, check=False).stdout
        rows = {}
        for line in out.splitlines():
            name, sep, value = line.partition(" = ")
            if sep and "No Such" not in value and "No more variables" not in value:
                rows[name] = value
        return rows

    def trap_lines(self) -> list[str]:
        return self.traps.read_text(errors="replace").splitlines()


@pytest.fixture
def tools() -> None:
    for t in ("snmpd", "snmptrapd", "snmpbulkwalk"):
        if shutil.which(t) is None:
            pytest.skip(f"{t} is not installed (Debian packages snmpd, snmptrapd, snmp)")


@pytest.fixture
def masters() -> Iterator[list[Master]]:
    made: list[Master] = []
    yield made
    for m in made:
        m.stop()
        if m.trapd.poll() is None:
            m.trapd.terminate()
            m.trapd.wait(5)


def conf(prio: int, sock: Path | None, extra: str = "") -> str:
    snmp = f"""
  enable_snmp_vrrp
  enable_snmp_rfcv2
  enable_snmp_rfcv3
  enable_traps
  snmp_socket unix:{sock}""" if sock else ""
    return f"""
global_defs {{
  router_id kp-test{snmp}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int 1
  virtual_ipaddress {{
    192.0.2.100/24
    192.0.2.101/24
  }}
}}
{extra}
"""


V3_INSTANCE = """
vrrp_sync_group G1 {
  group { VI_1 }
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 120
  version 3
  advert_int 1
  virtual_ipaddress { 2001:db8::100/64 }
}
"""


def test_snmp_walk_follows_state_and_failover_sends_traps(lab: Lab, tmp_path: Path, tools: None,
                                                          masters: list[Master]) -> None:
    a, b = lan_of(lab, 2)
    m = Master(b, tmp_path / "snmp")
    masters.append(m)
    m.start()
    pa = Peer(a, tmp_path, conf(150, None)).start()
    assert wait_for(lambda: pa.has("192.0.2.100/24"), 10), pa.log()
    pb = Peer(b, tmp_path, conf(100, m.socket)).start()
    assert wait_for(lambda: m.walk(f"{INSTANCE}.2").get(f"{INSTANCE}.2.1") == 'STRING: "VI_1"',
                    10), pb.log()
    time.sleep(1.5)
    w = {**m.walk(KA), **m.walk(VRRP_MIB), **m.walk(VRRPV3_MIB)}
    # BACKUP everywhere, as the kernel shows (no VIP on b)
    assert not pb.has("192.0.2.100/24")
    assert w[f"{INSTANCE}.4.1"] == "INTEGER: 1"                    # vrrpInstanceState backup
    assert w[f"{INSTANCE}.9.1"] == "INTEGER: 2"                    # VIPs notAllSet
    assert w[f"{INSTANCE}.8.1"] == "INTEGER: 100"
    ifindex = b.run("cat", "/sys/class/net/eth0/ifindex").stdout.strip()
    assert w[f"{VRRP_MIB}.1.3.1.3.{ifindex}.51"] == "INTEGER: 2"   # vrrpOperState backup
    assert w[f"{VRRP_MIB}.1.3.1.7.{ifindex}.51"] == "IpAddress: 192.0.2.1"   # the master
    assert w[f"{VRRPV3_MIB}.1.1.1.1.6.{ifindex}.51.1"] == "INTEGER: 2"
    assert w[f"{VRRP_MIB}.1.4.1.2.{ifindex}.51.192.0.2.101"] == "INTEGER: 1"
    pa.stop(signal.SIGKILL)
    assert wait_for(lambda: pb.has("192.0.2.100/24"), 8), pb.log()
    w = {**m.walk(KA), **m.walk(VRRP_MIB), **m.walk(VRRPV3_MIB)}
    assert w[f"{INSTANCE}.4.1"] == "INTEGER: 2"
    assert w[f"{INSTANCE}.9.1"] == "INTEGER: 1"
    assert w[f"{VRRP_MIB}.1.3.1.3.{ifindex}.51"] == "INTEGER: 3"
    assert w[f"{VRRPV3_MIB}.1.1.1.1.3.{ifindex}.51.1"] == "Hex-STRING: C0 00 02 02 "
    assert w[f"{VRRP_MIB}.2.4.1.1.{ifindex}.51"] == "Counter32: 1"      # became master once

    def traps() -> list[str]:
        return [t for t in m.trap_lines() if "9586" in t or ".68.0.1" in t or ".207.0.1" in t]
    assert wait_for(lambda: any(".1.3.6.1.2.1.207.0.1" in t for t in traps()), 5), m.trap_lines()
    got = traps()
    instance = [t for t in got if TRAP_INSTANCE in t]
    assert any(f'{INSTANCE}.2 = STRING: "VI_1"' in t and f"{INSTANCE}.4 = INTEGER: 2" in t
               for t in instance), got
    assert any(f"{INSTANCE}.4 = INTEGER: 1" in t for t in instance), got   # the initial BACKUP
    assert any(f"{VRRP_MIB}.0.1" in t and "IpAddress: 192.0.2.2" in t for t in got), got
    assert any(f'{KA}.1.2.0 = STRING: "kp-test"' in t for t in instance)


def _strip(rows: dict[str, str]) -> dict[str, str]:
    """Rows without the ones that depend on when they are read (TimeTicks uptimes)."""
    return {k: v for k, v in rows.items() if not v.startswith("Timeticks")}


@pytest.mark.keepalived
def test_snmp_walk_matches_keepalived(lab: Lab, tmp_path: Path, tools: None,
                                      masters: list[Master]) -> None:
    (a,) = lan_of(lab, 1, v6=True)
    m = Master(a, tmp_path / "snmp")
    masters.append(m)
    m.start()
    walks = []
    for ours in (True, False):
        d = tmp_path / ("ours" if ours else "ka")
        d.mkdir()
        os.environ["SNMP_PERSISTENT_DIR"] = str(m.dir / "persist")   # keepalived's net-snmp
        try:
            p = Peer(a, d, conf(100, m.socket, V3_INSTANCE), ours=ours).start()
        finally:
            del os.environ["SNMP_PERSISTENT_DIR"]
        try:
            for x in (1, 2):                    # MASTER, and its addresses all set
                assert wait_for(lambda x=x: m.walk(f"{INSTANCE}.4").get(f"{INSTANCE}.4.{x}")
                                == "INTEGER: 2", 12), p.log()
                assert wait_for(lambda x=x: m.walk(f"{INSTANCE}.9").get(f"{INSTANCE}.9.{x}")
                                == "INTEGER: 1", 5), p.log()
            walks.append(_strip({**m.walk(KA), **m.walk(VRRP_MIB), **m.walk(VRRPV3_MIB)}))
        finally:
            p.stop()
        assert wait_for(lambda: not m.walk(KA), 5)
    ours_rows, ka_rows = walks
    assert len(ours_rows) > 150
    differ = {k: (ours_rows.get(k), ka_rows.get(k)) for k in ours_rows.keys() | ka_rows.keys()
              if ours_rows.get(k) != ka_rows.get(k)}
    assert not differ, differ                  # OID: (keepalived-py, keepalived 2.2.7)


def test_snmp_master_absent_then_restarted_reconnects_vrrp_unaffected(
        lab: Lab, tmp_path: Path, tools: None, masters: list[Master]) -> None:
    (a,) = lan_of(lab, 1)
    m = Master(a, tmp_path / "snmp")
    masters.append(m)
    p = Peer(a, tmp_path, conf(100, m.socket).replace("advert_int 1", "advert_int 1\n  version 3")
             .replace("advert_int 1", "advert_int 0.1")).start()
    assert wait_for(lambda: p.has("192.0.2.100/24"), 8), p.log()
    held = []
    m.start()                                   # the master comes after the subagent
    assert wait_for(lambda: m.walk(f"{INSTANCE}.4").get(f"{INSTANCE}.4.1") == "INTEGER: 2",
                    10), p.log()
    held.append(p.has("192.0.2.100/24"))
    m.stop()                                    # snmpd restarted
    time.sleep(1.0)
    held.append(p.has("192.0.2.100/24"))
    m.start()
    assert wait_for(lambda: m.walk(f"{INSTANCE}.4").get(f"{INSTANCE}.4.1") == "INTEGER: 2",
                    10), p.log()
    held.append(p.has("192.0.2.100/24"))
    p.stop()
    log = p.log()
    assert all(held)
    assert log.count("Entering MASTER STATE") == 1, log      # no flap while the master was away
    assert log.count("AgentX subagent connected") == 2, log
    assert "Traceback" not in log


CHECK = f"{KA}.3"


def test_snmp_checker_tables_and_real_server_trap(lab: Lab, tmp_path: Path, tools: None,
                                                  masters: list[Master]) -> None:
    (a,) = lan_of(lab, 1)
    m = Master(a, tmp_path / "snmp")
    masters.append(m)
    m.start()
    server = a.popen([sys.executable, "-c", "import socket,time\n"
                      "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                      "s.bind(('192.0.2.1', 8080)); s.listen(16)\n"
                      "while True:\n c,_=s.accept(); c.close()\n"])
    cfg = f"""
global_defs {{
  router_id kp-check
  enable_snmp_checker
  enable_traps
  snmp_socket unix:{m.socket}
}}
virtual_server 192.0.2.200 80 {{
  delay_loop 1
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  snmp_name web
  real_server 192.0.2.1 8080 {{
    weight 3
    snmp_name web-1
    TCP_CHECK {{
      connect_timeout 1
      retry 1
      delay_before_retry 0.2
    }}
  }}
}}
"""
    p = Peer(a, tmp_path, cfg).start()
    up = f"{CHECK}.4.1.6.1.1"                                      # realServerStatus.1.1
    assert wait_for(lambda: m.walk(CHECK).get(up) == "INTEGER: 1", 10), p.log()
    w = {**m.walk(CHECK), **m.walk(f"{KA}.1")}
    assert w[f"{CHECK}.3.1.6.1"] == "Hex-STRING: C0 00 02 C8 "      # virtualServerAddress
    assert w[f"{CHECK}.3.1.7.1"] == "Gauge32: 80"
    assert w[f"{CHECK}.3.1.9.1"] == "INTEGER: 2"                    # wrr
    assert w[f"{CHECK}.3.1.21.1"] == "Gauge32: 1"                   # real servers up
    assert w[f"{CHECK}.4.1.4.1.1"] == "Hex-STRING: C0 00 02 01 "
    assert w[f"{CHECK}.4.1.7.1.1"] == "INTEGER: 3"                  # weight
    assert w[f"{CHECK}.3.1.71.1"] == 'STRING: "web"'                # snmp_name
    assert w[f"{CHECK}.4.1.55.1.1"] == 'STRING: "web-1"'
    assert w[f"{KA}.1.2.0"] == 'STRING: "kp-check"'                 # global part, from here
    server.terminate()
    server.wait(5)
    assert wait_for(lambda: m.walk(CHECK).get(up) == "INTEGER: 2", 10), p.log()
    assert m.walk(CHECK)[f"{CHECK}.3.1.21.1"] == "Gauge32: 0"
    trap = f"{CHECK}.5.0.1"
    assert wait_for(lambda: any(trap in t and f"{CHECK}.4.1.6 = INTEGER: 2" in t
                                for t in m.trap_lines()), 5), m.trap_lines()
    p.stop()
