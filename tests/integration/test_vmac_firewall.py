"""VMACs (use_vmac, vmac_xmit_base) in namespaces, with keepalived 2.2.7 as the other router."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vrrp import KEEPALIVED, Peer, instance, wait_for

pytestmark = [pytest.mark.netns]

VIP = "192.0.2.100/24"
VMAC = "00:00:5e:00:01:33"


def need_keepalived() -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")


def lan3(lab: Lab) -> list[Node]:
    """Two routers and a client on one LAN. The routers' eth0 has arp_announce 2, as operators
    set it beside VMACs: without it the kernel answers a client from the VIP out of the parent
    (its route comes first) and its ARP solicitation announces the VIP with the parent's MAC -
    keepalived 2.2.7's binary shows the same."""
    lan = lab.lan()
    nodes = [lab.node(f"n{i}", lan, f"192.0.2.{i}/24") for i in (1, 2, 9)]
    for n in nodes[:2]:
        n.run("sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=2")
    return nodes


def link(node: Node, ifname: str) -> dict[str, object] | None:
    r = node.run("ip", "-j", "-d", "link", "show", "dev", ifname, check=False)
    if r.returncode != 0:
        return None
    data = json.loads(r.stdout or "[]")
    return data[0] if data else None


def vips(node: Node, ifname: str = "vrrp.51") -> list[str]:
    return node.addresses(ifname) if link(node, ifname) is not None else []


def sysctl(node: Node, path: str) -> str:
    return node.run("cat", f"/proc/sys/net/{path}").stdout.strip()


def neighbour_mac(client: Node, ip: str = "192.0.2.100") -> str | None:
    data = json.loads(client.run("ip", "-j", "neigh", "show", ip).stdout or "[]")
    return data[0].get("lladdr") if data else None


def ping(client: Node, ip: str = "192.0.2.100") -> bool:
    return client.run("ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0


SNIFF = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind(("eth0", 0))
s.settimeout(0.5)
want, end, seen = sys.argv[1], time.monotonic() + float(sys.argv[2]), set()
while time.monotonic() < end:
    try:
        fr = s.recv(2000)
    except TimeoutError:
        continue
    src, kind = fr[6:12].hex(":"), struct.unpack("!H", fr[12:14])[0]
    if want == "vrrp" and kind == 0x0800 and fr[23] == 112:
        seen.add(src)
    elif want == "arp" and kind == 0x0806:
        seen.add(src + " " + socket.inet_ntoa(fr[28:32]))
print(" ".join(sorted(seen)))
"""


def sniff(node: Node, what: str, seconds: float) -> set[str]:
    """Source MACs of VRRP adverts (or 'MAC sender-ip' of ARP frames) seen on the node."""
    out = node.run(sys.executable, "-c", SNIFF, what, str(seconds), timeout=seconds + 10).stdout
    return set(out.split()) if what == "vrrp" else set(out.strip().split("\n")) - {""}


def test_vmac_interoperates_with_keepalived_through_failovers(lab: Lab, tmp_path: Path) -> None:
    """Ours and keepalived with use_vmac: the master's VIP lives on vrrp.51 with the virtual
    MAC, adverts come from that MAC, and a client keeps reaching the VIP through failovers in
    both directions with its neighbour entry's MAC unchanged."""
    need_keepalived()
    a, b, client = lan3(lab)
    ours = Peer(a, tmp_path, instance(150, extra="use_vmac"), ours=True).start()
    theirs = Peer(b, tmp_path, instance(100, extra="use_vmac"), ours=False).start()
    assert wait_for(lambda: VIP in vips(a), 10), ours.log()
    assert wait_for(lambda: link(b, "vrrp.51") is not None, 5), theirs.log()
    info = link(a, "vrrp.51")
    assert info is not None and info["address"] == VMAC, info
    assert info["linkinfo"]["info_kind"] == "macvlan"                   # type: ignore[index]
    assert info["linkinfo"]["info_data"]["mode"] == "private"           # type: ignore[index]
    assert VIP not in a.addresses("eth0")
    # keepalived's settings on the VMAC and its parent
    assert [sysctl(a, f"ipv4/conf/vrrp.51/{k}") for k in
            ("arp_ignore", "accept_local", "rp_filter", "promote_secondaries")] == ["1", "1", "0", "1"]
    assert sysctl(a, "ipv6/conf/vrrp.51/disable_ipv6") == "1"
    assert [sysctl(a, f"ipv4/conf/eth0/{k}") for k in ("arp_ignore", "arp_filter")] == ["1", "1"]
    assert ping(client), ours.log()
    assert neighbour_mac(client) == VMAC
    assert sniff(client, "vrrp", 2.5) == {VMAC}
    assert not vips(b)
    # keepalived's nftables rules for a VMAC (IGMP reports leave through the parent): the same
    assert "vmac_map" in ruleset(a) and ruleset(a) == ruleset(b), (ruleset(a), ruleset(b))
    # ours stops: keepalived takes over; the client reaches the VIP at the same MAC
    ours.stop()
    assert link(a, "vrrp.51") is None                          # removed at stop
    assert [sysctl(a, f"ipv4/conf/eth0/{k}") for k in ("arp_ignore", "arp_filter")] == ["0", "0"]
    assert wait_for(lambda: VIP in vips(b), 8), theirs.log()
    assert wait_for(lambda: ping(client), 5)
    assert neighbour_mac(client) == VMAC
    # ours returns with the higher priority and preempts keepalived
    ours.start()
    assert wait_for(lambda: VIP in vips(a) and VIP not in vips(b), 12), (ours.log(), theirs.log())
    assert wait_for(lambda: ping(client), 5)
    assert neighbour_mac(client) == VMAC
    assert sniff(client, "vrrp", 2.5) == {VMAC}, (ours.log(), theirs.log())
    assert "Entering BACKUP STATE" in theirs.log()


def status(peer: Peer) -> dict[str, object]:
    r = peer.node.run(sys.executable, "-m", "keepalived_py", "status", "--json", "-r",
                      str(peer.dir / "v.pid"))
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_vmac_respawned_child_adopts_the_interface_without_a_flap(lab: Lab, tmp_path: Path) -> None:
    """IPv6 and no_accept this time: the VMAC has the IPv6 virtual MAC, no EUI-64 address of
    its own, the parent's link-local (nodad, deprecated) as keepalived adds it; a VRRP child
    killed and respawned adopts the interface: same ifindex, the VIP never leaves, the
    nftables table stays the same (the VIP dropped, the VMAC's MLD rules), the client still
    resolves the VIP to the virtual MAC."""
    lan = lab.lan()
    a = lab.node("n1", lan, "2001:db8::1/64")
    client = lab.node("n9", lan, "2001:db8::9/64")
    vip = "2001:db8::100/64"
    ours = Peer(a, tmp_path, instance(150, vip=vip, extra="use_vmac\n  no_accept")).start()
    assert wait_for(lambda: vip in vips(a), 10), ours.log()
    assert wait_for(lambda: "2001:db8::100" in ruleset(a), 5), ours.log()
    table = ruleset(a)
    assert "vmac_map" in table
    info = link(a, "vrrp.51")
    assert info is not None and info["address"] == "00:00:5e:00:02:33", info
    parent_ll = [x for x in a.addresses("eth0") if x.startswith("fe80")]
    assert [x for x in vips(a) if x.startswith("fe80")] == parent_ll
    assert sysctl(a, "ipv6/conf/vrrp.51/addr_gen_mode") == "1"
    index = info["ifindex"]
    mon = a.popen(["ip", "monitor", "link", "address"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    child = int((ours.dir / "v.pid").read_text())
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: (ours.dir / "v.pid").exists()
                    and int((ours.dir / "v.pid").read_text()) != child, 10), ours.log()
    assert wait_for(lambda: "(VI_1) Found matching interface vrrp.51" in ours.log(), 5), ours.log()
    time.sleep(1.5)
    mon.send_signal(signal.SIGTERM)
    events = mon.communicate(timeout=5)[0]
    assert link(a, "vrrp.51")["ifindex"] == index                        # type: ignore[index]
    assert vip in vips(a)
    assert "Deleted" not in events, events
    assert ruleset(a) == table
    assert client.run("ping", "-6", "-c", "1", "-W", "1", "2001:db8::100",
                      check=False).returncode != 0                      # no_accept: dropped
    assert neighbour_mac(client, "2001:db8::100") == "00:00:5e:00:02:33"


def test_vmac_xmit_base_adverts_from_the_parent_and_name_conflict(lab: Lab,
                                                                   tmp_path: Path) -> None:
    """vmac_xmit_base: adverts leave from the parent's MAC, the VIP still answers from the
    virtual MAC; a configured name held by a non-macvlan interface is not touched."""
    a, _b, client = lan3(lab)
    a.run("ip", "link", "add", "taken0", "type", "veth", "peer", "name", "taken1")
    ours = Peer(a, tmp_path, instance(150, extra="use_vmac taken0\n  vmac_xmit_base")).start()
    assert wait_for(lambda: VIP in vips(a), 10), ours.log()
    assert link(a, "taken0")["linkinfo"]["info_kind"] == "veth"          # type: ignore[index]
    assert "(VI_1) interface taken0 already exists and is not a private macvlan; ignoring vmac" \
           " if_name" in ours.log()
    parent = link(a, "eth0")["address"]                                   # type: ignore[index]
    assert sniff(client, "vrrp", 2.5) == {parent}
    assert ping(client)
    assert neighbour_mac(client) == VMAC
    ours.stop()
    assert link(a, "vrrp.51") is None
    assert link(a, "taken0") is not None


# -- accept / no_accept / vrrp_strict: keepalived's nftables table ----------------------------

STRICT = """
global_defs {{
  enable_script_security
  vrrp_strict
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  {extra}
  virtual_ipaddress {{ 192.0.2.100/24 }}
  virtual_ipaddress_excluded {{ 192.0.2.101/32 }}
}}
vrrp_instance VI_6 {{
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 1
  virtual_ipaddress {{ 2001:db8::100/64 }}
}}
"""


def ruleset(node: Node) -> str:
    return node.run("nft", "list", "ruleset").stdout


def test_strict_master_drops_traffic_to_its_vips_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    """vrrp_strict (accept off): ours and keepalived, each master of the same configuration on
    its own LAN, install the same nftables ruleset; a client's pings to the VIP are dropped,
    to the router's own address they pass; other tables are untouched; all gone at stop."""
    need_keepalived()
    lan_a, lan_b = lab.lan("lana"), lab.lan("lanb")
    a = lab.node("a", lan_a, "192.0.2.1/24", "2001:db8::1/64")
    client = lab.node("c", lan_a, "192.0.2.9/24", "2001:db8::9/64")
    b = lab.node("b", lan_b, "192.0.2.1/24", "2001:db8::1/64")
    a.run("sh", "-c", "nft add table inet other && nft add chain inet other c "
                      "'{ type filter hook input priority 10; policy accept; }'")
    other = ruleset(a).strip()
    ours = Peer(a, tmp_path, STRICT.format(extra="")).start()
    theirs = Peer(b, tmp_path, STRICT.format(extra=""), ours=False).start()
    for node, peer in ((a, ours), (b, theirs)):
        assert wait_for(lambda n=node: "192.0.2.100/24" in n.addresses()
                        and "2001:db8::100/64" in n.addresses(), 10), peer.log()
    assert wait_for(lambda: "table ip keepalived" in ruleset(a)
                    and "2001:db8::100" in ruleset(a), 5), ours.log()
    assert wait_for(lambda: "2001:db8::100" in ruleset(b), 5), theirs.log()
    mine = ruleset(a).replace(other, "").strip()
    assert "table inet other" in ruleset(a)
    assert mine == ruleset(b).strip(), (mine, ruleset(b))
    assert not ping(client, "192.0.2.100")
    assert not ping(client, "192.0.2.101")
    assert client.run("ping", "-6", "-c", "1", "-W", "1", "2001:db8::100",
                      check=False).returncode != 0
    assert ping(client, "192.0.2.1")
    # a tool deletes our table: it is made again, with a log line
    a.run("nft", "delete", "table", "ip", "keepalived")
    assert wait_for(lambda: "table ip keepalived" in ruleset(a), 8), ours.log()
    assert "nftables table keepalived was removed by another tool" in ours.log()
    assert not ping(client, "192.0.2.100")
    ours.stop()
    assert "keepalived" not in ruleset(a)
    assert "table inet other" in ruleset(a)


def test_accept_master_answers_on_its_vips(lab: Lab, tmp_path: Path) -> None:
    """`accept` under vrrp_strict (VRRPv3: with v2 strict mode resets it): no drop rule, the
    VIP answers."""
    a, _b, client = lan3(lab)
    conf = STRICT.format(extra="accept").replace("vrrp_strict", "vrrp_strict\n  vrrp_version 3")
    ours = Peer(a, tmp_path, conf).start()
    assert wait_for(lambda: "192.0.2.100/24" in a.addresses(), 10), ours.log()
    time.sleep(1)
    assert ping(client, "192.0.2.100")
    assert "192.0.2.100" not in ruleset(a)


# -- static_ipaddress / static_routes / static_rules, virtual_routes / virtual_rules ------------

STATIC = """
static_ipaddress {
  192.0.2.50/24 dev eth0
  198.51.100.7/32 dev lo scope host
  2001:db8::50/64 dev eth0
}
static_routes {
  203.0.113.0/24 via 192.0.2.254 dev eth0
  198.51.100.128/25 dev eth0 table 100 metric 5
  2001:db8:1::/48 via 2001:db8::fe dev eth0
}
static_rules {
  from 192.0.2.0/24 table 100 priority 100
  to 203.0.113.0/24 lookup 200 priority 200
  from 2001:db8::/64 table 100 priority 300
}
vrrp_instance V {
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress { 192.0.2.100/24 }
  virtual_routes {
    198.51.100.0/25 via 192.0.2.254 dev eth0
    src 192.0.2.100 to 192.0.2.128/25 dev eth0 table 101
  }
  virtual_rules {
    from 192.0.2.100 table 101 priority 150
  }
}
"""


def routing(node: Node) -> str:
    """`ip route` (all tables) and `ip rule` for both families, link-local lines left out."""
    out = []
    for cmd in (["ip", "-br", "addr"], ["ip", "route", "show", "table", "all"],
                ["ip", "rule"], ["ip", "-6", "rule"]):
        out += [line for line in node.run(*cmd).stdout.splitlines() if "fe80" not in line]
    return "\n".join(out)


def test_static_and_virtual_routes_rules_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    """Ours and keepalived, each alone with the same configuration: the same addresses, routes
    (`proto keepalived`) and rules while master; static ones stay in BACKUP; all gone at stop."""
    need_keepalived()
    lan_a, lan_b = lab.lan("lana"), lab.lan("lanb")
    a = lab.node("a", lan_a, "192.0.2.1/24", "2001:db8::1/64")
    b = lab.node("b", lan_b, "192.0.2.1/24", "2001:db8::1/64")
    before = routing(a)
    ours = Peer(a, tmp_path, STATIC).start()
    theirs = Peer(b, tmp_path, STATIC, ours=False).start()
    assert theirs.proc is not None
    # static ones come at start, before any mastership
    assert wait_for(lambda: "proto keepalived" in routing(a), 6), ours.log()
    assert "192.0.2.100" not in routing(a)
    assert "203.0.113.0/24 via 192.0.2.254 dev eth0 proto keepalived" in routing(a)
    assert "100:\tfrom 192.0.2.0/24 lookup 100 proto keepalived" in routing(a)
    for node in (a, b):
        assert wait_for(lambda n=node: "192.0.2.100/24" in n.addresses(), 10)
    assert wait_for(lambda: routing(a) == routing(b), 3), (routing(a), routing(b))
    ours.stop()
    assert routing(a) == before, (routing(a), before)
