"""Per-address VMACs (`use_vmac_addr`, an address's own `use_vmac`, `vmac_addr_prefix`) in
namespaces, beside keepalived 2.2.7: the VMACs are the ones keepalived makes (names, parents,
virtual MACs, private mode, sysctls), made at start whatever the state, the VIPs go on them,
a client on the other LAN keeps its neighbour entry through a failover to keepalived, and
they are deleted when our daemon stops or a reload no longer needs them."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vmac_firewall import need_keepalived, neighbour_mac, ping
from test_vrrp import Peer, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

CONF = """global_defs {{
  vmac_addr_prefix kpa
}}
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 42
  priority {prio}
  version 3
  advert_int 0.5
  use_vmac_addr
  virtual_ipaddress {{
    192.0.2.100/24
    198.51.100.100/24 dev eth1
  }}
  virtual_ipaddress_excluded {{
    192.0.2.101/24 use_vmac
    2001:db8::100/64
  }}
}}
"""
VMACS = ("kpa.42", "kpa1.42", "kpa6.42")
SYSCTLS = ("ipv4/conf/{}/arp_ignore", "ipv4/conf/{}/arp_filter", "ipv4/conf/{}/accept_local",
           "ipv4/conf/{}/rp_filter", "ipv4/conf/{}/promote_secondaries",
           "ipv6/conf/{}/disable_ipv6", "ipv6/conf/{}/addr_gen_mode")


def router(lab: Lab, lan_a: str, lan_b: str, n: int) -> Node:
    node = lab.node(f"r{n}", lan_a, f"192.0.2.{n}/24")
    lab.attach(node, lan_b, "eth1", f"198.51.100.{n}/24")
    # as test_vmac_firewall.lan3: without arp_announce 2 the router's own ARP requests
    # announce the VIP with the parent's MAC (keepalived 2.2.7's binary shows the same)
    node.run("sysctl", "-qw", "net.ipv4.conf.eth1.arp_announce=2")
    return node


def vmacs(node: Node) -> dict[str, dict[str, object]]:
    """Our view of each macvlan in the node: parent, MAC, mode, sysctls, addresses."""
    links = json.loads(node.run("ip", "-j", "-d", "link", "show", "type", "macvlan").stdout
                       or "[]")
    out: dict[str, dict[str, object]] = {}
    for ln in links:
        name = ln["ifname"]
        out[name] = {
            "parent": ln.get("link"), "mac": ln.get("address"),
            "mode": ln.get("linkinfo", {}).get("info_data", {}).get("mode"),
            "up": "UP" in ln.get("flags", []),
            "sysctls": [node.run("cat", f"/proc/sys/net/{p.format(name)}", check=False)
                        .stdout.strip() for p in SYSCTLS],
            "addrs": sorted(a for a in node.addresses(name) if not a.startswith("fe80"))}
    return out


def test_vmac_addr_made_as_keepalived_and_fails_over(lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    lan_a, lan_b = lab.lan("a"), lab.lan("b")
    ours_node, their_node = router(lab, lan_a, lan_b, 1), router(lab, lan_a, lan_b, 2)
    client = lab.node("c", lan_b, "198.51.100.9/24")
    ours = Peer(ours_node, tmp_path, CONF.format(prio=200), ours=True)
    theirs = Peer(their_node, tmp_path, CONF.format(prio=100), ours=False)
    try:
        ours.start()
        assert wait_for(lambda: "198.51.100.100/24" in ours_node.addresses("kpa.42")
                        if "kpa.42" in vmacs(ours_node) else False, 10), ours.log()
        theirs.start()
        assert wait_for(lambda: set(VMACS) <= set(vmacs(their_node)), 10), theirs.log()
        mine, ref = vmacs(ours_node), vmacs(their_node)
        # the same interfaces (our master holds the addresses, keepalived's backup none)
        assert {k: {**v, "addrs": None} for k, v in mine.items()} == \
            {k: {**v, "addrs": None} for k, v in ref.items()}, (mine, ref)
        assert mine["kpa.42"]["parent"] == "eth1" and mine["kpa.42"]["mac"] == \
            "00:00:5e:00:01:2a" and mine["kpa.42"]["mode"] == "private", mine
        assert mine["kpa1.42"]["parent"] == "eth0" and mine["kpa6.42"]["mac"] == \
            "00:00:5e:00:02:2a", mine
        assert [mine[k]["addrs"] for k in VMACS] == \
            [["198.51.100.100/24"], ["192.0.2.101/24"], ["2001:db8::100/64"]], mine
        assert "192.0.2.100/24" in ours_node.addresses("eth0")      # on the instance's own
        assert all(not v["addrs"] for v in ref.values()), ref
        assert ping(client, "198.51.100.100")
        assert neighbour_mac(client, "198.51.100.100") == "00:00:5e:00:01:2a"
        ours.stop()
        assert wait_for(lambda: "198.51.100.100/24" in their_node.addresses("kpa.42"), 5), \
            theirs.log()
        assert vmacs(ours_node) == {}, "our VMACs are deleted at stop"
        assert ping(client, "198.51.100.100"), "the client reaches the VIP on keepalived's VMAC"
        assert neighbour_mac(client, "198.51.100.100") == "00:00:5e:00:01:2a"
    finally:
        ours.stop()
        theirs.stop()


def test_vmac_addr_reload_moves_the_address_back_and_deletes_the_vmac(
        lab: Lab, tmp_path: Path) -> None:
    """An address's own `use_vmac` (no use_vmac_addr, no prefix: vrrp.42), then a reload
    without it: the address goes on its interface, the VMAC is deleted; the instance stays
    MASTER."""
    lan_a, lan_b = lab.lan("a"), lab.lan("b")
    node = router(lab, lan_a, lan_b, 1)
    conf = CONF.replace("  vmac_addr_prefix kpa\n", "").replace("  use_vmac_addr\n", "") \
        .replace("dev eth1\n", "dev eth1 use_vmac\n").format(prio=200)
    conf = conf[:conf.index("  virtual_ipaddress_excluded")] + "}\n"
    peer = Peer(node, tmp_path, conf, ours=True).start()
    try:
        assert wait_for(lambda: "198.51.100.100/24" in vmacs(node).get("vrrp.42", {})
                        .get("addrs", []), 10), peer.log()  # type: ignore[operator]
        assert set(vmacs(node)) == {"vrrp.42"}
        peer.conf.write_text(conf.replace(" use_vmac", ""))
        os.kill(int((peer.dir / "p.pid").read_text()), signal.SIGHUP)
        t0 = time.monotonic()
        assert wait_for(lambda: "198.51.100.100/24" in node.addresses("eth1")
                        and vmacs(node) == {}, 10), peer.log()
        assert "192.0.2.100/24" in node.addresses("eth0"), "still MASTER"
        assert time.monotonic() - t0 < 10
    finally:
        peer.stop()


ARPS = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
s.settimeout(0.2)
end, n = time.monotonic() + float(sys.argv[1]), 0
while time.monotonic() < end:
    try:
        fr = s.recv(200)
    except TimeoutError:
        continue
    if fr[6:12].hex(":") == "00:00:5e:00:01:2a" and socket.inet_ntoa(fr[38:42]) == sys.argv[2]:
        n += 1
print(n)
"""


@pytest.mark.parametrize("who", ["keepalived", "ours"])
def test_vmac_addr_garp_extra_if_repeats_on_the_address_vmac(lab: Lab, tmp_path: Path,
                                                             who: str) -> None:
    """garp_extra_if without `all`: keepalived 2.2.7 repeats a gratuitous ARP every SECS on
    each per-address VMAC (vrrp_send_vmac_update: "for VMAC i/fs" only)."""
    if who == "keepalived":
        need_keepalived()
    lan_a, lan_b = lab.lan("a"), lab.lan("b")
    node = router(lab, lan_a, lan_b, 1)
    client = lab.node("c", lan_b, "198.51.100.9/24")
    conf = CONF.format(prio=200).replace("  use_vmac_addr\n", "  use_vmac_addr\n"
                                         "  garp_extra_if 1\n  garp_master_delay 10\n")
    peer = Peer(node, tmp_path, conf, ours=who == "ours").start()
    try:
        assert wait_for(lambda: "198.51.100.100/24" in node.addresses("kpa.42")
                        if "kpa.42" in vmacs(node) else False, 10), peer.log()
        time.sleep(0.5)                   # past the MASTER burst (garp_master_repeat 5)
        out = client.run("python3", "-c", ARPS, "3.2", "198.51.100.100").stdout
        assert 2 <= int(out) <= 5, (out, peer.log())     # one a second
    finally:
        peer.stop()
