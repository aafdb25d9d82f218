"""Garbage connections to a running master's control socket and Prometheus endpoint (issue 15;
tests/chaos/garbage.py says what they send): the daemon lives, the VIP stays, its open files
come back to what they were, the connections it holds never exceed the caps (32 control, 64
metrics), and a real client is answered again once the garbage has gone.

Always: 1,000 connections (500 to each), the garbage clients closing after 1.5 s (a few
seconds). With KP_CHAOS_ALL=1: 2,000 (1,000 to each) held beyond the servers' 5 s timeouts
(~30 s). bench/garbage.py runs it bigger and prints the figures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaoslab import Cluster
from netlab import have_netns

from keepalived_py.obs import control, metrics

pytestmark = [pytest.mark.netns, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
PROM = "127.0.0.1:9651"


def fds(pid: int | None) -> int:
    return len(os.listdir(f"/proc/{pid}/fd")) if pid else 0


def garbage_run(c: Cluster, count: int, hold: float | None = None) -> dict[str, object]:
    d = c.daemons["n1"]
    ppid, vpid = d.pid("p"), d.pid("v")
    base = {"p": fds(ppid), "v": fds(vpid)}
    peak = dict(base)
    t0 = time.monotonic()
    proc = c.nodes["n1"].popen([sys.executable, str(HERE / "garbage.py"),
                                str(d.dir / "keepalived-py-vrrp.ctl"), PROM, str(count),
                                *([] if hold is None else [str(hold)])],
                               stdout=subprocess.PIPE, text=True)
    while proc.poll() is None:
        peak = {"p": max(peak["p"], fds(ppid)), "v": max(peak["v"], fds(vpid))}
        time.sleep(0.05)
    figures: dict[str, object] = json.loads(proc.communicate()[0])
    # the last held connections close (the servers' 5 s timeouts, or the clients' own close)
    c.wait(lambda: {"p": fds(ppid), "v": fds(vpid)} == base, 15.0, step=0.1)
    after = {"p": fds(ppid), "v": fds(vpid)}
    figures["wall_s"] = round(time.monotonic() - t0, 1)
    figures.update({"fds_base": base, "fds_peak": peak, "fds_after": after})
    print(f"\ngarbage: {figures}")
    # the caps, enforced as connections are accepted (obs/gate.py): the VRRP child holds at
    # most its control clients, the parent its metrics clients (+ a scrape's connections to
    # the children). A served connection's socket is closed one loop iteration after its slot
    # is given back, so for an instant the sockets on their way out may add up to one cap more
    assert peak["v"] <= base["v"] + 2 * control.MAX_CLIENTS, figures
    assert peak["p"] <= base["p"] + 2 * metrics.MAX_CLIENTS + 4, figures
    assert after == base, figures
    assert d.pid("p") == ppid and d.pid("v") == vpid
    status = json.loads(control.query(str(d.dir / "keepalived-py-vrrp.ctl"), "status"))
    assert status["instances"][0]["state"] == "MASTER"
    got = c.nodes["n1"].run(sys.executable, "-c", "import urllib.request;print(urllib.request."
                            f"urlopen('http://{PROM}/metrics', timeout=5).read().decode())").stdout
    assert "keepalived_up 1" in got
    assert int(figures["real_ok"]) > 0, figures              # type: ignore[call-overload]
    return figures


def test_chaos_garbage_connections(tmp_path: Path) -> None:
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    if not os.environ.get("KP_CHAOS_ALL"):
        # ~30 s; the caps, the head limit and the shared render are checked in a few seconds
        # by tests/unit/obs/test_garbage_connections.py
        pytest.skip("KP_CHAOS_ALL=1 runs the 2,000 garbage connections")
    with Cluster(tmp_path, advert=1.0, tag="garbage") as c:
        c.daemons["n1"].args = [f"--prometheus={PROM}"]
        c.start(("n1", "n2"))
        del c.daemons["n3"]
        c.elected()
        c.fault("garbage", {"n1"}, bound=0, nogap=True)
        garbage_run(c, 1000)
        c.verify()


def test_chaos_garbage_connections_ci_sized(tmp_path: Path) -> None:
    """1,000 garbage connections (500 to each server) in a few seconds, on every run: one
    master alone (adverts at 0.1 s: elected at once), the garbage clients closing after
    1.5 s; the same checks as the big run."""
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    with Cluster(tmp_path, advert=0.1, tag="garbci") as c:
        c.daemons["n1"].args = [f"--prometheus={PROM}"]
        c.start(("n1",))
        for n in ("n2", "n3"):
            del c.daemons[n]
        c.elected()
        c.fault("garbage", {"n1"}, bound=0, nogap=True)
        figures = garbage_run(c, 500, hold=1.5)
        assert figures["garbage_connections"] == 1000
        c.verify()
