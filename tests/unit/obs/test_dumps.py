from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from keepalived_py.obs.dumps import (
    DumpWriter,
    InstanceSnapshot,
    dump_path,
    format_data,
    format_json,
    format_stats,
    write_atomic,
)

SNAP: list[InstanceSnapshot] = [{
    "name": "VI_1", "state": "MASTER", "version": 3, "interface": "eth0", "vrid": 51,
    "priority": 100, "effective_priority": 110, "advert_int": 1.0,
    "vips": ["192.0.2.10/24 dev eth0 scope global", "192.0.2.11/32 dev eth0 scope global"],
    "stats": {"advert_rcvd": 3, "advert_sent": 12, "become_master": 1, "ip_ttl_err": 2},
}]


def parse_data_like_exporter(text: str) -> dict[str, dict[str, object]]:
    """The parsing rules of the common keepalived exporters (keepalived.data)."""
    data: dict[str, dict[str, object]] = {}
    inst = key = ""
    for line in text.splitlines():
        if line.startswith(" VRRP Instance") and "=" in line:
            inst = line.strip().split("=")[1].strip()
            data[inst] = {"vips": []}
        elif line.startswith("   ") and inst:
            if line.startswith("     "):
                val = line.strip()
            elif "=" in line:
                key, val = (s.strip() for s in line.strip().split("=", 1))
            elif ":" in line:
                key, val = (s.strip() for s in line.strip().split(":", 1))
                if key == "Virtual IP":
                    continue
            else:
                continue
            if key.startswith("Virtual IP (") and val:
                data[inst]["vips"].append(val)  # type: ignore[union-attr]
            elif key in ("State", "Interface", "Virtual Router ID", "Wantstate"):
                data[inst][key] = val
        else:
            inst = ""
    return data


def parse_stats_like_exporter(text: str) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    inst = section = ""
    for line in text.splitlines():
        if line.startswith("VRRP Instance") and ":" in line:
            inst = line.split(":")[1].strip()
            stats[inst] = {}
        elif line.startswith("  ") and line.endswith(":"):
            section = line.strip()[:-1]
        elif line.startswith("    ") and section:
            k, v = (s.strip() for s in line.strip().split(":"))
            stats[inst][f"{section}/{k}"] = int(v)
        elif line.startswith("  "):
            k, v = (s.strip() for s in line.strip().split(":"))
            stats[inst][k] = int(v)
    return stats


def test_data_dump_parses_with_exporter_rules() -> None:
    d = parse_data_like_exporter(format_data(SNAP))
    assert d["VI_1"]["State"] == "MASTER"
    assert d["VI_1"]["Interface"] == "eth0"
    assert d["VI_1"]["Virtual Router ID"] == "51"
    assert d["VI_1"]["vips"] == SNAP[0]["vips"]


def test_stats_dump_parses_with_exporter_rules() -> None:
    s = parse_stats_like_exporter(format_stats(SNAP))
    assert s["VI_1"]["Advertisements/Received"] == 3
    assert s["VI_1"]["Advertisements/Sent"] == 12
    assert s["VI_1"]["Became master"] == 1
    assert s["VI_1"]["Packet Errors/TTL"] == 2
    assert s["VI_1"]["Priority Zero/Sent"] == 0


def test_json_dump_is_keepalived_shaped() -> None:
    rows = json.loads(format_json(SNAP))
    assert rows[0]["data"]["iname"] == "VI_1" and rows[0]["data"]["state"] == 2
    assert rows[0]["stats"]["advert_sent"] == 12


def test_write_atomic_replaces_a_planted_symlink_without_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "keepalived.data"
    target.symlink_to(victim)
    write_atomic(str(target), "dump\n")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text() == "dump\n"
    mode = stat.S_IMODE(target.stat().st_mode)
    assert not mode & stat.S_IWOTH and not mode & stat.S_IWGRP
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dump_path_follows_keepalived_names(tmp_path: Path) -> None:
    assert dump_path("data", directory=str(tmp_path)) == f"{tmp_path}/keepalived.data"
    assert dump_path("stats", directory="/x", data_use_instance=True, instance="i1",
                     namespace="ns") == "/x/keepalived.ns_i1.stats"


def test_dump_writer_coalesces_and_survives_a_missing_directory(tmp_path: Path) -> None:
    calls = []

    def render(kind: str) -> tuple[str, str]:
        calls.append(kind)
        return str(tmp_path / "missing" / "keepalived.data"), "x"
    w = DumpWriter(render)
    for _ in range(100):
        w.request("data")
    assert w.wait_idle()
    assert w.failed >= 1 and w.written == 0
    ok = DumpWriter(lambda k: (str(tmp_path / "keepalived.stats"), format_stats(SNAP)))
    for _ in range(100):
        ok.request("stats")
    assert ok.wait_idle()
    assert 1 <= ok.written <= 100
    assert (tmp_path / "keepalived.stats").read_text().startswith("VRRP Instance: VI_1")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_json_dump_has_the_keys_gen2brain_exporter_reads() -> None:
    row = json.loads(format_json(SNAP))[0]
    for key in ("iname", "ifp_ifname", "last_transition", "vrid", "state", "wantstate"):
        assert key in row["data"], key
    assert isinstance(row["data"]["state"], int) and isinstance(row["data"]["vrid"], int)


def test_dump_writer_renders_on_the_loop_in_slices_and_coalesces(tmp_path: Path) -> None:
    """On a running loop a dump is formatted a slice at a time: other callbacks (an advert's
    timer) run between its chunks; requests while one is pending are folded into it."""
    import asyncio
    import time

    from keepalived_py.obs import dumps
    renders: list[str] = []

    def render(kind: str) -> tuple[str, dumps.Body]:
        renders.append(kind)

        def chunks() -> Iterator[str]:
            for n in range(40):
                end = time.perf_counter() + 0.0005          # 20 ms of formatting in all
                while time.perf_counter() < end:
                    pass
                yield f"line {n}\n"
        return str(tmp_path / f"keepalived.{kind}"), chunks()

    async def main() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        w = dumps.DumpWriter(render)
        ticks = 0
        worst = 0.0
        last = loop.time()
        done = loop.create_future()

        def tick() -> None:
            nonlocal ticks, worst, last
            ticks += 1
            now = loop.time()
            worst = max(worst, now - last)
            last = now
            if (tmp_path / "keepalived.data").exists() and not done.done():
                done.set_result(None)
            elif not done.done():
                loop.call_soon(tick)
        for _ in range(50):
            w.request("data")
        loop.call_soon(tick)
        await asyncio.wait_for(done, 10)
        assert await loop.run_in_executor(None, w.wait_idle)
        assert w.coalesced == 49
        return ticks, worst

    ticks, _worst = asyncio.run(main())
    assert renders == ["data"]
    assert ticks >= 5                        # the loop ran between the slices
    assert (tmp_path / "keepalived.data").read_text() == "".join(f"line {n}\n" for n in range(40))


def test_chunked_stats_and_json_are_the_whole_texts() -> None:
    from keepalived_py.obs.dumps import iter_json, iter_stats
    for snap in ([], SNAP, SNAP * 3):
        text = "".join(iter_json(snap))
        # the chunks together are json.dumps(rows, indent=2), as when written in one go
        assert text == json.dumps(json.loads(text), indent=2) + "\n"
        assert "".join(iter_stats(snap)) == format_stats(snap)


def test_dump_writer_prepares_on_its_thread_before_the_first_render(tmp_path: Path) -> None:
    import asyncio
    import threading

    from keepalived_py.obs import dumps
    seen: list[object] = []

    def prepare() -> None:
        seen.append(threading.get_ident())

    def render(kind: str) -> tuple[str, dumps.Body]:
        seen.append(kind)
        return str(tmp_path / f"keepalived.{kind}"), ["a\n", "b\n"]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        w = dumps.DumpWriter(render, prepare)
        w.warm()
        w.request("stats")                  # while prepare may still run: after it
        w.request("json")
        assert await loop.run_in_executor(None, w.wait_idle)
    asyncio.run(main())
    assert seen[0] != threading.get_ident() and seen[1:] == ["stats", "json"]
    assert (tmp_path / "keepalived.json").read_text() == "a\nb\n"
