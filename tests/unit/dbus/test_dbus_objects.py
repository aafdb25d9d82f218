"""keepalived's D-Bus objects and answers (keepalived_py/dbus/objects.py), no bus needed."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from keepalived_py.dbus import objects as o

VI_1 = o.InstanceView("VI_1", "eth0", 51, 4, "MASTER")
VI_6 = o.InstanceView("VI_6", "br-lan.10", 52, 6, "BACKUP")
UNI = o.InstanceView("U", None, 7, 4, "FAULT")


def tree(ns: str | None = None) -> o.ObjectTree:
    return o.ObjectTree.of([VI_1, VI_6, UNI], ns)


@pytest.mark.parametrize(("inst", "ns", "path"), [
    (VI_1, None, "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"),
    (VI_6, None, "/org/keepalived/Vrrp1/Instance/br_lan_10/52/IPv6"),
    (UNI, None, "/org/keepalived/Vrrp1/Instance/none/7/IPv4"),
    (VI_1, "blue", "/org/keepalived/Vrrp1/blue/Instance/eth0/51/IPv4"),
])
def test_instance_path_follows_keepalived_layout(inst: o.InstanceView, ns: str | None,
                                                 path: str) -> None:
    assert o.instance_path(inst, ns) == path


def test_vrrp_path_with_and_without_namespace() -> None:
    assert o.vrrp_path() == "/org/keepalived/Vrrp1/Vrrp"
    assert o.vrrp_path("blue") == "/org/keepalived/Vrrp1/blue/Vrrp"


def test_properties_are_sent_as_keepalived_sends_them() -> None:
    t = tree()
    p = o.instance_path(VI_1)
    assert t.answer(p, o.PROPERTIES, "Get", (o.INSTANCE_INTERFACE, "Name")) == \
        o.Reply("v", (("(s)", ("VI_1",)),))
    assert t.answer(p, o.PROPERTIES, "Get", (o.INSTANCE_INTERFACE, "State")) == \
        o.Reply("v", (("(us)", (2, "Master")),))
    all_ = t.answer(o.instance_path(UNI), o.PROPERTIES, "GetAll", (o.INSTANCE_INTERFACE,))
    assert all_.body == ({"Name": ("(s)", ("U",)), "State": ("(us)", (3, "Fault"))},)


@pytest.mark.parametrize(("state", "code"), [("INIT", 0), ("BACKUP", 1), ("MASTER", 2),
                                             ("FAULT", 3), ("STOP", 98)])
def test_state_codes_are_keepalived_numbers(state: str, code: int) -> None:
    assert o.state_code(state) == code


@pytest.mark.parametrize(("member", "request_"), [
    ("PrintData", o.Request.PRINT_DATA), ("PrintStats", o.Request.PRINT_STATS),
    ("PrintStatsClear", o.Request.PRINT_STATS_CLEAR), ("ReloadConfig", o.Request.RELOAD)])
def test_vrrp_methods_return_empty_and_request_the_action(member: str,
                                                          request_: o.Request) -> None:
    r = tree().answer(o.vrrp_path(), o.VRRP_INTERFACE, member, ())
    assert r.error is None and r.body == () and r.request is request_


def test_send_garp_names_the_instance() -> None:
    r = tree().answer(o.instance_path(VI_6), o.INSTANCE_INTERFACE, "SendGarp", ())
    assert r.request is o.Request.SEND_GARP and r.instance == "VI_6"


@pytest.mark.parametrize(("path", "iface", "member", "body", "error"), [
    ("/org/keepalived/Vrrp1/Instance/eth0/53/IPv4", o.PROPERTIES, "Get",
     (o.INSTANCE_INTERFACE, "Name"), o.UNKNOWN_METHOD),
    (o.vrrp_path(), o.VRRP_INTERFACE, "CreateInstance", ("x", "eth0", 9, 4), o.UNKNOWN_METHOD),
    (o.vrrp_path(), o.VRRP_INTERFACE, "DestroyInstance", ("x",), o.UNKNOWN_METHOD),
    (o.vrrp_path(), "org.example.Nope", "PrintData", (), o.UNKNOWN_METHOD),
    (o.instance_path(VI_1), o.PROPERTIES, "Get", (o.INSTANCE_INTERFACE, "Priority"),
     o.INVALID_ARGS),
    (o.instance_path(VI_1), o.PROPERTIES, "Set", (o.INSTANCE_INTERFACE, "Name", ("s", "x")),
     o.INVALID_ARGS),
    (o.instance_path(VI_1), o.PROPERTIES, "Get", (1, 2), o.INVALID_ARGS),
    (o.vrrp_path(), o.VRRP_INTERFACE, "PrintData", ("extra",), o.INVALID_ARGS),
])
def test_bad_calls_get_gdbus_errors_and_no_action(path: str, iface: str, member: str,
                                                  body: tuple[object, ...], error: str) -> None:
    r = tree().answer(path, iface, member, body)
    assert r.error == error and r.request is None
    assert r.signature == "s" and isinstance(r.body[0], str)


def test_introspection_lists_children_and_interfaces() -> None:
    t = tree()
    root = ET.fromstring(t.introspect("/").split("\n", 2)[2])
    assert [n.get("name") for n in root.findall("node")] == ["org"]
    assert root.findall("interface") == []
    inst = ET.fromstring(t.introspect(o.instance_path(VI_1)).split("\n", 2)[2])
    assert [i.get("name") for i in inst.findall("interface")] == [
        o.PROPERTIES, o.INTROSPECTABLE, o.PEER, o.INSTANCE_INTERFACE]
    iface = inst.findall("interface")[-1]
    assert [(p.get("name"), p.get("type")) for p in iface.findall("property")] == [
        ("Name", "s"), ("State", "(us)")]
    sig = iface.find("signal")
    assert sig is not None and sig.get("name") == "VrrpStatusChange"
    base = ET.fromstring(t.introspect("/org/keepalived/Vrrp1").split("\n", 2)[2])
    assert sorted(n.get("name") or "" for n in base.findall("node")) == ["Instance", "Vrrp"]
    # an intermediate node answers Introspect, nothing else
    assert t.answer("/org/keepalived", o.INTROSPECTABLE, "Introspect", ()).error is None
    assert t.answer("/org/keepalived", o.PEER, "Ping", ()).error == o.UNKNOWN_METHOD


def test_two_instances_on_one_path_export_the_first() -> None:
    twin = o.InstanceView("VI_twin", "eth0", 51, 4, "BACKUP")
    t = o.ObjectTree.of([VI_1, twin])
    r = t.answer(o.instance_path(VI_1), o.PROPERTIES, "Get", (o.INSTANCE_INTERFACE, "Name"))
    assert r.body == (("(s)", ("VI_1",)),)
