"""KEEPALIVED-MIB / VRRP-MIB / VRRPV3-MIB rows and notifications from facts (pure)."""
from __future__ import annotations

from keepalived_py.snmp import check_mib as cm
from keepalived_py.snmp import vrrp_mib as vm
from keepalived_py.snmp.agentx import VarType
from keepalived_py.snmp.mib import View


def facts(**kw: object) -> vm.InstanceFacts:
    base: dict[str, object] = dict(
        index=1, name="VI_1", vrid=51, version=2, family=4, state="MASTER",
        initial_state="BACKUP", wanted_state="MASTER", base_priority=100, priority=100,
        holding=True, interface="eth0", ifindex=3, mac=b"\x02\0\0\0\0\x01", track_primary=True,
        advert_int=1.0, preempt=True, preempt_delay=0, auth_type=None, sync_group=None,
        garp_delay=5, smtp_alert=False, notify_exec=False, accept=True, mcast="224.0.0.18",
        primary="192.0.2.1", master="", stats={"become_master": 2},
        addresses=(vm.AddressFacts("192.0.2.100", 24, None, None, "eth0", 3, True),))
    base.update(kw)
    return vm.InstanceFacts(**base)  # type: ignore[arg-type]


def test_vrrp_rows_index_instances_and_addresses() -> None:
    v = View(vm.vrrp_rows([facts()], []))
    assert v.get((*vm.K_VRRP, 3, 1, 2, 1)).value == b"VI_1"
    assert v.get((*vm.K_VRRP, 3, 1, 4, 1)).value == 2                   # master
    assert v.get((*vm.K_VRRP, 3, 1, 12, 1)).value == 1                  # v2: seconds
    assert v.get((*vm.K_VRRP, 6, 1, 3, 1, 1)).value == bytes([192, 0, 2, 100])
    v3 = View(vm.vrrp_rows([facts(version=3, advert_int=0.5)], []))
    assert v3.get((*vm.K_VRRP, 3, 1, 12, 1)).value == 50                # v3: centiseconds


def test_rfc_tables_use_ifindex_vrid_and_address_type() -> None:
    v2 = View(vm.rfc2787_rows([facts()], True))
    assert v2.get((*vm.VRRP_MIB, 1, 3, 1, 3, 3, 51)).value == 3         # master(3)
    assert v2.get((*vm.VRRP_MIB, 2, 4, 1, 1, 3, 51)).value == 2         # becomeMaster
    assert v2.get((*vm.VRRP_MIB, 1, 4, 1, 2, 3, 51, 192, 0, 2, 100)).value == 1
    # IPv6 and VRRPv3 instances are not in VRRP-MIB, but are in VRRPV3-MIB
    assert len(vm.rfc2787_rows([facts(version=3)], True)) == 5
    v3 = View(vm.rfc6527_rows([facts(family=6, primary="fe80::1", version=3)]))
    assert v3.get((*vm.VRRPV3_MIB, 1, 1, 1, 1, 6, 3, 51, 2)).value == 3
    assert v3.get((*vm.VRRPV3_MIB, 1, 2, 5, 1, 3, 3, 51, 2)).type is VarType.COUNTER64


def test_instance_trap_has_keepalived_objects_without_index() -> None:
    oid, vbs = vm.instance_trap(facts(state="BACKUP"), "r1")
    assert oid == vm.TRAP_INSTANCE
    assert [(v.name, v.value) for v in vbs] == [
        ((*vm.K_VRRP, 3, 1, 2), b"VI_1"), ((*vm.K_VRRP, 3, 1, 4), 1),
        ((*vm.K_VRRP, 3, 1, 5), 1), ((*vm.K_GLOBAL, 2, 0), b"r1")]


def test_checker_rows_and_real_server_trap() -> None:
    real = cm.RealFacts(1, "192.0.2.10", 8080, False, 3)
    sorry = cm.RealFacts(2, "198.51.100.1", 80, True, 1, sorry=True)
    vs = cm.VirtualFacts(1, "192.0.2.200", 80, None, None, "TCP", "wrr", "DR", 6.0, 1, 0,
                         False, False, False, False, None, None, (real, sorry))
    v = View(cm.check_rows([vs]))
    assert v.get((*vm.K_CHECK, 3, 1, 10, 1)).value == 2                 # dr
    assert v.get((*vm.K_CHECK, 3, 1, 20, 1)).value == 1                 # the sorry server is not counted
    assert v.get((*vm.K_CHECK, 4, 1, 2, 1, 2)).value == 2               # sorry(2)
    assert v.get((*vm.K_CHECK, 4, 1, 6, 1, 1)).value == 2               # dead
    oid, vbs = cm.real_server_trap(vs, real, "r1")
    assert oid == cm.TRAP_REAL_SERVER
    names = [v.name for v in vbs]
    assert (*vm.K_CHECK, 4, 1, 6) in names and (*vm.K_CHECK, 3, 1, 6) in names
