"""use_ipvlan on a kernel that has ipvlan: Debian 12's stock kernel in the VM of tests/vm
(booted once per session for the IPVS tests too: tests/vm/suite.py), where
tests/vm/ipvlan_scenario.py runs keepalived 2.2.7 (priority 100) alone, then keepalived-py
(priority 150) beside it, both with `use_ipvlan <address>/24 private`, then stops ours. The
machine running the suite may lack ipvlan (then tests/integration/test_ipvlan.py checks the
FAULT both daemons enter); this is where the interface itself is proven against keepalived's
binary: the link made as keepalived makes it, the VIP where keepalived puts it (on the parent:
2.2.7 moves VIPs onto the instance's interface for VMACs only), adverts from the ipvlan's
address with a checksum keepalived accepts (it goes BACKUP), keepalived taking the VIP back
when our daemon stops, our link removed.

Skipped, saying why, when the VM does not run here (tooling missing, KP_VM=0, not root) or the
guest kernel makes no ipvlan link.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.vm import suite  # noqa: E402

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def ivm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    b = suite.boot(tmp_path_factory.mktemp)
    if b.skip is not None:
        pytest.skip(b.skip)
    assert b.run is not None
    path = b.out / "ipvlan.json"
    assert path.exists(), b.run.console[-4000:]
    res: dict[str, Any] = json.loads(path.read_text())
    if "skipped" in res:
        pytest.skip(f"use_ipvlan in the VM: {res['skipped']}")
    logs = [b.out / f"ipvlan_{n}.log" for n in ("ours", "ref")]
    res["_log"] = "\n".join(p.read_text(errors="replace")[-2500:] for p in logs if p.exists())
    print(f"\nipvlan VM: scenario {res.get('seconds')} s; ours master after "
          f"{res.get('ours_master_after')} s, keepalived backup after "
          f"{res.get('ref_backup_after')} s, keepalived master again after "
          f"{res.get('ref_took_over_after')} s")
    assert "error" not in res, (res["error"], res["_log"])
    return res


def _mask(addrs: dict[str, list[str]], own: str) -> dict[str, list[str]]:
    """A router's addresses with its own two (eth0's, the ipvlan's) named by role."""
    base = own.rsplit(".", 1)[0]
    return {dev: sorted(a.replace(f"{base}.{own.rsplit('.', 1)[1]}/", "ipvlan-addr/")
                        .replace(f"{base}.1/", "own/").replace(f"{base}.2/", "own/")
                        for a in v) for dev, v in addrs.items()}


def test_ipvlan_vm_link_and_addresses_as_keepalived(ivm: dict[str, Any]) -> None:
    ref, ours = ivm["ref_alone"], ivm["ours_master"]
    assert ivm["ref_master_after"] is not None and ivm["ours_master_after"] is not None, \
        ivm["_log"]
    # the same link (mode l2, private, up, IPv6 off) as keepalived's; the addresses differ
    assert {k: v for k, v in ours["link"].items() if k != "addrs"} == \
        {k: v for k, v in ref["link"].items() if k != "addrs"}, (ours, ref)
    assert ours["link"]["kind"] == "ipvlan" and ours["link"]["up"] and \
        ours["link"]["ipv6_off"], ours
    assert (ours["link"]["data"] or {}).get("mode") == "l2", ours
    # each master: the VIP on the parent, the ipvlan holding its own address only
    assert _mask(ours["addrs"], "192.0.2.71") == _mask(ref["addrs"], "192.0.2.72") == \
        {"eth0": ["192.0.2.100/24", "own/24"], "vrrp.71": ["ipvlan-addr/24"]}, (ours, ref)


def test_ipvlan_vm_adverts_from_the_ipvlan_address_and_keepalived_follows(
        ivm: dict[str, Any]) -> None:
    ref, ours = ivm["ref_alone"], ivm["ours_master"]
    assert [a.split()[0::2] + a.split()[3:] for a in ref["adverts"]] == \
        [["192.0.2.72", "prio=100", "csum=ok"]], ref
    srcs = [a.split()[0::2] + a.split()[3:] for a in ours["adverts"]]
    # keepalived (backup, priority 100) may have sent its last adverts as the sniff began
    assert ["192.0.2.71", "prio=150", "csum=ok"] in srcs, ours
    assert all(s[-1] == "csum=ok" for s in srcs), ours
    assert ivm["ref_backup_after"] is not None, ("keepalived never left MASTER", ivm["_log"])
    assert ref["ping"] and ours["ping"], ivm


def test_ipvlan_vm_keepalived_takes_over_and_our_link_is_removed(ivm: dict[str, Any]) -> None:
    # (a TCG guest on a loaded host: our stop and its priority-0 advert take seconds there)
    assert ivm["ref_took_over_after"] is not None and ivm["ref_took_over_after"] < 10, ivm
    assert ivm["ref_master_again"]["ping"], ivm
    assert ivm["ours_after_stop"] == {"link": None, "addrs": {"eth0": ["192.0.2.1/24"]}}, ivm
    assert ivm["ref_link_after_stop"] is None, ivm      # keepalived removes its own too
