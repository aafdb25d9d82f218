from __future__ import annotations

import json
import os
import stat
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
