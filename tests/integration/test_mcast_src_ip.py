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
from advert_sniffer import sniff_adverts
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
        seen = sniff_adverts(client, 1.5)
        assert seen and seen[0] == "192.0.2.71 prio=150 ok", seen
        assert all(line.endswith(" ok") for line in seen), seen
        time.sleep(1.0)
        assert not theirs.has("192.0.2.100/24"), theirs.log()
        assert "Invalid VRRPv3 checksum" not in theirs.log(), theirs.log()
        assert "Entering MASTER STATE" not in theirs.log(), theirs.log()
    finally:
        ours.stop()
        theirs.stop()
