"""use_ipvlan on a kernel that has ipvlan: Debian 12's stock kernel in the VM of tests/vm
(booted once per session for the IPVS tests too: tests/vm/suite.py), where
tests/vm/ipvlan_scenario.py runs keepalived-py (priority 150) beside keepalived 2.2.7
(priority 100), both with `use_ipvlan <address>/24 private`. The machine running the suite may
lack ipvlan (then tests/integration/test_ipvlan.py checks the FAULT both daemons enter); this
is where the interface itself is proven: made as keepalived makes it, the VIP on it, adverts
from its address, keepalived taking the VIP over when our daemon stops, our link removed.

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
    log = b.out / "ipvlan_ours.log"
    res["_log"] = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    print(f"\nipvlan VM: scenario {res.get('seconds')} s; ours master after "
          f"{res.get('ours_master_after')} s, keepalived took over after "
          f"{res.get('ref_took_over_after')} s")
    assert "error" not in res, (res["error"], res["_log"])
    return res


def test_ipvlan_vm_link_is_made_as_keepalived_makes_it(ivm: dict[str, Any]) -> None:
    assert ivm["ours_master_after"] is not None, ivm["_log"]
    mine, theirs = ivm["ours_link"], ivm["ref_link"]
    assert mine is not None and theirs is not None, ivm
    # the same link (mode l2, private, up, IPv6 off) as keepalived's; the addresses differ
    assert {k: v for k, v in mine.items() if k != "addrs"} == \
        {k: v for k, v in theirs.items() if k != "addrs"}, (mine, theirs)
    assert mine["kind"] == "ipvlan" and mine["up"] and mine["ipv6_off"], mine
    assert (mine["data"] or {}).get("mode") == "l2", mine
    assert mine["addrs"] == ["192.0.2.100/24", "192.0.2.71/24"], mine
    assert theirs["addrs"] == ["192.0.2.72/24"], theirs


def test_ipvlan_vm_vip_answers_and_adverts_leave_from_the_ipvlan(ivm: dict[str, Any]) -> None:
    assert ivm["ping_ours"], ivm["_log"]
    assert ivm["sources"] == ["192.0.2.71"], ivm["sources"]


def test_ipvlan_vm_keepalived_takes_over_and_our_link_is_removed(ivm: dict[str, Any]) -> None:
    assert ivm["ref_took_over_after"] is not None, ivm
    assert "192.0.2.100/24" in ivm["ref_link_master"]["addrs"], ivm
    assert ivm["ping_ref"], ivm
    assert ivm["ours_link_after_stop"] is None, ivm
    assert ivm["ref_link_after_stop"] is None, ivm      # keepalived removes its own too
