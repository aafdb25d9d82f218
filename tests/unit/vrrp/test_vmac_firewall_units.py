"""Pure parts of vrrp/vmac.py and vrrp/firewall.py: names, MACs, nft scripts."""
from __future__ import annotations

import ipaddress
import itertools

from keepalived_py.vrrp.firewall import delete_script, table_script
from keepalived_py.vrrp.vmac import name_candidates, virtual_mac


def test_vmac_virtual_mac_per_family() -> None:
    assert virtual_mac(51, 4) == "00:00:5e:00:01:33"
    assert virtual_mac(255, 6) == "00:00:5e:00:02:ff"


def test_vmac_name_candidates_in_keepalived_order() -> None:
    assert list(itertools.islice(name_candidates(7, 4), 3)) == ["vrrp.7", "vrrp1.7", "vrrp2.7"]
    assert list(itertools.islice(name_candidates(7, 6), 9)) == [
        "vrrp.7", "vrrp6.7", "vrrp1.7", "vrrp2.7", "vrrp3.7", "vrrp4.7", "vrrp5.7", "vrrp7.7",
        "vrrp8.7"]


def test_firewall_ipv4_table_drops_vips_both_ways() -> None:
    s = table_script(4, [ipaddress.ip_address("192.0.2.101"), ipaddress.ip_address("192.0.2.100")])
    assert s.startswith("add table ip keepalived\ndelete table ip keepalived\n")
    assert "set vips { type ipv4_addr; elements = { 192.0.2.100, 192.0.2.101 }; }" in s
    assert "add rule ip keepalived out ip saddr @vips drop" in s
    assert "add rule ip keepalived in ip daddr @vips drop" in s
    assert "priority -1; policy accept;" in s
    assert "vmac" not in s


def test_firewall_ipv6_link_local_vips_and_vmac_rules() -> None:
    s = table_script(6, [ipaddress.ip_address("2001:db8::100")],
                     [(ipaddress.ip_address("fe80::100"), 3)], [("vrrp.51", "eth0")])
    assert "elements = { 2001:db8::100 }" in s and "fe80::100 . 3" in s
    assert "fe80::100" not in s.split("set vips {")[1].split("}")[0]
    assert 'map vmac_map { type iface_index : iface_index; elements = { "vrrp.51" : "eth0" }; }' in s
    assert "nd-router-solicit" in s and "mld2-listener-report" in s
    # the VMAC rules come before the VIP ones in chain out, as keepalived makes them
    assert s.index("mld2-listener-report") < s.index("ip6 saddr @vips drop")


def test_firewall_vmac_only_table_has_no_vip_part() -> None:
    s = table_script(4, None, vmacs=[("vrrp.51", "eth0")])
    assert "vips" not in s and "chain in " not in s
    assert 'ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map drop' in s
    assert delete_script([6, 4]) == ("add table ip keepalived\ndelete table ip keepalived\n"
                                     "add table ip6 keepalived\ndelete table ip6 keepalived\n")
