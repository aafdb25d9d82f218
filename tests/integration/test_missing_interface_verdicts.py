"""`-t` on configurations naming interfaces that do not exist: the same lines and the same exit
code as keepalived 2.2.7, run in the same namespace (it has eth0 only). keepalived's VRRP
process stops right after reading when it was given a missing interface ("Non-existent
interface specified in configuration"), so nothing its vrrp_complete_init checks (missing
VRID, sync groups, script security) is reported then; a route or rule whose interface is
missing is dropped at that word."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from verdictlab import config_test_both, verdict_host

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

VI = ("vrrp_instance VI_1 {{\n interface {ifname}\n{extra} virtual_ipaddress {{\n"
      "  192.0.2.10/24{dev}\n }}\n}}\n")

CASES = {
    # an instance's interface; the missing VRID is a vrrp_complete_init message: not shown
    "instance_no_vrid": "vrrp_instance VI_1 {\n interface nope0\n}\n",
    "track_interface": VI.format(ifname="eth0", dev="",
                                 extra=" virtual_router_id 5\n track_interface {\n  nope1\n }\n"),
    "vip_dev": VI.format(ifname="eth0", dev=" dev nope2", extra=" virtual_router_id 5\n"),
    "static_address": "static_ipaddress {\n 192.0.2.10/24 dev nope2\n}\n",
    "sync_group_track": "vrrp_sync_group G {\n group {\n  VI_1\n }\n track_interface {\n"
                        "  nope3\n }\n}\n" + VI.format(ifname="eth0", dev="",
                                                       extra=" virtual_router_id 5\n"),
    "route_and_rule": "static_routes {\n 198.51.100.0/24 dev nope4\n}\n"
                      "static_rules {\n from 192.0.2.1 iif nope7 table 5\n}\n",
    "instance_route": VI.format(ifname="eth0", dev="", extra=" virtual_router_id 5\n"
                                " virtual_routes {\n  198.51.100.0/24 oif nope4\n }\n"),
    "garp_group": "garp_group {\n interface nope5\n}\n" + VI.format(
        ifname="eth0", dev="", extra=" virtual_router_id 5\n"),
    "with_checker": VI.format(ifname="nope0", dev="", extra=" virtual_router_id 5\n")
                    + "virtual_server 192.0.2.10 80 {\n real_server 192.0.2.20 80 {\n }\n}\n",
    "unsafe_script_not_checked": "global_defs {\n enable_script_security\n}\n"
                                 + VI.format(ifname="nope0", dev="", extra=(
                                     " virtual_router_id 5\n notify_master /tmp/x.sh\n")),
    # no interface at all (a unicast instance needs one too in 2.2.7): vrrp.c chk_min_cfg
    "unicast_no_interface": "vrrp_instance VI_1 {\n virtual_router_id 5\n unicast_peer {\n"
                            "  192.0.2.3\n }\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n",
    "default_interface_missing": "global_defs {\n default_interface nope6\n}\n"
                                 "vrrp_instance VI_1 {\n virtual_router_id 5\n"
                                 " virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n",
}

_THEIRS = re.compile(r"^\((?P<path>[^:]+): Line (?P<line>\d+)\) (?P<msg>.*)$")
_OURS = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?:error|warning|fatal|security): "
                   r"(?P<msg>.*)$")
_OURS_BARE = re.compile(r"^(?:error|warning|fatal|security): (?P<msg>.*)$")


def _theirs(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        m = _THEIRS.match(line)
        out.append((m["line"], m["msg"]) if m else ("", line))
    return sorted(out)


def _ours(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if ": notice: " in line:
            continue                  # keepalived-py's own "not implemented" notes
        m = _OURS.match(line) or _OURS_BARE.match(line)
        assert m, line
        out.append((m.groupdict().get("line") or "", m["msg"]))
    return sorted(out)


@pytest.fixture(scope="module")
def host() -> object:
    with verdict_host("noif", ("192.0.2.1/24",)) as node:
        yield node


_VI = "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{0}" \
      " virtual_ipaddress {{\n  192.0.2.10/24{1}\n }}\n{2}}}\n"
# use_ipvlan's and per-address use_vmac's -t checks (config/ipvlan.py)
IPVLAN_CASES = {
    "ipvlan_v4_no_address": _VI.format(" use_ipvlan\n", "", ""),
    "ipvlan_two_types": _VI.format(" use_ipvlan iv1 192.0.2.5/24 vepa private\n", "", ""),
    "ipvlan_family_and_twice": _VI.format("", "", " use_ipvlan 2001:db8::5/64\n use_ipvlan x\n"),
    "ipvlan_name_taken": _VI.format(" use_ipvlan lo\n", "", ""),
    "ipvlan_name_too_long": _VI.format(" use_ipvlan averyveryverylongname 192.0.2.5\n", "", ""),
    "ipvlan_repeats_promote": _VI.format(" use_ipvlan 192.0.2.5/24 192.0.2.6/24 a b\n"
                                         " promote_secondaries\n", "", ""),
    "vip_use_vmac_and_instance": _VI.format(" use_vmac\n", " use_vmac", ""),
    "vip_use_vmac_addr_elsewhere": _VI.format(" use_vmac_addr\n", "", " virtual_ipaddress_excluded"
                                              " {\n  2001:db8::7/64 use_vmac\n }\n"),
}


@pytest.mark.parametrize("case", sorted(CASES) + sorted(IPVLAN_CASES))
def test_missing_interface_lines_and_exit_code_equal_keepalived(host: object, case: str,
                                                                tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(CASES.get(case) or IPVLAN_CASES[case])
    theirs, ours = config_test_both(host, str(conf))
    assert "Traceback" not in ours.stderr
    assert ours.returncode == theirs.returncode, (theirs.stderr, ours.stderr)
    mine, keepalived = _ours(ours.stderr), _theirs(theirs.stderr)
    # the same messages; the same line numbers where keepalived gives one (it gives none
    # after reading: vrrp_complete_init's and the checker's checks)
    assert sorted(m for _, m in mine) == sorted(m for _, m in keepalived), \
        (theirs.stderr, ours.stderr)
    assert all(entry in mine for entry in keepalived if entry[0] and "interface" in entry[1]), \
        (theirs.stderr, ours.stderr)
