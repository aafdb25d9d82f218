"""accept / vrrp_strict / VMAC completion rules (config/strict.py), as keepalived 2.2.7's -t."""
from __future__ import annotations

import pytest
from test_build import load, vi

STRICT = "global_defs { vrrp_strict }\n"


@pytest.mark.parametrize(("conf", "accept"), [
    (vi(""), True),                                    # keepalived's default outside strict
    (vi(" no_accept"), False),
    (STRICT + vi(""), False),                          # strict: off for a non-owner
    (STRICT + vi(" priority 255"), True),              # ... on for the address owner
    (STRICT + vi(" accept"), False),                   # VRRPv2: reset with a warning
    (STRICT.replace("}", "\n vrrp_version 3 }") + vi(" accept"), True),
])
def test_strict_accept_default_and_reset(conf: str, accept: bool) -> None:
    c, _ = load(conf)
    assert c.vrrp_instances[0].accept is accept


def test_strict_accept_v2_warning_and_xmit_base_messages() -> None:
    c, d = load(STRICT + vi(" accept\n use_vmac\n vmac_xmit_base") + vi(" vmac_xmit_base", "X")
                .replace("51", "52"))
    text = "\n".join(x.message for x in d.items)
    assert "(VI_1) warning - accept mode for VRRP version 2 does not comply with RFC3768 -" \
           " resetting" in text
    assert "(VI_1) xmit_base is incompatible with strict mode - resetting" in text
    assert "(X) vmac_xmit_base is only valid with a vmac" in text
    assert [(i.use_vmac, i.vmac_xmit_base) for i in c.vrrp_instances] == [("", False), (None, False)]


def test_strict_use_vmac_name_and_generated() -> None:
    c, _ = load(vi(" use_vmac vmac7") + vi(" use_vmac", "B").replace("51", "52"))
    assert [i.use_vmac for i in c.vrrp_instances] == ["vmac7", ""]


def test_strict_first_ipv6_vip_must_be_link_local() -> None:
    c, d = load(STRICT + vi("").replace("192.0.2.1/24", "2001:db8::1/64"))
    assert "(VI_1) the first IPv6 VIP address must be link local" in \
        "\n".join(x.message for x in d.items)


def test_strict_resets_lower_priority_garps_and_adverts_with_errors() -> None:
    c, d = load("global_defs { vrrp_strict\n vrrp_higher_prio_send_advert }\n"
                + vi(" garp_lower_prio_repeat 3\n garp_lower_prio_delay 2\n"
                     " lower_prio_no_advert false\n higher_prio_send_advert"))
    i = c.vrrp_instances[0]
    assert (i.garp_lower_prio_repeat, i.garp_lower_prio_delay, i.lower_prio_no_advert,
            i.higher_prio_send_advert) == (0, 0.0, True, False)
    assert [x.message for x in d.items] == [
        "(VI_1) Strict mode requires no repeat garps. resetting",
        "(VI_1) Strict mode requires no repeat garp delay. resetting",
        "(VI_1) Strict mode requires no lower priority advert. resetting",
        "(VI_1) strict mode requires higher_prio_send_advert to be clear. resetting"]


def test_strict_instance_without_vips_is_not_run() -> None:
    c, d = load(STRICT + vi("").replace(" virtual_ipaddress { 192.0.2.1/24 }\n", ""))
    assert c.vrrp_instances == ()
    assert "(VI_1) No VIP specified; at least one is required" in [x.message for x in d.items]


def test_strict_vmac_name_too_long_is_ignored() -> None:
    c, d = load(vi(" use_vmac averyveryverylongname"))
    assert c.vrrp_instances[0].use_vmac == ""
    assert "VMAC interface name 'averyveryverylongname' too long or invalid characters -" \
           " ignoring" in [x.message for x in d.items]
