"""use_ipvlan as keepalived 2.2.7 reads and completes it (config/ipvlan.py); the same messages
are compared with the binary in tests/integration/test_missing_interface_verdicts.py."""
from __future__ import annotations

import ipaddress

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics


def build(body: str, vips: str = "192.0.2.10/24") -> tuple[object, list[str]]:
    text = (f"vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{body}"
            f" virtual_ipaddress {{\n  {vips}\n }}\n}}\n")
    d = Diagnostics()
    cfg = build_config(read_tree_text(text, path="k.conf", diagnostics=d), d,
                       check_interfaces=False)
    return cfg.vrrp_instances[0], [x.message for x in d.items if x.severity.value != "notice"]


def test_ipvlan_address_type_and_name_become_fields_and_the_source() -> None:
    inst, messages = build(" use_ipvlan iv7 192.0.2.5/24 private\n")
    assert messages == []
    assert inst.use_ipvlan == "iv7" and inst.ipvlan_type == "private"   # type: ignore[attr-defined]
    assert inst.ipvlan_addr == ipaddress.ip_interface("192.0.2.5/24")  # type: ignore[attr-defined]
    assert str(inst.mcast_src_ip) == "192.0.2.5"                       # type: ignore[attr-defined]
    assert not inst.ipvlan_fault                                       # type: ignore[attr-defined]


def test_ipvlan_without_address_is_a_config_fault_for_ipv4_only() -> None:
    inst, messages = build(" use_ipvlan\n")
    assert inst.use_ipvlan == "" and inst.ipvlan_fault                 # type: ignore[attr-defined]
    assert messages == ["(VI_1) IPv4 ipvlan requires a source ip address to be configured."
                        " setting instance to fault state"]
    inst, messages = build(" use_ipvlan\n", vips="2001:db8::10/64")
    assert not inst.ipvlan_fault and messages == []                    # type: ignore[attr-defined]


def test_ipvlan_repeats_are_refused_with_keepalived_words() -> None:
    inst, messages = build(" use_ipvlan 192.0.2.5/24 192.0.2.6/24 a b bridge vepa\n"
                           " use_ipvlan c\n promote_secondaries\n")
    assert messages == [
        "(VI_1) ipvlan address already specified - ignoring '192.0.2.6/24'",
        "(VI_1) IPVLAN interface already specified - ignoring 'b'",
        "(VI_1) ipvlan type already specified - ignoring 'vepa'",
        "(VI_1) use_ipvlan already specified",
        "(VI_1) promote_secondaries is automatically set for vmacs - ignoring"]
    assert inst.use_ipvlan == "a" and inst.ipvlan_type == "bridge"    # type: ignore[attr-defined]
    assert not inst.promote_secondaries                                # type: ignore[attr-defined]


def test_address_use_vmac_beside_the_instance_use_vmac_is_an_error() -> None:
    _, messages = build(" use_vmac\n", vips="192.0.2.10/24 use_vmac")
    assert messages == ["(VI_1) use_vmac specified for VIP/eVIP 192.0.2.10/24 and vrrp instance"]
