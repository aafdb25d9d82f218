"""vrrp/addresses.py's own rtnetlink messages (issue 16): the address requests it builds and
the link/address events it reads, byte for byte against the kernel's layouts."""
from __future__ import annotations

import ipaddress
import socket
import struct

from keepalived_py.config.model import VirtualAddress
from keepalived_py.vrrp.addresses import (
    IFA_F_NODAD,
    RTM_DELADDR,
    RTM_NEWADDR,
    RTM_NEWLINK,
    address_request,
    parse_events,
)


def _attrs(body: bytes, start: int) -> dict[int, bytes]:
    out = {}
    off = start
    while off + 4 <= len(body):
        n, kind = struct.unpack_from("=HH", body, off)
        out[kind] = body[off + 4:off + n]
        off += (n + 3) & ~3
    return out


def test_ipv4_add_has_local_address_broadcast_label() -> None:
    a = VirtualAddress(address=ipaddress.ip_interface("192.0.2.10/24"),
                       brd=ipaddress.ip_address("192.0.2.255"), label="eth0:1", scope="link")
    body = address_request(True, a, 7)
    family, plen, flags, scope, index = struct.unpack_from("=BBBBi", body)
    assert (family, plen, flags, scope, index) == (socket.AF_INET, 24, 0, 253, 7)
    attrs = _attrs(body, 8)
    assert attrs[1] == attrs[2] == bytes([192, 0, 2, 10])        # IFA_ADDRESS, IFA_LOCAL
    assert attrs[4] == bytes([192, 0, 2, 255])                   # IFA_BROADCAST
    assert attrs[3] == b"eth0:1\0"                               # IFA_LABEL
    assert 8 not in attrs                                        # no IFA_FLAGS


def test_ipv6_add_is_nodad_and_delete_has_no_flags() -> None:
    a = VirtualAddress(address=ipaddress.ip_interface("2001:db8::10/64"))
    add = _attrs(address_request(True, a, 3), 8)
    assert add[1] == ipaddress.ip_address("2001:db8::10").packed and 2 not in add
    assert struct.unpack("=I", add[8])[0] == IFA_F_NODAD
    assert 8 not in _attrs(address_request(False, a, 3), 8)


def test_peer_address_is_ifa_address() -> None:
    a = VirtualAddress(address=ipaddress.ip_interface("192.0.2.1/32"),
                       peer=ipaddress.ip_interface("192.0.2.2/32"))
    attrs = _attrs(address_request(True, a, 2), 8)
    assert attrs[2] == bytes([192, 0, 2, 1]) and attrs[1] == bytes([192, 0, 2, 2])


def _msg(kind: int, body: bytes) -> bytes:
    n = 16 + len(body)
    return struct.pack("=IHHII", n, kind, 0, 0, 0) + body + b"\0" * (-n & 3)


def _rta(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * (-n & 3)


def test_events_parse_as_the_daemon_reads_them() -> None:
    addr = _msg(RTM_DELADDR, struct.pack("=BBBBi", socket.AF_INET, 32, 0, 0, 5)
                + _rta(2, bytes([198, 51, 100, 1])) + _rta(1, bytes([198, 51, 100, 1])))
    link = _msg(RTM_NEWLINK, struct.pack("=BxHiII", 0, 1, 5, 0x41, 0) + _rta(3, b"eth0\0"))
    other = _msg(24, b"\0" * 12)                                 # RTM_NEWROUTE: skipped
    v6 = _msg(RTM_NEWADDR, struct.pack("=BBBBi", socket.AF_INET6, 64, 0, 0, 6)
              + _rta(1, ipaddress.ip_address("2001:db8::5").packed))
    msgs = parse_events(addr + other + link + v6 + b"\x01\x02")  # a torn tail is ignored
    assert [m.get("event") for m in msgs] == ["RTM_DELADDR", "RTM_NEWLINK", "RTM_NEWADDR"]
    assert msgs[0].get("index") == 5 and msgs[0].get_attr("IFA_LOCAL") == "198.51.100.1"
    assert msgs[1].get_attr("IFLA_IFNAME") == "eth0" and msgs[1].get("flags", 0) == 0x41
    assert msgs[2].get_attr("IFA_ADDRESS") == "2001:db8::5"
    assert msgs[2].get_attr("IFA_LOCAL") is None


def test_hostile_lengths_end_the_parse() -> None:
    assert parse_events(struct.pack("=IHHII", 8, RTM_NEWADDR, 0, 0, 0)) == []
    bad_attr = _msg(RTM_NEWADDR, struct.pack("=BBBBi", socket.AF_INET, 32, 0, 0, 1)
                    + struct.pack("=HH", 200, 1))
    msgs = parse_events(bad_attr)
    assert len(msgs) == 1 and msgs[0].get_attr("IFA_ADDRESS") is None
