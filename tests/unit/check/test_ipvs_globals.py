"""IPVS globals (issue 13): lvs_sync_daemon / lvs_timeouts / lvs_flush_on_stop as configured
(keepalived 2.2.7's values and messages), their generic-netlink encoding, the sync daemon's
role following a VRRP instance, sorry_server_inhibit / sorry_server_lvs_method / per-real-server
lvs_method in the targets, and --dataplane. The kernel side is proven in tests/vm (IPVS is not
in this machine's kernel)."""
from __future__ import annotations

import ipaddress
import struct
from typing import Any

import pytest

from keepalived_py.check import ipvs
from keepalived_py.check.realserver import Target, targets
from keepalived_py.cli import parse_args
from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import Config, GlobalDefs, LvsSyncDaemon
from keepalived_py.config.model_lvs import RealServer, VirtualServer
from keepalived_py.config.tree import Diagnostics
from keepalived_py.errors import UsageError
from keepalived_py.vrrp.lvs_syncd import SyncDaemonFollower

A = ipaddress.ip_address


def load(text: str) -> tuple[Config, list[str]]:
    d = Diagnostics()
    c = build_config(read_tree_text(text, path="k.conf", diagnostics=d), d,
                     check_interfaces=False)
    return c, [str(x) for x in d.items]


def glob(line: str, extra: str = "") -> tuple[Config, list[str]]:
    return load(f"global_defs {{\n  {line}\n}}\n{extra}")


VI = ("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
      " virtual_ipaddress {\n  192.0.2.1\n }\n}\n")


def test_lvs_sync_daemon_options_and_syncid_default_from_the_instance() -> None:
    c, msgs = glob("lvs_sync_daemon eth0 inst VI_1 maxlen 1400 port 8848 ttl 2"
                   " group 239.1.2.3", VI)
    s = c.global_defs.lvs_sync_daemon
    assert s is not None and not msgs
    assert (s.interface, s.instance, s.syncid, s.maxlen, s.port, s.ttl, s.group) == \
        ("eth0", "VI_1", 51, 1400, 8848, 2, A("239.1.2.3"))
    c, _ = glob("lvs_sync_daemon eth0")                   # the checker's: syncid 0
    assert c.global_defs.lvs_sync_daemon == LvsSyncDaemon(interface="eth0", syncid=0)
    c, msgs = glob("lvs_sync_daemon eth0 VI_1 7", VI)     # the old positional form
    s = c.global_defs.lvs_sync_daemon
    assert s is not None and (s.instance, s.syncid) == ("VI_1", 7)
    assert any('Please use keyword "id" before lvs_sync_daemon SYNCID' in m for m in msgs)


@pytest.mark.parametrize("line,message", [
    ("lvs_sync_daemon", "lvs_sync_daemon requires interface"),
    ("lvs_sync_daemon eth0 ttl 0", "Invalid lvs_sync_daemon ttl (0) - ignoring"),
    ("lvs_sync_daemon eth0 group 192.0.2.1",
     "lvs_sync_daemon group address 192.0.2.1 is not multicast - ignoring"),
    ("lvs_sync_daemon eth0 id 300", "Invalid syncid (300) - defaulting to vrid"),
    ("lvs_sync_daemon eth0 inst VI_9",
     "Unable to find vrrp instance VI_9 for lvs_syncd - clearing lvs_syncd config"),
    ("lvs_sync_daemon averyveryverylongname", "interface name 'averyveryverylongname' too long"),
    ("lvs_timeouts tcp", "lvs_timeouts requires at least one option"),
    ("lvs_timeouts tcp 10 sctp 5", "Unknown option sctp specified for lvs_timeouts"),
    ("lvs_timeouts tcp x udp 5", "Invalid lvs_timeout tcp (x) - ignoring"),
    ("lvs_flush_onstop all", "Unknown lvs_flush_on_stop type all"),
])
def test_ipvs_global_errors_are_keepalived_s(line: str, message: str) -> None:
    _, msgs = glob(line, VI)
    assert any(message in m and "k.conf:2" in m for m in msgs), msgs


def test_lvs_timeouts_and_flush_on_stop_values() -> None:
    c, _ = glob("lvs_timeouts tcp 900 udp 60")
    assert c.global_defs.lvs_timeouts == (900, 0, 60)
    assert glob("lvs_flush_onstop")[0].global_defs.lvs_flush_on_stop == "ALL"
    assert glob("lvs_flush_on_stop VS")[0].global_defs.lvs_flush_on_stop == "VS"
    assert glob("lvs_flush")[0].global_defs.lvs_flush_on_stop is None


def test_sync_daemon_attributes_encode_as_linux_ip_vs_h() -> None:
    sync = LvsSyncDaemon(interface="sy0", syncid=9, maxlen=1400, port=8848, ttl=2,
                         group=A("239.1.2.3"))
    outer = ipvs.parse_nlas(ipvs.daemon_attrs("MASTER", sync))
    d = ipvs.parse_nlas(outer[ipvs.IPVS_CMD_ATTR_DAEMON])
    assert struct.unpack("=i", d[ipvs.IPVS_DAEMON_ATTR_STATE]) == (ipvs.IP_VS_STATE_MASTER,)
    assert d[ipvs.IPVS_DAEMON_ATTR_MCAST_IFN] == b"sy0\0"
    assert struct.unpack("=i", d[ipvs.IPVS_DAEMON_ATTR_SYNC_ID]) == (9,)
    assert struct.unpack("=H", d[ipvs.IPVS_DAEMON_ATTR_SYNC_MAXLEN]) == (1400,)
    assert struct.unpack("=H", d[ipvs.IPVS_DAEMON_ATTR_MCAST_PORT]) == (8848,)
    assert d[ipvs.IPVS_DAEMON_ATTR_MCAST_TTL] == b"\x02"
    assert d[ipvs.IPVS_DAEMON_ATTR_MCAST_GROUP] == bytes([239, 1, 2, 3])
    stop = ipvs.parse_nlas(ipvs.parse_nlas(ipvs.daemon_attrs("BACKUP", None))[
        ipvs.IPVS_CMD_ATTR_DAEMON])
    assert set(stop) == {ipvs.IPVS_DAEMON_ATTR_STATE, ipvs.IPVS_DAEMON_ATTR_SYNC_ID}
    t = ipvs.parse_nlas(ipvs.timeout_attrs(900, 30, 60))
    assert [struct.unpack("=I", t[k])[0] for k in (4, 5, 6)] == [900, 30, 60]
    assert ipvs.parse_nlas(b"\x08\x00\x01\x00ab") == {}        # truncated: nothing, no error


class FakeCtl:
    """Records the kernel requests and answers as the kernel does (EEXIST / ESRCH)."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.calls: list[str] = []

    def start_daemon(self, state: str, sync: Any) -> None:
        self.calls.append(f"start {state}")
        if state in self.running:
            raise ipvs.GenlError(17, "File exists")
        self.running[state] = sync.syncid

    def stop_daemon(self, state: str) -> None:
        self.calls.append(f"stop {state}")
        if state not in self.running:
            raise ipvs.GenlError(3, "No such process")
        del self.running[state]

    def close(self) -> None:
        pass


def test_vrrp_sync_daemon_follows_master_backup_fault_reload_and_stop() -> None:
    f = SyncDaemonFollower()
    f.ctl = FakeCtl()  # type: ignore[assignment]
    sync = LvsSyncDaemon(interface="sy0", instance="VI_1", syncid=51)
    cfg = Config(global_defs=GlobalDefs(lvs_sync_daemon=sync))
    f.configure(cfg, lambda name: "BACKUP")
    assert f.ctl.running == {"BACKUP": 51}  # type: ignore[attr-defined]
    f.state_changed("VI_2", "MASTER")                        # another instance: nothing
    f.state_changed("VI_1", "MASTER")
    assert f.ctl.running == {"MASTER": 51}  # type: ignore[attr-defined]
    f.state_changed("VI_1", "FAULT")
    assert f.ctl.running == {"BACKUP": 51}  # type: ignore[attr-defined]
    f.state_changed("VI_1", "MASTER")
    # a reload that changes the syncid: the daemon is restarted with it
    f.configure(Config(global_defs=GlobalDefs(lvs_sync_daemon=LvsSyncDaemon(
        interface="sy0", instance="VI_1", syncid=7))), lambda name: "MASTER")
    assert f.ctl.running == {"MASTER": 7}  # type: ignore[attr-defined]
    f.reassert()                                             # still there: EEXIST, quiet
    assert f.ctl.running == {"MASTER": 7}  # type: ignore[attr-defined]
    f.stop()
    f.state_changed("VI_1", "STOP")                          # after stop: nothing restarts
    assert f.ctl.running == {}  # type: ignore[attr-defined]


def test_checker_run_sync_daemon_leaves_a_vrrp_run_one_alone() -> None:
    from keepalived_py.check.lvs_globals import IpvsGlobals
    g = IpvsGlobals()
    ctl = FakeCtl()
    g.ctl = ctl  # type: ignore[assignment]
    ctl.running = {"MASTER": 51}                             # the VRRP child's
    g.configure(GlobalDefs(lvs_sync_daemon=LvsSyncDaemon(interface="sy0", instance="VI_1",
                                                         syncid=51)), reload=False)
    assert ctl.running == {"MASTER": 51}
    g.configure(GlobalDefs(lvs_sync_daemon=LvsSyncDaemon(interface="sy0", syncid=9)),
                reload=True)
    assert ctl.running == {"MASTER": 9, "BACKUP": 9}
    g.stop(GlobalDefs(), release=True)
    assert ctl.running == {}


def vs(**kw: Any) -> VirtualServer:
    reals = (RealServer(address=A("198.51.100.11"), port=80, weight=2),
             RealServer(address=A("198.51.100.12"), port=80, lvs_method="TUN"))
    return VirtualServer(address=A("192.0.2.100"), port=80, lvs_method="DR",
                         real_servers=reals, **kw)


def test_sorry_server_inhibit_keeps_it_at_weight_zero_with_its_own_method() -> None:
    v = vs(sorry_server=RealServer(address=A("198.51.100.99"), port=80),
           sorry_server_inhibit=True, sorry_server_lvs_method="NAT")
    up, _ = targets(v, {0: True, 1: True})
    assert up == (Target("198.51.100.11", 80, 2), Target("198.51.100.12", 80, 1, "TUN"),
                  Target("198.51.100.99", 80, 0, "NAT"))
    down, sorry = targets(v, {0: False, 1: False})
    assert sorry and down == (Target("198.51.100.99", 80, 1, "NAT"),)
    # without sorry_server_inhibit the unused sorry server is not in the table
    assert len(targets(vs(sorry_server=RealServer(address=A("198.51.100.99"), port=80)),
                       {0: True, 1: True})[0]) == 2


def test_ipvs_destination_method_per_target() -> None:
    assert ipvs.dest_fields(Target("198.51.100.12", 80, 1, "TUN"), "TUN")["fwd_method"] == 2


def test_dataplane_option() -> None:
    o, _ = parse_args(["--dataplane=nftables"])
    assert o.dataplane == "nftables"
    assert parse_args(["--dataplane", "ipvs"])[0].dataplane == "ipvs"
    with pytest.raises(UsageError, match="Invalid dataplane 'lvs'"):
        parse_args(["--dataplane=lvs"])


def test_mixed_family_servers_are_skipped_and_fwmark_family_resolved() -> None:
    c, msgs = load("virtual_server 192.0.2.100 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n"
                   " sorry_server 2001:db8::99 80\n real_server 2001:db8::11 80 {\n }\n"
                   " real_server 192.0.2.11 80 {\n }\n}\n"
                   "virtual_server 192.0.2.101 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n"
                   " real_server 2001:db8::11 80 {\n }\n}\n"
                   "virtual_server fwmark 7 {\n lb_algo rr\n lb_kind NAT\n"
                   " real_server 2001:db8::11 80 {\n }\n}\n")
    assert any("Address family of virtual server and real server 2001:db8::11 don't match"
               " - skipping real server." in m for m in msgs), msgs
    assert any("sorry server 2001:db8::99 don't match - skipping sorry server." in m
               for m in msgs), msgs
    assert any("Virtual server [192.0.2.101]:tcp:80 has no real servers - ignoring" in m
               for m in msgs), msgs
    first, fw = c.virtual_servers
    assert [str(r.address) for r in first.real_servers] == ["192.0.2.11"]
    assert first.sorry_server is None
    assert fw.ip_family == "inet6"
    assert ipvs.service_fields(fw)["af"] == 10
    _, msgs = load("virtual_server 192.0.2.5 80 {\n lb_algo rr\n protocol TCP\n lb_kind NAT\n"
                   " ip_family inet6\n real_server 192.0.2.11 80 {\n }\n}\n")
    assert any("specified family inet6 conflicts with server family" in m for m in msgs)


def test_first_check_waits_bootstrap_plus_a_part_of_warmup() -> None:
    from keepalived_py.check.realserver import CheckState
    from keepalived_py.config.model_lvs import Checker
    v = VirtualServer(address=A("192.0.2.100"), port=80, delay_loop=30.0)
    assert CheckState.from_config(Checker(kind="TCP_CHECK"), v, 100.0, 0.5).next_at == 116.0
    assert CheckState.from_config(Checker(kind="TCP_CHECK", warmup=4.0), v, 100.0,
                                  0.5).next_at == 103.0
