"""use_ipvlan in namespaces, with keepalived 2.2.7 as the other router: the ipvlan interface
(L2 mode, its type, its own address, IPv6 off) is made as keepalived makes it, the VIP goes on
the parent as keepalived 2.2.7 puts it (its VIPs move onto the instance's interface for VMACs
only: measured on a kernel with ipvlan, tests/integration/test_ipvlan_vm.py) and a client
reaches it; the adverts leave from the ipvlan's address; when our daemon stops the interface
is deleted and keepalived takes the VIP over."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from advert_sniffer import sniff_adverts
from netlab import Lab, Node
from test_vmac_firewall import need_keepalived, ping
from test_vrrp import Peer, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

CONF = """vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 71
  priority {prio}
  version 3
  advert_int 0.5
  use_ipvlan {addr}/24 private
  virtual_ipaddress {{
    192.0.2.100/24
  }}
}}
"""

def ipvlan(node: Node, name: str = "vrrp.71") -> dict[str, object] | None:
    r = node.run("ip", "-j", "-d", "addr", "show", "dev", name, check=False)
    if r.returncode != 0:
        return None
    data = json.loads(r.stdout or "[]")
    if not data:
        return None
    d = data[0]
    return {"kind": d.get("linkinfo", {}).get("info_kind"),
            "data": d.get("linkinfo", {}).get("info_data"),
            "up": "UP" in d.get("flags", []),
            "addrs": sorted(f"{a['local']}/{a['prefixlen']}" for a in d.get("addr_info", [])),
            "ipv6_off": node.run("cat", f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
                            .stdout.strip() == "1"}


def kernel_has_ipvlan(lab: Lab) -> bool:
    """Whether this kernel makes ipvlan links (some test kernels are built without it)."""
    node = lab.node("probe", lab.lan("probelan"), "192.0.2.250/24")
    r = node.run("ip", "link", "add", "ivprobe", "link", "eth0", "type", "ipvlan", "mode",
                 "l2", check=False)
    node.run("ip", "link", "del", "ivprobe", check=False)
    return r.returncode == 0


def test_ipvlan_made_as_keepalived_makes_it_and_fails_over(lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    if not kernel_has_ipvlan(lab):
        pytest.skip("this kernel has no ipvlan link type (CONFIG_IPVLAN); "
                    "test_ipvlan_faults_as_keepalived covers that case")
    lan = lab.lan()
    ours_node, their_node, client = (lab.node(f"n{i}", lan, f"192.0.2.{i}/24")
                                     for i in (1, 2, 9))
    ours = Peer(ours_node, tmp_path, CONF.format(prio=150, addr="192.0.2.71"), ours=True)
    theirs = Peer(their_node, tmp_path, CONF.format(prio=100, addr="192.0.2.72"), ours=False)
    try:
        ours.start()
        assert wait_for(lambda: "192.0.2.100/24" in ours_node.addresses("eth0"), 10), ours.log()
        theirs.start()
        assert wait_for(lambda: ipvlan(their_node) is not None, 10), theirs.log()
        mine, keepalived = ipvlan(ours_node), ipvlan(their_node)
        assert mine is not None and keepalived is not None
        # the same interface as keepalived's (its address is its own; the VIP is the master's)
        assert {k: v for k, v in mine.items() if k != "addrs"} == \
            {k: v for k, v in keepalived.items() if k != "addrs"}, (mine, keepalived)
        assert mine["kind"] == "ipvlan" and mine["up"] and mine["ipv6_off"], mine
        assert mine["addrs"] == ["192.0.2.71/24"], mine       # the VIP is on eth0
        assert keepalived["addrs"] == ["192.0.2.72/24"], keepalived
        assert ping(client), "the client reaches the VIP on our ipvlan"
        seen = sniff_adverts(client, 1.5)                    # adverts from the ipvlan address
        assert sorted({line.split()[0] for line in seen}) == ["192.0.2.71"], seen
        ours.stop()
        t0 = time.monotonic()
        assert wait_for(lambda: "192.0.2.100/24" in their_node.addresses("eth0"), 6), \
            theirs.log()
        took = time.monotonic() - t0
        assert ipvlan(ours_node) is None, "our ipvlan is deleted at stop"
        assert ping(client), "the client reaches the VIP on keepalived's ipvlan"
        assert took < 4, took
    finally:
        ours.stop()
        theirs.stop()


def _faulted(peer: Peer) -> bool:
    return "fault state" in peer.log().lower()


@pytest.mark.parametrize("case", ["no_address", "no_kernel_ipvlan"])
def test_ipvlan_faults_as_keepalived(lab: Lab, tmp_path: Path, case: str) -> None:
    """An IPv4 use_ipvlan without an address is a configuration fault; an ipvlan the kernel
    cannot make leaves the instance in FAULT ("interface vrrp.71 down"): in both, keepalived
    2.2.7 and keepalived-py stay in FAULT and never put the VIP on the parent."""
    need_keepalived()
    if case == "no_kernel_ipvlan" and kernel_has_ipvlan(lab):
        pytest.skip("this kernel makes ipvlan links: test_ipvlan_made_as_keepalived_makes_it...")
    addr = "" if case == "no_address" else "192.0.2.7"
    conf = CONF.format(prio=150, addr=addr).replace("use_ipvlan /24", "use_ipvlan")
    lan = lab.lan()
    for i, ours in ((1, True), (2, False)):
        node = lab.node(f"f{i}", lan, f"192.0.2.{i}/24")
        peer = Peer(node, tmp_path, conf, ours=ours).start()
        try:
            assert wait_for(lambda p=peer: _faulted(p), 8), peer.log()
            time.sleep(1.5)                   # longer than a Master_Down_Interval (3 x 0.5 s)
            assert "192.0.2.100" not in node.run("ip", "-br", "addr").stdout, peer.log()
        finally:
            peer.stop()
