"""`mcast_src_ip` beside keepalived 2.2.7: the adverts leave from that address (here a
secondary one of the interface, not the address the kernel would pick) with the VRRPv3
checksum over it, so keepalived accepts them and stays BACKUP under our MASTER. Before the
fix the kernel chose the source while the checksum named mcast_src_ip: keepalived dropped
every advert ("Invalid VRRPv3 checksum") and both were MASTER - found by the use_ipvlan
scenario of the stock-kernel VM, where the build makes the ipvlan's address mcast_src_ip."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from netlab import Lab
from test_vmac_firewall import need_keepalived
from test_vrrp import Peer, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

CONF = """vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 73
  priority {prio}
  version 3
  advert_int 0.5
  mcast_src_ip {src}
  virtual_ipaddress {{
    192.0.2.100/24
  }}
}}
"""

SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth0", 0))
s.settimeout(0.5)
end, seen = time.monotonic() + float(sys.argv[1]), set()
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b + b"\0" * (len(b) % 2)))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return t
while time.monotonic() < end:
    try:
        fr = s.recv(2000)
    except TimeoutError:
        continue
    if fr[23] != 112:
        continue
    vrrp = fr[14 + (fr[14] & 15) * 4:14 + (fr[16] << 8 | fr[17])]
    ok = csum(fr[26:34] + struct.pack("!BBH", 0, 112, len(vrrp)) + vrrp) == 0xFFFF
    seen.add("%s prio=%d %s" % (socket.inet_ntoa(fr[26:30]), vrrp[2], "ok" if ok else "bad"))
print("\n".join(sorted(seen)))
"""


def test_mcast_src_ip_adverts_leave_from_it_and_keepalived_stays_backup(
        lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    lan = lab.lan()
    ours_node, their_node, client = (lab.node(f"m{i}", lan, f"192.0.2.{i}/24")
                                     for i in (1, 2, 9))
    ours_node.run("ip", "addr", "add", "192.0.2.71/24", "dev", "eth0")   # a secondary
    ours = Peer(ours_node, tmp_path, CONF.format(prio=150, src="192.0.2.71"), ours=True)
    theirs = Peer(their_node, tmp_path, CONF.format(prio=100, src="192.0.2.2"), ours=False)
    try:
        ours.start()
        assert wait_for(lambda: ours.has("192.0.2.100/24"), 10), ours.log()
        theirs.start()
        sniff = client.popen(["python3", "-c", SNIFF, "1.5"], stdout=-1)
        out, _ = sniff.communicate(timeout=15)
        assert out.decode().split("\n")[0] == "192.0.2.71 prio=150 ok", out
        assert all(line.endswith(" ok") for line in out.decode().splitlines()), out
        time.sleep(1.0)
        assert not theirs.has("192.0.2.100/24"), theirs.log()
        assert "Invalid VRRPv3 checksum" not in theirs.log(), theirs.log()
        assert "Entering MASTER STATE" not in theirs.log(), theirs.log()
    finally:
        ours.stop()
        theirs.stop()
