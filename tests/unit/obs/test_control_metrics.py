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
from keepalived_py.obs.metrics import render


def _snap(n: int) -> list[InstanceSnapshot]:
    return [{"name": f"VI_{i}", "state": "MASTER" if i % 2 else "BACKUP", "interface": "eth0",
             "vrid": i % 255 + 1, "priority": 100, "vips": [f"192.0.2.{i % 250}/32 dev eth0"],
             "stats": {"advert_sent": i, "advert_rcvd": 2 * i}} for i in range(n)]


def test_metrics_use_the_exporters_names_and_labels() -> None:
    text = render(_snap(2), {"transitions": {("VI_1", "MASTER"): 3},
                             "failover_seconds": {"VI_1": [0.0012, 0.004]}})
    assert 'keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="2",ip_address="192.0.2.1/32"} 2' in text
    assert 'keepalived_advertisements_sent_total{iname="VI_1",intf="eth0",vrid="2"} 1' in text
    assert 'keepalived_py_vrrp_transitions_total{iname="VI_1",to="MASTER"} 3' in text
    assert 'keepalived_py_vrrp_failover_seconds_bucket{iname="VI_1",le="0.002"} 1' in text
    assert 'keepalived_py_vrrp_failover_seconds_count{iname="VI_1"} 2' in text


def test_metrics_scrape_of_1000_instances_is_cheap() -> None:
    snap = _snap(1000)
    best = float("inf")
    for _ in range(5):                      # the best of five: a busy machine is not the code
        t = time.perf_counter()
        render(snap)
        best = min(best, time.perf_counter() - t)
    assert best < 0.02


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
