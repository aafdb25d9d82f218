"""The objects of keepalived's D-Bus service and their answers. Pure: no bus, no I/O.

Theory of operation. keepalived 2.2.7 (vrrp_dbus.c) owns `org.keepalived.Vrrp1` (or
`dbus_service_name`) on the system bus and exports

* one `org.keepalived.Vrrp1.Vrrp` object at `/org/keepalived/Vrrp1[/NAMESPACE]/Vrrp`: methods
  PrintData, PrintStats, PrintStatsClear, ReloadConfig; signals VrrpStarted, VrrpReloaded,
  VrrpStopped (CreateInstance/DestroyInstance exist only in builds configured with
  --enable-dbus-create-instance, which Debian's is not: they are not offered here either);
* one `org.keepalived.Vrrp1.Instance` object per VRRP instance at
  `.../Instance/IFNAME/VRID/IPv4|IPv6` (every character of IFNAME that is not a letter or a
  digit becomes `_`; an instance without an interface uses `none`), with the read-only
  properties Name and State, the method SendGarp and the signal VrrpStatusChange(u).

The answers are the binary's, including where they differ from its own introspection data:
the Name property is sent as the variant `(s)` (a one-string struct), not `s`, and State as
`(us)`: keepalived's state number and word (Init, Backup, Master, Fault, Stop).

`answer()` maps one method call to a `Reply` (a return body or an error) and the `Request`
the VRRP process must carry out (print data, reload...); the edge (service.py) does the I/O.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import field
from typing import Any

from keepalived_py.record import Record

SERVICE_NAME = "org.keepalived.Vrrp1"
ROOT = "/org/keepalived/Vrrp1"
VRRP_INTERFACE = "org.keepalived.Vrrp1.Vrrp"
INSTANCE_INTERFACE = "org.keepalived.Vrrp1.Instance"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"

UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"

#: keepalived's vrrp->state numbers (vrrp.h) and the words of its State property
STATE_CODES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "DELETED": 97, "STOP": 98}
STATE_WORDS = {"INIT": "Init", "BACKUP": "Backup", "MASTER": "Master", "FAULT": "Fault",
               "DELETED": "Deleted", "STOP": "Stop"}


class InstanceView(Record, kw_only=False):
    """What the D-Bus objects show of one VRRP instance."""

    name: str
    interface: str | None
    vrid: int
    family: int          # 4 or 6
    state: str           # machine.State value: "INIT", "BACKUP", "MASTER", "FAULT", "STOP"


class Request(enum.Enum):
    """What a method asks of the VRRP process (done by the edge after the reply is queued)."""

    PRINT_DATA = "print_data"
    PRINT_STATS = "print_stats"
    PRINT_STATS_CLEAR = "print_stats_clear"
    RELOAD = "reload"
    SEND_GARP = "send_garp"


class Reply(Record, kw_only=False):
    signature: str = ""
    body: tuple[Any, ...] = ()
    error: str | None = None                  # a D-Bus error name: the body is its message
    request: Request | None = None
    instance: str | None = None               # the instance a SEND_GARP is for


def path_component(name: str) -> str:
    """keepalived's set_valid_path(): a D-Bus path element has only [A-Za-z0-9_]."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name)


def base_path(namespace: str | None = None) -> str:
    return f"{ROOT}/{namespace}" if namespace else ROOT


def vrrp_path(namespace: str | None = None) -> str:
    return f"{base_path(namespace)}/Vrrp"


def instance_path(inst: InstanceView, namespace: str | None = None) -> str:
    family = {4: "IPv4", 6: "IPv6"}.get(inst.family, "None")
    return (f"{base_path(namespace)}/Instance/{path_component(inst.interface or 'none')}/"
            f"{inst.vrid}/{family}")


def state_code(state: str) -> int:
    return STATE_CODES.get(state, 0)


# -- introspection ----------------------------------------------------------------------------
# (kind, name, args) with args (name, type, direction); properties: (name, type)
_METHODS: dict[str, list[tuple[str, list[tuple[str, str, str]]]]] = {
    VRRP_INTERFACE: [("PrintData", []), ("PrintStats", []), ("PrintStatsClear", []),
                     ("ReloadConfig", [])],
    INSTANCE_INTERFACE: [("SendGarp", [])],
    PROPERTIES: [("Get", [("interface_name", "s", "in"), ("property_name", "s", "in"),
                          ("value", "v", "out")]),
                 ("GetAll", [("interface_name", "s", "in"), ("properties", "a{sv}", "out")]),
                 ("Set", [("interface_name", "s", "in"), ("property_name", "s", "in"),
                          ("value", "v", "in")])],
    INTROSPECTABLE: [("Introspect", [("xml_data", "s", "out")])],
    PEER: [("Ping", []), ("GetMachineId", [("machine_uuid", "s", "out")])],
}
_SIGNALS: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    VRRP_INTERFACE: [("VrrpStarted", []), ("VrrpReloaded", []), ("VrrpStopped", [])],
    INSTANCE_INTERFACE: [("VrrpStatusChange", [("status", "u")])],
    PROPERTIES: [("PropertiesChanged", [("interface_name", "s"), ("changed_properties", "a{sv}"),
                                        ("invalidated_properties", "as")])],
}
_PROPERTIES: dict[str, list[tuple[str, str]]] = {
    INSTANCE_INTERFACE: [("Name", "s"), ("State", "(us)")],
}
_STANDARD = (PROPERTIES, INTROSPECTABLE, PEER)

_DOCTYPE = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
            '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n')


def interface_xml(name: str, indent: str = "  ") -> list[str]:
    out = [f'{indent}<interface name="{name}">']
    for method, args in _METHODS.get(name, []):
        if not args:
            out.append(f'{indent}  <method name="{method}"/>')
            continue
        out.append(f'{indent}  <method name="{method}">')
        out += [f'{indent}    <arg type="{t}" name="{a}" direction="{d}"/>' for a, t, d in args]
        out.append(f"{indent}  </method>")
    for signal, sargs in _SIGNALS.get(name, []):
        if not sargs:
            out.append(f'{indent}  <signal name="{signal}"/>')
            continue
        out.append(f'{indent}  <signal name="{signal}">')
        out += [f'{indent}    <arg type="{t}" name="{a}"/>' for a, t in sargs]
        out.append(f"{indent}  </signal>")
    out += [f'{indent}  <property type="{t}" name="{p}" access="read"/>'
            for p, t in _PROPERTIES.get(name, [])]
    out.append(f"{indent}</interface>")
    return out


class ObjectTree(Record, kw_only=False, frozen=False):
    """The exported objects for the current instances: path -> interface (and instance)."""

    namespace: str | None = None
    objects: dict[str, str] = field(default_factory=dict)        # path -> own interface
    instances: dict[str, InstanceView] = field(default_factory=dict)   # path -> instance

    @classmethod
    def of(cls, instances: Iterable[InstanceView], namespace: str | None = None) -> ObjectTree:
        t = cls(namespace=namespace)
        t.objects[vrrp_path(namespace)] = VRRP_INTERFACE
        for i in instances:
            p = instance_path(i, namespace)
            t.objects.setdefault(p, INSTANCE_INTERFACE)
            t.instances.setdefault(p, i)    # two instances on one path: the first, as GDBus
        return t

    def children(self, path: str) -> list[str]:
        prefix = "/" if path == "/" else path + "/"
        names: list[str] = []
        for p in self.objects:
            if p.startswith(prefix):
                head = p[len(prefix):].split("/", 1)[0]
                if head not in names:
                    names.append(head)
        return names

    def exists(self, path: str) -> bool:
        return path in self.objects or bool(self.children(path))

    def introspect(self, path: str) -> str:
        out = [_DOCTYPE.rstrip("\n"), "<node>"]
        own = self.objects.get(path)
        if own is not None:
            for name in (*_STANDARD, own):
                out += interface_xml(name)
        out += [f'  <node name="{n}"/>' for n in self.children(path)]
        out.append("</node>")
        return "\n".join(out) + "\n"

    # -- one method call ------------------------------------------------------------------------
    def answer(self, path: str, interface: str | None, member: str, body: tuple[Any, ...],
               machine_id: str = "") -> Reply:
        """The reply to a method call (keepalived's/GDBus's errors for what does not exist)."""
        own = self.objects.get(path)
        if own is None:
            if self.exists(path) and interface in (INTROSPECTABLE, None) and member == "Introspect":
                return Reply("s", (self.introspect(path),))
            return _error(UNKNOWN_METHOD, f"Object does not exist at path \u201c{path}\u201d")
        if interface is None:          # no interface given: the first that has the member
            interface = next((i for i in (*_STANDARD, own)
                              if any(m == member for m, _ in _METHODS.get(i, []))), own)
        if interface not in (*_STANDARD, own):
            return _error(UNKNOWN_METHOD,
                          f"No such interface \u201c{interface}\u201d on object at path {path}")
        if interface == INTROSPECTABLE and member == "Introspect":
            return Reply("s", (self.introspect(path),))
        if interface == PEER:
            if member == "Ping":
                return Reply()
            if member == "GetMachineId":
                return Reply("s", (machine_id,))
        if interface == PROPERTIES:
            return self._properties(path, own, member, body)
        if interface == VRRP_INTERFACE:
            request = {"PrintData": Request.PRINT_DATA, "PrintStats": Request.PRINT_STATS,
                       "PrintStatsClear": Request.PRINT_STATS_CLEAR,
                       "ReloadConfig": Request.RELOAD}.get(member)
            if request is not None and not body:
                return Reply(request=request)
        if interface == INSTANCE_INTERFACE and member == "SendGarp" and not body:
            inst = self.instances.get(path)
            if inst is None:
                return _error(INVALID_ARGS, f"Instance '{path}' not found")
            return Reply(request=Request.SEND_GARP, instance=inst.name)
        if any(m == member for m, _ in _METHODS.get(interface, [])):
            return _error(INVALID_ARGS, f"Type of message \u201c{_sig(body)}\u201d does not"
                                        f" match expected type")
        return _error(UNKNOWN_METHOD, f"No such method \u201c{member}\u201d")

    def _properties(self, path: str, own: str, member: str, body: tuple[Any, ...]) -> Reply:
        if member == "Get" and len(body) == 2 and all(isinstance(b, str) for b in body):
            iface, prop = body
            if iface != own or prop not in dict(_PROPERTIES.get(own, [])):
                return _error(INVALID_ARGS, f"No such property \u201c{prop}\u201d")
            return Reply("v", (self._value(path, prop),))
        if member == "GetAll" and len(body) == 1 and isinstance(body[0], str):
            if body[0] != own:
                return _error(INVALID_ARGS, f"No such interface \u201c{body[0]}\u201d")
            return Reply("a{sv}", ({p: self._value(path, p) for p, _ in _PROPERTIES.get(own, [])},))
        if member == "Set" and len(body) == 3:
            return _error(INVALID_ARGS, f"Property \u201c{body[1]}\u201d is not writable")
        if member in ("Get", "GetAll", "Set"):
            return _error(INVALID_ARGS, f"Type of message \u201c{_sig(body)}\u201d does not"
                                        f" match expected type")
        return _error(UNKNOWN_METHOD, f"No such method \u201c{member}\u201d")

    def _value(self, path: str, prop: str) -> tuple[str, Any]:
        inst = self.instances[path]
        if prop == "Name":
            return ("(s)", (inst.name,))          # sic: keepalived sends a struct
        return ("(us)", (state_code(inst.state), STATE_WORDS.get(inst.state, "Unknown")))


def _error(name: str, message: str) -> Reply:
    return Reply("s", (message,), error=name)


def _sig(body: tuple[Any, ...]) -> str:
    return "(" + "".join("s" if isinstance(b, str) else "?" for b in body) + ")"
