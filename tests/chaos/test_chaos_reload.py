"""Reload endurance (issue 15): a master reloaded again and again, alternating between two
configurations that add, remove and change instances, addresses and trackers. The unchanged
instance never flaps and its VIP sees no netlink event at all; the changed ones follow every
reload; the VRRP child's RSS and open fds stay flat. bench/reload.py does 1,000."""
from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaoslab import VIP, Cluster
from netlab import have_netns

from keepalived_py.obs.control import query

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def _inst(name: str, vrid: int, vips: list[str], body: str = "") -> str:
    addrs = "\n    ".join(vips)
    return (f"vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n"
            f"  priority 200\n  advert_int 1\n  {body}\n  virtual_ipaddress {{\n    {addrs}\n  }}\n}}\n")


def configs(d: Path) -> tuple[str, str]:
    head = "global_defs {\n  enable_script_security\n  script_user root\n}\n"
    a = head + _inst("VI_1", 51, [f"{VIP}/24"]) + _inst("VI_2", 52, ["192.0.2.101/24"]) \
        + _inst("VI_3", 53, ["192.0.2.130/24"])
    b = head + f"vrrp_track_file tf {{\n  file {d}/trackfile\n  weight 0\n}}\n" \
        + _inst("VI_1", 51, [f"{VIP}/24"]) \
        + _inst("VI_3", 53, ["192.0.2.130/24", "192.0.2.131/24"], "track_file {\n    tf\n  }") \
        + _inst("VI_4", 54, ["192.0.2.140/24"])
    return a, b


def endurance(c: Cluster, reloads: int, every: int, report: bool = True) -> dict[str, object]:
    d = c.daemons["n1"]
    (d.dir / "trackfile").write_text("0\n")
    a, b = configs(d.dir)
    d.conf = a
    d.start()
    c.wait(lambda: c.holders() == {"n1"}, 20)
    assert c.wait(lambda: "192.0.2.130/24" in c.nodes["n1"].addresses(), 10), d.log()
    time.sleep(1)
    ctl = str(d.dir / "keepalived-py-vrrp.ctl")

    def vi1() -> dict[str, int]:
        data = json.loads(query(ctl, "status"))
        return next(i for i in data["instances"] if i["name"] == "VI_1")["stats"]  # type: ignore[no-any-return]

    vpid = d.pid("v")
    mon0 = len(c.monitors["n1"].lines)
    st0 = vi1()
    samples: list[tuple[int, int, int]] = []
    done = d.log(10**7).count("vrrp.reloaded")
    for i in range(1, reloads + 1):
        d.write_conf(b if i % 2 else a)
        d.signal("p", signal.SIGHUP)
        if c.wait(lambda n=done + i: d.log(10**7).count("vrrp.reloaded") >= n, 20, step=0.02) is None:
            raise AssertionError(f"reload {i} did not finish\n{d.log()}")
        if i % every == 0:
            rss, fds = d.rss_fds("v")
            samples.append((i, rss, fds))
            if report:
                print(f"reload {i}: VRRP child RSS {rss} KiB, {fds} fds", flush=True)
    # the config in force is `a` (even count) or `b`: its addresses are there, the others not
    # (an instance the last reload added is BACKUP for a Master_Down_Interval first)
    final = b if reloads % 2 else a
    want = {ip for ip in ("192.0.2.101/24", "192.0.2.131/24", "192.0.2.140/24")
            if ip.split("/")[0] in final}

    def changed() -> set[str]:
        return set(c.nodes["n1"].addresses()) & {"192.0.2.101/24", "192.0.2.131/24", "192.0.2.140/24"}
    assert c.wait(lambda: changed() == want, 10) is not None, (changed(), want, d.log())
    vip_events = [ln for _, ln in c.monitors["n1"].lines[mon0:] if f" {VIP}/" in ln]
    st1 = vi1()
    flaps = {k: st1[k] - st0[k] for k in ("become_master", "release_master")}
    assert d.pid("v") == vpid, d.log()
    assert not vip_events, vip_events
    assert flaps == {"become_master": 0, "release_master": 0}, flaps
    assert not d.problems(), d.problems()
    # flat: the fd count back where it was (a sample may catch a reload's file or socket in
    # flight), RSS within 2 MiB from the second sample on (the first pays warm-up)
    fds = [f for _, _, f in samples[1:]]
    rss = [r for _, r, _ in samples[1:]]
    figures = {"reloads": reloads, "samples": samples, "rss_growth_kib": (rss[-1] - rss[0]) if rss else 0}
    # a leak grows: the fewest fds among the last samples is still the first sample's (a
    # sample can catch a transient descriptor of the reload itself: a pipe, a netlink query)
    assert not fds or min(fds[-3:]) <= fds[0], samples
    assert not rss or max(rss) - rss[0] <= 2048, samples
    return figures


def test_chaos_reload_100_times_without_a_flap_or_a_leak(tmp_path: Path) -> None:
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    with Cluster(tmp_path, tag="reload") as c:
        print("\n", endurance(c, 100, 10))
