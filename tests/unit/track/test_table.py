from __future__ import annotations

from keepalived_py.config.model import (
    Config,
    Script,
    TrackRef,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackFile,
)
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
    assert t.instance("A").delta == 5 and t.instance("A").fault     # -20 and group FAULT
    assert t.update("script", "chk", False) == set()
    assert t.update("interface", "eth1", False) == {"B"}
    assert "interface eth1" in t.instance("B").reasons
    assert t.watched("script") == {"chk", "hard"}
