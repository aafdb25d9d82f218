"""vrrp/priority.py: an instance's own FAULT, every reason, and the effective priority."""
from __future__ import annotations

import ipaddress

import pytest

from keepalived_py.config.model import UnicastPeer, VrrpInstance
from keepalived_py.track.table import InstanceTracking
from keepalived_py.vrrp.priority import effective_priority, own_fault

PEER = (UnicastPeer(address=ipaddress.ip_address("192.0.2.3")),)
SRC = ipaddress.ip_address("192.0.2.2")


def _i(**kw: object) -> VrrpInstance:
    return VrrpInstance(name="v", virtual_router_id=1, interface="eth0", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("inst", "link_up", "has_source", "tracked", "expected"), [
    (_i(), True, True, None, (False, "")),
    (_i(unicast_fault_no_peer=True), True, True, None,
     (True, "no unicast peers")),
    (_i(unicast_fault_no_peer=True, unicast_peer=PEER),
     True, True, None, (False, "")),
    (_i(), False, True, None, (True, "interface eth0 down")),
    (_i(dont_track_primary=True), False, True, None,
     (False, "")),
    (_i(), True, False, None,
     (True, "no IPv4 address for interface")),
    (_i(unicast_src_ip=SRC), True, False, None,
     (False, "")),
    (_i(), True, True,
     InstanceTracking(True, 0, ("script chk", "interface eth1")),
     (True, "script chk, interface eth1")),
    (_i(), True, True, InstanceTracking(False, -20),
     (False, "")),
])
def test_own_fault(inst: VrrpInstance, link_up: bool, has_source: bool,
                   tracked: InstanceTracking | None, expected: tuple[bool, str]) -> None:
    assert own_fault(inst, link_up, has_source, tracked) == expected


def test_effective_priority_clamps_and_the_owner_never_moves() -> None:
    assert effective_priority(100, -150) == 1
    assert effective_priority(200, 100) == 254
    assert effective_priority(255, -100) == 255
    assert effective_priority(100, [10, -5]) == 105
