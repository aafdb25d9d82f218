"""D-Bus (enable_dbus) against a private dbus-daemon, and keepalived 2.2.7 on the same bus.

The bus is a dbus-daemon of our own (its own config and unix socket, never the host's system
bus) with the policy file keepalived-py ships; the daemons find it via DBUS_SYSTEM_BUS_ADDRESS.
A path socket (not an abstract one) reaches into every network namespace.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netlab import Lab
from test_vrrp import KEEPALIVED, Peer, lan_of, wait_for

pytestmark = pytest.mark.netns

jeepney = pytest.importorskip("jeepney")
from jeepney import DBusAddress, MatchRule, message_bus, new_method_call  # noqa: E402
from jeepney.io.blocking import open_dbus_connection  # noqa: E402

POLICY = Path(__file__).parents[2] / "keepalived_py" / "dbus" / "org.keepalived.Vrrp1.conf"
SVC = "org.keepalived.Vrrp1"
IFACE = "org.keepalived.Vrrp1.Instance"

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private system bus; its address is exported for the daemons the test starts."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian package dbus)")
    sock = tmp_path / "bus.sock"
    conf = tmp_path / "bus.conf"
    conf.write_text(BUS_CONF.format(sock=sock, policy=POLICY))
    p = subprocess.Popen(["dbus-daemon", "--config-file", str(conf), "--nofork", "--nopidfile"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(sock.exists, 5), "dbus-daemon did not create its socket"
        address = f"unix:path={sock}"
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield address
    finally:
        p.terminate()
        p.wait(5)


class Client:
    def __init__(self, address: str) -> None:
        self.conn = open_dbus_connection(address)

    def call(self, path: str, iface: str, member: str, sig: str | None = None,
             body: tuple[Any, ...] = ()) -> Any:
        return self.conn.send_and_get_reply(
            new_method_call(DBusAddress(path, SVC, iface), member, sig, body), timeout=5)

    def prop(self, path: str, name: str) -> Any:
        r = self.call(path, "org.freedesktop.DBus.Properties", "Get", "ss", (IFACE, name))
        return r.body[0] if r.header.message_type.name == "method_return" else None

    def owned(self) -> bool:
        r = self.conn.send_and_get_reply(message_bus.NameHasOwner(SVC), timeout=5)
        return bool(r.body[0])

    def tree(self, path: str = "/") -> dict[str, Any]:
        """path -> (interfaces, members, properties, property values) over the whole tree."""
        r = self.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")
        root = ET.fromstring(r.body[0])
        out: dict[str, Any] = {}
        ifaces = []
        for i in root.findall("interface"):
            members = sorted((e.tag, e.get("name"), tuple((a.get("name"), a.get("type"),
                                                           a.get("direction"))
                                                          for a in e.findall("arg")),
                              e.get("type"), e.get("access")) for e in i)
            ifaces.append((i.get("name"), tuple(members)))
        values = {}
        if any(n == IFACE for n, _ in ifaces):
            values = {p: self.prop(path, p) for p in ("Name", "State")}
        out[path] = (sorted(ifaces), values)
        for n in root.findall("node"):
            out.update(self.tree(path.rstrip("/") + "/" + (n.get("name") or "")))
        return out

    def close(self) -> None:
        self.conn.close()


def conf(prio: int, dbus: bool = True, advert: str = "1", version: int = 2,
         v6: bool = False) -> str:
    six = f"""
vrrp_instance VI_6 {{
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority {prio}
  advert_int {advert}
  virtual_ipaddress {{ 2001:db8::100/64 }}
}}""" if v6 else ""
    return f"""
global_defs {{
  {"enable_dbus" if dbus else ""}
  vrrp_version {version}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int {advert}
  virtual_ipaddress {{ 192.0.2.100/24 }}
}}
{six}
"""


PATH4 = "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"


def test_dbus_properties_and_signal_follow_a_failover(lab: Lab, tmp_path: Path, bus: str) -> None:
    a, b = lan_of(lab, 2)
    pa = Peer(a, tmp_path, conf(150, dbus=False, version=3, advert="0.5")).start()
    assert wait_for(lambda: pa.has("192.0.2.100/24"), 12), pa.log()
    pb = Peer(b, tmp_path, conf(100, version=3, advert="0.5")).start()
    cl = Client(bus)
    watcher = Client(bus)
    try:
        assert wait_for(cl.owned, 8), pb.log()
        watcher.conn.send_and_get_reply(message_bus.AddMatch(MatchRule(
            type="signal", interface=IFACE, member="VrrpStatusChange")), timeout=5)
        assert wait_for(lambda: cl.prop(PATH4, "State") == ("(us)", (1, "Backup")), 5), pb.log()
        assert cl.prop(PATH4, "Name") == ("(s)", ("VI_1",))
        # the methods keepalived offers answer (PrintStats writes the stats file); ReloadConfig
        # has the supervisor reload, which the child announces with VrrpReloaded
        assert cl.call("/org/keepalived/Vrrp1/Vrrp", "org.keepalived.Vrrp1.Vrrp",
                       "PrintStats").header.message_type.name == "method_return"
        reloads = Client(bus)
        try:
            reloads.conn.send_and_get_reply(message_bus.AddMatch(MatchRule(
                type="signal", interface="org.keepalived.Vrrp1.Vrrp", member="VrrpReloaded")),
                timeout=5)
            assert cl.call("/org/keepalived/Vrrp1/Vrrp", "org.keepalived.Vrrp1.Vrrp",
                           "ReloadConfig").header.message_type.name == "method_return"
            assert reloads.conn.receive(timeout=8).header.fields[
                jeepney.HeaderFields.member] == "VrrpReloaded"
        finally:
            reloads.close()
        pa.stop(signal.SIGKILL)
        t0 = time.monotonic()
        sig = watcher.conn.receive(timeout=8)
        while sig.body != (2,):
            sig = watcher.conn.receive(timeout=8 - (time.monotonic() - t0))
        assert sig.header.fields[jeepney.HeaderFields.path] == PATH4
        # the property and the kernel (ip addr) agree with the signal
        assert cl.prop(PATH4, "State") == ("(us)", (2, "Master"))
        assert wait_for(lambda: pb.has("192.0.2.100/24"), 3)
        pb.stop()
        sig = watcher.conn.receive(timeout=5)
        assert sig.body == (98,)             # keepalived's STOP on the way out
    finally:
        cl.close()
        watcher.close()


@pytest.mark.keepalived
def test_dbus_object_tree_matches_keepalived(lab: Lab, tmp_path: Path, bus: str) -> None:
    (a,) = lan_of(lab, 1, v6=True)
    trees = []
    for ours in (True, False):
        d = tmp_path / ("ours" if ours else "ka")
        d.mkdir()
        p = Peer(a, d, conf(100, version=3, advert="0.1", v6=True), ours=ours).start()
        cl = Client(bus)
        try:
            assert wait_for(cl.owned, 8), p.log()
            for path in (PATH4, PATH4.replace("51/IPv4", "52/IPv6")):
                assert wait_for(lambda c=cl, p=path: c.prop(p, "State") == ("(us)", (2, "Master")), 8)
            trees.append(cl.tree())
        finally:
            cl.close()
            p.stop()
        assert wait_for(lambda: not Client(bus).owned(), 5)
    ours_tree, ka_tree = trees
    assert ours_tree == ka_tree


def test_dbus_absent_bus_warns_once_and_vrrp_runs(lab: Lab, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    (a,) = lan_of(lab, 1)
    p = Peer(a, tmp_path, conf(100, version=3, advert="0.1")).start()
    assert wait_for(lambda: p.has("192.0.2.100/24"), 8), p.log()
    p.stop()
    log = p.log()
    assert log.count("D-Bus disabled") == 1, log
    assert "Traceback" not in log


assert KEEPALIVED
