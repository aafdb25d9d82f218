"""Behaviour conformance: each scenario is played by keepalived 2.2.7 and by keepalived-py (on
node A, with keepalived 2.2.7 as the fixed peer on node B) and the two recordings must agree:
state sequences, notify calls and FIFO lines, VIP presence, advert priorities on the wire,
checkpoints and the exit status. Only the differences a scenario allow-lists (keepalived's own
failures, with the reason) may differ. See scenarios.py for the recording and the catalogue.

The scenarios are played ahead of the tests, KP_SCEN_JOBS (default 2) at a time; set
KP_SCEN_SERIAL=1 to play keepalived and keepalived-py one after the other instead of at once;
KP_SCEN_PENDING=1 plays the PENDING scenarios too (to see whether a fix made them agree).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scenarios
from netlab import have_netns

pytestmark = [pytest.mark.netns, pytest.mark.keepalived, pytest.mark.slow]

# Scenarios that show a real divergence of keepalived-py from keepalived 2.2.7, not yet fixed:
# deselected until keepalived-py is fixed (then delete the entry). name -> what differs.
PENDING: dict[str, str] = {
}


def _params() -> list[object]:
    out = []
    for sc in scenarios.CATALOGUE:
        pending = None if os.environ.get("KP_SCEN_PENDING") else PENDING.get(sc.name)
        marks = [pytest.mark.skip(reason=f"PENDING divergence: {pending}")] if pending else []
        out.append(pytest.param(sc, id=sc.name, marks=marks))
    return out


@pytest.fixture(scope="module")
def played(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Callable[[scenarios.Scenario], tuple[scenarios.Recording, scenarios.Recording]]]:
    """Plays the selected scenarios ahead, KP_SCEN_JOBS (default 2) at a time, in test order;
    each test waits for its own. Each scenario runs both implementations at once (each on its
    own LAN) unless KP_SCEN_SERIAL is set."""
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    if not os.path.exists(scenarios.KEEPALIVED):
        pytest.skip("keepalived 2.2.7 is not installed (tests/run.sh installs it)")
    root = tmp_path_factory.mktemp("scen")
    for parent in [root, *root.parents]:
        mode = os.stat(parent).st_mode
        if mode & 0o002 and not mode & 0o1000:
            pytest.skip(f"{parent} is world-writable without the sticky bit (script security)")
    parallel = not os.environ.get("KP_SCEN_SERIAL")
    selected = [item.callspec.params["sc"] for item in request.session.items
                if hasattr(item, "callspec") and "sc" in item.callspec.params
                and item.get_closest_marker("skip") is None]
    pool = ThreadPoolExecutor(max_workers=max(1, int(os.environ.get("KP_SCEN_JOBS", "2"))))
    futures: dict[str, Future[tuple[scenarios.Recording, scenarios.Recording]]] = {}

    def submit(sc: scenarios.Scenario) -> None:
        if sc.name not in futures:
            base = root / sc.name
            base.mkdir()
            os.chmod(base, 0o755)
            futures[sc.name] = pool.submit(scenarios.run, sc, base, parallel)

    for sc in selected:
        submit(sc)

    def get(sc: scenarios.Scenario) -> tuple[scenarios.Recording, scenarios.Recording]:
        submit(sc)
        return futures[sc.name].result(timeout=300)

    yield get
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("sc", _params())
def test_scenario_behaves_like_keepalived(sc: scenarios.Scenario, played: Callable[
        [scenarios.Scenario], tuple[scenarios.Recording, scenarios.Recording]]) -> None:
    k, p = played(sc)
    diffs = scenarios.compare(sc, k, p)
    bad = scenarios.failures(sc, diffs)
    if bad:
        text = scenarios.report(sc, diffs, k, p) + "\n--- keepalived-py log tail:\n" + p.log[-3000:]
        if any(d.key.startswith(("b.", "wire.b")) or ".b." in d.key for d in bad):
            text += ("\n--- peer log tail (keepalived run):\n" + k.peer_log[-2000:]
                     + "\n--- peer log tail (keepalived-py run):\n" + p.peer_log[-2000:])
        pytest.fail(text, pytrace=False)


def test_scenario_catalogue_is_large_and_named_uniquely() -> None:
    names = [sc.name for sc in scenarios.CATALOGUE]
    assert len(names) == len(set(names))
    assert len(names) >= 30
    assert set(PENDING) <= set(names)
    for sc in scenarios.CATALOGUE:
        for pattern, reason in sc.allow.items():
            assert reason, (sc.name, pattern)
        # an intended difference always says what keepalived-py must do instead
        assert not sc.allow or sc.expect_py, sc.name


def test_scenario_compare_tolerates_jitter_but_not_sequence_changes() -> None:
    """The reduction: repeats collapse and times do not matter; order and values do."""
    wire = [f"{t:.3f} a 2 51 150" for t in (0.0, 1.0, 2.05, 2.9, 7.0)]
    assert scenarios.wire_sequences(wire) == {"a.v2.vrid51": ["150"]}
    wire += ["8.0 a 2 51 90", "8.5 b 2 51 100", "9.0 a 2 51 150"]
    assert scenarios.wire_sequences(wire) == {"a.v2.vrid51": ["150", "90", "150"],
                                              "b.v2.vrid51": ["100"]}
    ev = [(1.0, "2: eth0    inet 192.0.2.100/24 scope global secondary eth0"),
          (1.1, "2: eth0    inet 192.0.2.100/24 scope global secondary eth0"),
          (3.0, "Deleted 2: eth0    inet 192.0.2.100/24 scope global secondary eth0")]
    assert scenarios.vip_timeline(ev, []) == {"192.0.2.100": ["-", "+", "-"]}
    assert scenarios.collapse(["B", "B", "M", "M", "B"]) == ["B", "M", "B"]
    sc = scenarios.Scenario("x", "", [], allow={"check:*.a.states": "because"})
    assert scenarios.allowed(sc, "check:t1.a.states") == "because"
    assert scenarios.allowed(sc, "a.fifo") is None
