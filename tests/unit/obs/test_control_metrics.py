from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from pathlib import Path

from keepalived_py.obs.control import ControlServer
from keepalived_py.obs.dumps import InstanceSnapshot
from keepalived_py.obs.metrics import combine, render, render_checker


def _snap(n: int) -> list[InstanceSnapshot]:
    return [{"name": f"VI_{i}", "state": "MASTER" if i % 2 else "BACKUP", "interface": "eth0",
             "vrid": i % 255 + 1, "priority": 100, "vips": [f"192.0.2.{i % 250}/32 dev eth0"],
             "stats": {"advert_sent": i, "advert_rcvd": 2 * i}} for i in range(n)]


def test_metrics_use_the_exporters_names_and_labels() -> None:
    text = render(_snap(2), {"transitions": {("VI_1", "MASTER"): 3},
                             "failover_seconds": {"VI_1": [0.0012, 0.004]}})
    assert 'keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="2",ip_address="192.0.2.1/32"} 2' in text
    assert 'keepalived_vrrp_advert_sent{name="VI_1",intf="eth0",vrid="2",state="MASTER"} 1' in text
    assert 'keepalived_advertisements_sent_total{iname="VI_1",intf="eth0",vrid="2"} 1' in text
    assert 'keepalived_py_vrrp_transitions_total{iname="VI_1",to="MASTER"} 3' in text
    assert 'keepalived_py_vrrp_failover_seconds_bucket{iname="VI_1",le="0.002"} 1' in text
    assert 'keepalived_py_vrrp_failover_seconds_count{iname="VI_1"} 2' in text


def _families(text: str) -> dict[str, object]:
    """The Prometheus project's own parser (prometheus_client) reads the scrape: not ours."""
    from prometheus_client.parser import text_string_to_metric_families
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_serve_both_exporters_families_parsed_by_prometheus() -> None:
    snap = _snap(2)
    snap[1]["vips"] = ["192.0.2.1/32 dev vip0 scope global", "192.0.2.9/32"]   # 2nd: ParseVIP skips
    snap[1]["excluded_vips"] = ["198.51.100.7/32 dev eth1"]
    scripts = [{"name": "chk", "status": "GOOD", "state": "idle"},
               {"name": "chk2", "status": "BAD", "state": "idle"}]
    text = combine({"vrrp": render(snap, {"scripts": scripts}),
                    "checker": render_checker([{
                        "address": "192.0.2.50", "port": 80, "sorry": False,
                        "backends": ["198.51.100.1:80"],
                        "real_servers": [{"address": "198.51.100.1", "port": 80, "up": True,
                                          "weight": 3}]}])})
    fams = _families(text)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in fams.values() for s in f.samples}    # type: ignore[attr-defined]
    assert samples[("keepalived_up", ())] == 1
    # mehdy/keepalived-exporter: the VIP's own device is intf (its ParseVIP: words 0 and 2)
    assert samples[("keepalived_vrrp_state", (("iname", "VI_1"), ("intf", "vip0"),
                                              ("ip_address", "192.0.2.1/32"), ("vrid", "2")))] == 2
    assert not any(k[0] == "keepalived_vrrp_state" and ("ip_address", "192.0.2.9/32") in k[1]
                   for k in samples)
    assert samples[("keepalived_vrrp_excluded_state", (("iname", "VI_1"), ("intf", "eth1"),
                                                       ("ip_address", "198.51.100.7/32"),
                                                       ("vrid", "2")))] == 2
    assert samples[("keepalived_advertisements_received_total",
                    (("iname", "VI_1"), ("intf", "eth0"), ("vrid", "2")))] == 2
    assert samples[("keepalived_script_status", (("name", "chk"),))] == 1
    assert samples[("keepalived_script_status", (("name", "chk2"),))] == 0
    assert samples[("keepalived_script_state", (("name", "chk"),))] == 0
    # gen2brain/keepalived_exporter: name/intf/vrid/state labels, state as text (exposed without
    # _total, as its Go client does; prometheus_client's parser names counter samples *_total)
    assert 'keepalived_vrrp_advert_rcvd{name="VI_1",intf="eth0",vrid="2",state="MASTER"} 2' in text
    assert samples[("keepalived_vrrp_advert_rcvd_total", (("intf", "eth0"), ("name", "VI_1"),
                                                    ("state", "MASTER"), ("vrid", "2")))] == 2
    assert samples[("keepalived_vrrp_pri_zero_sent_total", (("intf", "eth0"), ("name", "VI_0"),
                                                      ("state", "BACKUP"), ("vrid", "1")))] == 0
    # checker metrics, with HELP and TYPE on every family
    assert samples[("keepalived_py_realserver_up", (("rs", "198.51.100.1:80"),
                                                    ("vs", "192.0.2.50:80")))] == 1
    assert samples[("keepalived_py_child_up", (("role", "checker"),))] == 1
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert f"# HELP {name} " in text, name


def test_metrics_of_a_child_that_did_not_answer() -> None:
    fams = _families(combine({"vrrp": None, "checker": render_checker([])}))
    got = {(s.name, tuple(s.labels.items())): s.value
           for f in fams.values() for s in f.samples}    # type: ignore[attr-defined]
    assert got[("keepalived_up", ())] == 0
    assert got[("keepalived_py_child_up", (("role", "vrrp"),))] == 0


def test_metrics_scrape_of_1000_instances_is_cheap() -> None:
    snap = _snap(1000)
    best = float("inf")
    for _ in range(5):          # CPU time, the best of five: a busy machine is not the code
        t = time.thread_time()
        render(snap)
        best = min(best, time.thread_time() - t)
    assert best < 0.08      # ~30,000 lines (both exporters' families): < 0.5% of a core at 15 s


def test_control_socket_serves_status_and_survives_bad_clients(tmp_path: Path) -> None:
    path = str(tmp_path / "ctl.sock")

    async def scenario() -> None:
        srv = ControlServer(path, {"status": lambda: json.dumps({"instances": 1}) + "\n",
                                   "metrics": lambda: "x" * 4_000_000})
        await srv.start()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

        async def ask(cmd: bytes) -> bytes:
            r, w = await asyncio.open_unix_connection(path)
            w.write(cmd)
            await w.drain()
            data = await r.read()
            w.close()
            return data

        assert json.loads(await ask(b"status\n")) == {"instances": 1}
        assert b"unknown command" in await ask(b"\x00\xffgarbage\n")
        # a client that asks for a big answer and never reads, and one that sends nothing
        lazy = socket.socket(socket.AF_UNIX)
        lazy.setblocking(False)
        lazy.connect(path)
        lazy.send(b"metrics\n")
        silent = socket.socket(socket.AF_UNIX)
        silent.setblocking(False)
        silent.connect(path)
        assert await ask(b"ping\n") == b"pong\n"       # others are still served at once
        await asyncio.sleep(0.1)
        assert json.loads(await ask(b"status\n")) == {"instances": 1}
        lazy.close()
        silent.close()
        await srv.stop()
        assert not os.path.exists(path)

    asyncio.run(scenario())


def test_control_socket_beside_a_pidfile_in_a_deep_directory(tmp_path: Path) -> None:
    """A pidfile path long enough that its control socket's name exceeds sun_path (107 bytes)
    still gets a control socket (it was silently missing: `AF_UNIX path too long`)."""
    from keepalived_py.obs.control import aquery, query
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    path = str(deep / "keepalived-py-parent.ctl")
    assert len(path) > 107

    async def main() -> tuple[str, str]:
        srv = ControlServer(path, {"status": lambda: "fine\n"})
        await srv.start()
        try:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            got = await aquery(path, "status")
            other = await asyncio.get_running_loop().run_in_executor(None, query, path, "ping")
            return got, other
        finally:
            await srv.stop()

    assert asyncio.run(main()) == ("fine\n", "pong\n")
    assert not os.path.exists(path)
