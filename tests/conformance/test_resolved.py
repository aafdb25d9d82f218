"""Resolved semantics: keepalived 2.2.7 and keepalived-py dump the same values (issue 10).

For every configuration in dumpdiff_configs.py both daemons run side by side in identical
namespaces (dumpdiff.Bench) and their keepalived.data files are compared field by field: priorities,
effective and total priorities, weights, timers, GARP settings, tracker parameters and flags;
only pids, times, counters and descriptors are ignored (dumpdiff.IGNORED). keepalived is the
oracle for every default.

PENDING lists the differences known today whose fix lies in the VRRP state machine, the
daemon or the trackers (not in the configuration model), each with its reason. The test
fails on any other difference, and also when a pending difference has gone: remove it from
PENDING then, so that the comparison keeps guarding it.
"""
from __future__ import annotations

import os

import pytest
from dumpdiff import KEEPALIVED, Bench, Difference, Result, run_all
from dumpdiff import SETTLE as DEFAULT_SETTLE
from dumpdiff_configs import CONFIGS, SETTLE
from netlab import have_netns

pytestmark = pytest.mark.netns
WORKERS = 3

#: config -> {difference key: reason}. The lead empties this as the fixes land.
PENDING: dict[str, dict[str, str]] = {
}


def _kernel_has_ipvlan() -> bool:
    from netlab import run_prefix, sh
    ns = f"{run_prefix()}-ivprobe"
    if sh("ip", "netns", "add", ns, check=False).returncode != 0:
        return True
    try:
        sh("ip", "-n", ns, "link", "add", "a", "type", "veth", "peer", "name", "b", check=False)
        return sh("ip", "-n", ns, "link", "add", "iv", "link", "a", "type", "ipvlan", "mode",
                  "l2", check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", ns, check=False)


if os.geteuid() == 0 and not _kernel_has_ipvlan():
    # keepalived lists the ipvlan it could not make as an interface of index 0; keepalived-py
    # lists the kernel's interfaces only (both instances are in FAULT, as they should be)
    PENDING["ipvlan_private"] = {"Interfaces/Name = vrrp.51: <object>": "no ipvlan in kernel"}
    PENDING["ipvlan_no_address"] = {"Interfaces/Name = kpiv: <object>": "no ipvlan in kernel"}


def key(d: Difference) -> str:
    return f"{d.section}/{d.obj}: {d.field}" if d.obj else f"{d.section}: {d.field}"


def _files(bench: Bench) -> None:
    (bench.files / "tf").write_text("2\n")
    (bench.files / "tg").write_text("1\n")


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> dict[str, Result]:
    """The dumps of every selected configuration, taken three at a time (the waits are
    sleeps: three benches keep the whole comparison around a minute)."""
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    if not os.access(KEEPALIVED, os.X_OK):
        pytest.skip("keepalived 2.2.7 (the oracle) is not installed")
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "module", None) is request.module and hasattr(item, "callspec")]
    jobs = {n: (CONFIGS[n], SETTLE.get(n, DEFAULT_SETTLE)) for n in names or CONFIGS}
    return run_all(jobs, workers=WORKERS, prepare=_files)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resolved_values_match_keepalived(results: dict[str, Result], name: str) -> None:
    res = results[name]
    assert " VRRP Instance = " in res.keepalived, res.logs[0][-2000:]
    assert " VRRP Instance = " in res.ours, res.logs[1][-2000:]
    pending = PENDING.get(name, {})
    found = {key(d): d for d in res.differences()}
    unexpected = [str(d) for k, d in found.items() if k not in pending]
    gone = [k for k in pending if k not in found]
    assert not unexpected, "differences from keepalived 2.2.7:\n" + "\n".join(unexpected)
    assert not gone, "pending differences fixed - remove them from PENDING:\n" + "\n".join(gone)
