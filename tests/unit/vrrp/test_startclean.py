"""vrrp/startclean.py: the addresses of an RTM_GETADDR dump, and which clean starts have
something to release (issue 16.1)."""
from __future__ import annotations

import ipaddress
import socket
import struct

from keepalived_py.config.model import VirtualAddress, VrrpInstance
from keepalived_py.vrrp import startclean as sc


def _rta(kind: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((-n) % 4)


def _newaddr(index: int, *addrs: tuple[int, bytes], family: int = socket.AF_INET,
             seq: int = 1) -> bytes:
    body = sc._IFADDR.pack(family, 24, 0, 0, index) + b"".join(_rta(k, v) for k, v in addrs)
    return sc._HDR.pack(16 + len(body), sc.RTM_NEWADDR, 2, seq, 0) + body


def _done() -> bytes:
    return sc._HDR.pack(20, sc.NLMSG_DONE, 2, 1, 0) + b"\0\0\0\0"


V4 = ipaddress.ip_address("192.0.2.1").packed
V6 = ipaddress.ip_address("2001:db8::1").packed


def test_the_dump_gives_every_address_with_its_interface() -> None:
    out: sc.Present = set()
    first = _newaddr(2, (sc.IFA_ADDRESS, V4), (sc.IFA_LOCAL, V4), (8, b"eth0\0"))
    assert sc.parse(first + _newaddr(3, (sc.IFA_ADDRESS, V6), family=socket.AF_INET6), out) \
        is None                                                  # more to come
    assert sc.parse(_done(), out) is True
    assert out == {(2, V4), (3, V6)}


def test_an_error_or_a_cut_message_is_not_a_dump() -> None:
    err = sc._HDR.pack(20, sc.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -1)
    assert sc.parse(err, set()) is False
    whole = _newaddr(2, (sc.IFA_LOCAL, V4))
    assert sc.parse(whole[:-3], set()) is False
    bad = sc._HDR.pack(8, sc.RTM_NEWADDR, 0, 1, 0)
    assert sc.parse(bad, set()) is False


def _inst(*vips: str, dev: str | None = None, **kw: object) -> VrrpInstance:
    return VrrpInstance(name="VI_1", interface="eth0", virtual_router_id=1,  # type: ignore[arg-type]
                        virtual_ipaddress=tuple(VirtualAddress(address=ipaddress.ip_interface(v),
                                                               dev=dev) for v in vips), **kw)


def _index(name: str) -> int | None:
    return {"eth0": 2, "eth1": 3}.get(name)


def test_only_an_instance_with_something_there_releases() -> None:
    found = {(2, ipaddress.ip_address("198.51.100.1").packed)}
    never: set[str] = set()
    assert not sc.must_release(_inst("198.51.100.2/32"), found, _index, never.__contains__)
    assert sc.must_release(_inst("198.51.100.1/24"), found, _index, never.__contains__)
    # the same address on another interface is not ours to release
    assert not sc.must_release(_inst("198.51.100.1/32", dev="eth1"), found, _index,
                               never.__contains__)
    # a device without an index, routes or a firewall entry: released as before
    assert sc.must_release(_inst("198.51.100.2/32", dev="nope"), found, _index,
                           never.__contains__)
    assert sc.must_release(_inst("198.51.100.2/32"), found, _index, {"VI_1"}.__contains__)


def test_the_dump_of_this_namespace_reads() -> None:
    """A real dump (read only): the loopback's 127.0.0.1 is in it."""
    found = sc.present()
    assert found is not None
    assert any(a == ipaddress.ip_address("127.0.0.1").packed for _, a in found)
