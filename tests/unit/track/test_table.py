from __future__ import annotations

from keepalived_py.config.model import (
    Config,
    Script,
    TrackRef,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackFile,
    VrrpTrackProcess,
)
from keepalived_py.track.edges import Edge, tracking_edges
from keepalived_py.track.table import TrackingTable


def _config() -> Config:
    chk = VrrpScript(name="chk", script=Script(argv=("/bin/true",), text="/bin/true"), weight=-20)
    hard = VrrpScript(name="hard", script=Script(argv=("/bin/true",), text="/bin/true"))
    f = VrrpTrackFile(name="f", file="/tmp/x", weight=2)
    a = VrrpInstance(name="A", interface="eth0", virtual_router_id=1, sync_group="G",
                     track_script=(TrackRef(name="chk"), TrackRef(name="hard", weight=5)),
                     track_file=(TrackRef(name="f"),))
    b = VrrpInstance(name="B", interface="eth0", virtual_router_id=2, sync_group="G",
                     track_interface=(TrackRef(name="eth1"),))
    g = VrrpSyncGroup(name="G", group=("A", "B"), track_script=(TrackRef(name="chk", weight=0),))
    return Config(vrrp_scripts=(chk, hard), vrrp_track_files=(f,), vrrp_instances=(a, b),
                  vrrp_sync_groups=(g,))


def test_tracking_table_weights_faults_and_groups() -> None:
    t = TrackingTable(_config())
    assert t.instance("A").fault                    # group's weight-0 'chk' not run yet
    assert t.update("script", "chk", True) == {"A", "B"}
    assert t.instance("A").fault is False and t.instance("A").delta == 0
    assert t.update("script", "hard", True) == {"A"}
    assert t.instance("A").delta == 5
    assert t.update("file", "f", 10) == {"A"}
    assert t.instance("A").delta == 25
    assert t.update("script", "chk", False) == {"A", "B"}
    # 'chk' is listed once for A: the group's weight 0 replaces A's -20 (keepalived 2.2.7)
    assert t.instance("A").delta == 25 and t.instance("A").fault
    assert t.update("script", "chk", False) == set()
    assert t.update("interface", "eth1", False) == {"B"}
    assert "interface eth1" in t.instance("B").reasons
    assert t.watched("script") == {"chk", "hard"}


def _edges_config(tracking_weight: bool) -> Config:
    ok = VrrpScript(name="ok", script=Script(argv=("/bin/true",), text="/bin/true"))
    a = VrrpInstance(name="A", interface="eth0", virtual_router_id=1, sync_group="G",
                     track_interface=(TrackRef(name="eth1", weight=7),),
                     track_script=(TrackRef(name="ok", weight=10),),
                     track_process=(TrackRef(name="p"),))
    b = VrrpInstance(name="B", interface="eth0", virtual_router_id=2, sync_group="G",
                     track_script=(TrackRef(name="ok", weight=0),))
    g = VrrpSyncGroup(name="G", group=("A", "B"), sync_group_tracking_weight=tracking_weight,
                      track_interface=(TrackRef(name="eth1", weight=4), TrackRef(name="eth0",
                                                                                weight=9)),
                      track_script=(TrackRef(name="ok", weight=5, reverse=True),),
                      track_process=(TrackRef(name="p", weight=-6, reverse=True),))
    p = VrrpTrackProcess(name="p", process="x", weight=-10)
    return Config(vrrp_scripts=(ok,), vrrp_track_processes=(p,), vrrp_instances=(a, b),
                  vrrp_sync_groups=(g,))


def test_tracking_edges_group_weight_replaces_a_weighted_instance_entry() -> None:
    edges = tracking_edges(_edges_config(True))
    # once per instance; the group's weight unless the instance's is 0 (keepalived 2.2.7)
    assert edges[("script", "ok")] == [Edge("A", 5, True), Edge("B", 0, False)]
    assert edges[("interface", "eth1")] == [Edge("A", 4, False), Edge("B", 4, False)]
    # a process takes the group's weight but keeps the instance's direction
    assert edges[("process", "p")] == [Edge("A", -6, False), Edge("B", -6, True)]
    # a member's own interface tracked by its group changes nothing
    assert ("interface", "eth0") not in edges


def test_tracking_table_counts_a_script_once_with_the_group_weight() -> None:
    t = TrackingTable(_edges_config(True))
    t.update("script", "ok", True)
    t.update("interface", "eth1", True)
    t.update("process", "p", False)
    # A: eth1 +4, ok 5 reverse (success) -5, p -6 (down) - as keepalived's 100 -> 93
    assert t.instance("A").delta == -7
