"""The VRRP keyword long tail (issue 12 item 4), each as keepalived 2.2.7 acts on it: ours and
keepalived run the same configuration in namespaces of their own and the kernel's view of what
each did is compared (addresses' flags and lifetimes, sysctls, socket buffers, notify lines)."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vrrp import KEEPALIVED, Peer, wait_for

pytestmark = [pytest.mark.netns]


def need_keepalived() -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")


def alone(lab: Lab, what: str) -> Node:
    """A node on a LAN of its own: its instance becomes MASTER."""
    return lab.node(what, lab.lan(f"l{what}"), "192.0.2.1/24", "2001:db8::1/64")


def addr_view(node: Node, ifname: str = "eth0") -> dict[str, tuple[object, ...]]:
    """Each address's kernel flags and preferred lifetime, as `ip -j addr` shows them."""
    out: dict[str, tuple[object, ...]] = {}
    for link in json.loads(node.run("ip", "-j", "addr", "show", "dev", ifname).stdout or "[]"):
        for a in link.get("addr_info", []):
            flags = tuple(sorted(k for k in ("nodad", "deprecated", "autojoin", "tentative",
                                             "dadfailed") if a.get(k)))
            lft = a.get("preferred_life_time")      # a finite one counts down: to the 100 s
            out[f"{a['local']}/{a['prefixlen']}"] = (flags, lft if lft in (0, 2**32 - 1)
                                                     else round(lft, -2))
    return out


def sysctl(node: Node, path: str) -> str:
    return node.run("cat", f"/proc/sys/net/{path}").stdout.strip()


ADDRESSES = """
vrrp_instance VI_6 {
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  virtual_ipaddress {
    2001:db8::100/128
    2001:db8::101/64
    2001:db8::102/64 -nodad
    2001:db8::103/128 preferred_lft forever
    2001:db8::104/64 preferred_lft 3000
  }
}
vrrp_instance VI_4 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  promote_secondaries
  virtual_ipaddress {
    192.0.2.100/24
    239.1.2.3/32 autojoin
  }
}
"""


def test_addresses_flags_and_promote_secondaries_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    """IPv6 VIPs without DAD unless -nodad, a /128 deprecated by default, preferred_lft as
    given, autojoin; promote_secondaries set on the interface while running and reset at
    stop: the kernel shows the same for ours and for keepalived 2.2.7."""
    need_keepalived()
    views, sysctls = [], []
    nodes = [alone(lab, "o"), alone(lab, "k")]
    peers = [Peer(n, tmp_path, ADDRESSES, ours=ours).start() for n, ours in zip(nodes, (True, False))]
    want = {"2001:db8::100/128", "2001:db8::104/64", "192.0.2.100/24", "239.1.2.3/32"}
    for node, peer in zip(nodes, peers):
        assert wait_for(lambda: want <= set(addr_view(node)), 10), peer.log()
    time.sleep(0.3)
    for node, peer in zip(nodes, peers):
        view = {k: v for k, v in addr_view(node).items() if k not in
                ("192.0.2.1/24", "2001:db8::1/64") and not k.startswith("fe80")}
        sysctls.append(sysctl(node, "ipv4/conf/eth0/promote_secondaries"))
        peer.stop()
        sysctls.append(sysctl(node, "ipv4/conf/eth0/promote_secondaries"))
        # the -nodad address may still be tentative: compare DAD's outcome, not its timing
        views.append({k: (tuple(f for f in fl if f != "tentative"), lft)
                      for k, (fl, lft) in view.items()})
    ours_v, theirs_v = views
    assert ours_v == theirs_v, (ours_v, theirs_v)
    assert ours_v["2001:db8::100/128"][0] == ("deprecated", "nodad")
    assert ours_v["2001:db8::102/64"][0] == ()
    assert ours_v["239.1.2.3/32"][0] == ("autojoin",)
    assert sysctls == ["1", "0", "1", "0"], sysctls
