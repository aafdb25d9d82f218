"""IPVS on a stock kernel (issue 13): this machine's kernel may have no IPVS, Debian 12's stock
kernel has it. One throw-away VM per session (tests/vm: QEMU microvm, Debian's
linux-image-amd64, the host's filesystem read-only over 9p) runs tests/vm/ipvs_scenario.py:
keepalived-py's checker and keepalived 2.2.7 side by side, in two namespaces of the guest, with
the same virtual servers and the same real-server transitions; these tests assert on the IPVS
state it reported (`ipvsadm -Sn`, read independently of the code under test). Both run VRRP
too: one instance, VI_1, which the IPVS sync daemon follows (`lvs_sync_daemon sy0 inst VI_1`:
`ipvsadm -L --daemon`), beside `lvs_timeouts` (`--timeout`), `lvs_flush_onstop`,
`sorry_server_inhibit`, `sorry_server_lvs_method` and a real server's own `lvs_method`.

Skipped, saying why, when the VM tooling is missing (tests/run.sh installs qemu-system-x86,
busybox-static, ipvsadm, kmod, cpio and curl) or KP_VM=0. ~3-4 min under TCG (boot ~10 s; Python in
the guest runs 10-30x slower), once per session: the same boot then runs the use_ipvlan
scenario (tests/vm/suite.py, test_ipvlan_vm.py; ~1.5 min more).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.vm import suite  # noqa: E402

pytestmark = pytest.mark.netns

SERVICES = ["-A -t 192.0.2.100:80 -s rr -p 300",                     # lb_algo, persistence
            "-A -t 192.0.2.101:443 -s sh -p 60 -M 255.255.255.0",     # + granularity
            "-A -f 7 -s lc",                                          # fwmark
            "-A -t 192.0.2.102:80 -s rr",
            "-A -t [2001:db8::100]:80 -s wlc"]                        # IPv6
DESTS = ["-a -t 192.0.2.101:443 -r 192.0.2.21:443 -g -w 3",           # lb_kind DR
         "-a -t 192.0.2.101:443 -r 192.0.2.22:443 -i -w 2",           # its own lvs_method
         "-a -t 192.0.2.101:443 -r 192.0.2.29:443 -i -w 0",           # sorry_server_inhibit
         "-a -f 7 -r 192.0.2.31:0 -i -w 1 --tun-type ipip",           # lb_kind TUN
         "-a -t [2001:db8::100]:80 -r [2001:db8::11]:80 -m -w 4"]


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    b = suite.boot(tmp_path_factory.mktemp)
    if b.skip is not None:
        pytest.skip(b.skip)
    assert b.run is not None
    run, out = b.run, b.out
    path = out / "results.json"
    assert path.exists(), run.console[-4000:]
    results = json.loads(path.read_text())
    results["_run"] = run
    results["_log"] = (out / "ours.log").read_text(errors="replace") \
        if (out / "ours.log").exists() else ""
    print(f"\nIPVS VM: {run.accel}, {run.seconds:.0f} s, guest scenario {results.get('seconds')} s;"
          " converged after (s): " + ", ".join(
              f"{k} {v.get('took')}" for k, v in {**results.get("phases", {}), **{
                  k: results[k] for k in ("syncd_master", "syncd_backup") if k in results}
              }.items() if isinstance(v, dict)))
    assert "error" not in results, (results["error"], run.console[-3000:])
    yield results


def _phase(vm: dict[str, Any], name: str) -> dict[str, Any]:
    p = vm["phases"].get(name)
    assert p is not None, (name, vm["_log"][-3000:])
    assert p["took"] is not None, (name, p, vm["_log"][-3000:])   # converged to the oracle
    assert p["ours"] == p["ref"]
    return p  # type: ignore[no-any-return]


def test_ipvs_vm_services_and_real_servers_match_keepalived(vm: dict[str, Any]) -> None:
    ours = _phase(vm, "up")["ours"]
    for line in SERVICES + DESTS + ["-a -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 2",
                                    "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1"]:
        assert any(x == line or x.startswith(line + " ") for x in ours), (line, ours)


def test_ipvs_vm_existing_service_is_adopted_and_reconciled(vm: dict[str, Any]) -> None:
    """A service left in the kernel (wrong scheduler, wrong weight, a stale destination): no
    EEXIST loop; it becomes what the configuration says."""
    assert "-A -t 192.0.2.100:80 -s wlc" in vm["phases"]["preexisting"]
    ours = _phase(vm, "up")["ours"]
    assert not any("192.0.2.50" in line for line in ours), ours
    assert "check.ipvs.adopted vs=" in vm["_log"]


def test_ipvs_vm_inhibit_on_failure_sets_weight_zero(vm: dict[str, Any]) -> None:
    ours = _phase(vm, "inhibited")["ours"]
    assert "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 0" in ours, ours


def test_ipvs_vm_sorry_server_replaces_dead_servers_and_leaves(vm: dict[str, Any]) -> None:
    sorry = _phase(vm, "sorry")["ours"]
    assert "-a -t 192.0.2.100:80 -r 192.0.2.99:80 -m -w 1" in sorry
    assert "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 2" not in sorry
    assert "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 0" in sorry     # inhibited, kept
    back = _phase(vm, "back")["ours"]
    assert not any("192.0.2.99" in line for line in back), back
    assert "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -m -w 2" in back


def test_ipvs_vm_respawned_checker_adopts_without_error_loop(vm: dict[str, Any]) -> None:
    """The checker child SIGKILLed while a real server goes down: the new one adopts the
    kernel's services (no flush, no duplicate, no failed apply) and applies the change."""
    _phase(vm, "respawned")
    r = vm["respawn"]
    assert r["took"] is not None, vm["_log"][-3000:]
    assert r["apply_failed"] == 0 and r["file_exists"] == 0, vm["_log"][-3000:]
    assert r["adopted"] >= len(SERVICES)
    final = r["final"]
    assert len(final) == len(set(final))
    assert sum(1 for x in final if x.startswith("-A")) == len(SERVICES) + 1  # + a foreign one
    assert "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 0" in final


def test_ipvs_vm_stop_flushes_all_of_ipvs_and_stops_the_sync_daemon(
        vm: dict[str, Any]) -> None:
    """lvs_flush_onstop (no argument: all of IPVS): the service nobody configured goes too;
    the sync daemons stop; the timeouts are put back as they were before (keepalived's
    ipvs_stop)."""
    stop = vm["after_stop"]
    assert stop["ours"] == [] and stop["ref"] == [], stop
    assert stop["ours_globals"] == stop["ref_globals"], stop
    assert not any("sync daemon" in line for line in stop["ours_globals"]), stop
    assert "Timeout (tcp tcpfin udp): 900 120 300" in stop["ours_globals"], stop


def _globals(vm: dict[str, Any], name: str) -> list[str]:
    p = vm.get(name)
    assert p is not None and p["took"] is not None, (name, p, vm["_log"][-3000:])
    assert p["ours"] == p["ref"]
    return p["ours"]  # type: ignore[no-any-return]


def test_ipvs_vm_lvs_timeouts_are_set(vm: dict[str, Any]) -> None:
    assert "Timeout (tcp tcpfin udp): 900 30 60" in _globals(vm, "syncd_master")


def test_ipvs_vm_sync_daemon_follows_the_vrrp_instance(vm: dict[str, Any]) -> None:
    """lvs_sync_daemon sy0 inst VI_1: a master daemon while VI_1 is MASTER, a backup one once
    it is in FAULT, as keepalived 2.2.7 (syncid: VI_1's virtual_router_id)."""
    master = _globals(vm, "syncd_master")
    assert any(x.startswith("master sync daemon (mcast=sy0, syncid=51") for x in master), master
    backup = _globals(vm, "syncd_backup")
    assert any(x.startswith("backup sync daemon (mcast=sy0, syncid=51") for x in backup), backup
    assert not any(x.startswith("master sync daemon") for x in backup), backup


def test_ipvs_vm_reload_restarts_or_hands_over_the_sync_daemon(vm: dict[str, Any]) -> None:
    """A reload that changes VI_1's sync daemon (`id 12`): it is restarted with the new
    syncid (keepalived 2.2.7 does not); then a reload to `lvs_sync_daemon sy0 id 9` (no
    instance): the VRRP child stops its daemon, the checker runs a master and a backup one."""
    changed = vm["reload_vrrp_syncd"]
    assert sum("sync daemon" in x for x in changed) == 1, changed
    assert any("sync daemon (mcast=sy0, syncid=12" in x for x in changed), changed
    got = vm["reload_syncd"]
    assert any(x.startswith("master sync daemon (mcast=sy0, syncid=9") for x in got), got
    assert any(x.startswith("backup sync daemon (mcast=sy0, syncid=9") for x in got), got


def test_ipvs_vm_reload_removes_a_sorry_server_equal_to_a_real_server(vm: dict[str, Any]) -> None:
    """Seed 003's case: sorry_server equal to a real server, then removed on reload: the real
    server stays, the checker child neither crashes nor fails an apply."""
    ours = _phase(vm, "reloaded")["ours"]
    assert "-a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 1" in ours, ours
    r = vm["reload"]
    assert r["reloads"] >= 2 and r["same_checker"] and r["apply_failed"] == 0, vm["_log"][-3000:]


def test_ipvs_vm_traffic_from_a_client_namespace_reaches_both_real_servers(
        vm: dict[str, Any]) -> None:
    """A client namespace -> the director's VIP (IPVS NAT, rr) -> two busybox httpd real
    servers behind a bridge: answers alternate."""
    got = vm.get("traffic")
    assert got is not None and sorted(got) == ["rs1"] * 3 + ["rs2"] * 3, got
