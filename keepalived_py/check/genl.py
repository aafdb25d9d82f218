"""Raw generic netlink (linux/netlink.h, linux/genetlink.h): attributes, one blocking request
at a time on a NETLINK_GENERIC socket of its own, a family resolved by name; and whether the
kernel has IPVS (issue 16.3).

The checker child asks `ipvs_available()` at every start with `dataplane auto` (the default).
That question is one CTRL_CMD_GETFAMILY request for the family "IPVS" — the request the
kernel answers by autoloading ip_vs where it is a module, as keepalived's libipvs and
pyroute2's IPVS socket send it too — so a host without IPVS (the nftables dataplane) never
imports pyroute2 (about 10 MiB of the checker child's memory), and one with IPVS imports its
IPVS API only for the dataplane itself (check/ipvs.py). What pyroute2 has no message for
(the sync daemon, timeouts, flush) is encoded on top of this module by check/ipvs.py
`IpvsControl`.
"""
from __future__ import annotations

import os
import socket
import struct

NETLINK_GENERIC = 16
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
NLA_F_NESTED = 0x8000
TIMEOUT = 10.0              # a kernel answer, seconds (a module autoload included)


class GenlError(OSError):
    """A kernel NLMSG_ERROR answer (errno in .errno / .code, as pyroute2's NetlinkError)."""

    @property
    def code(self) -> int:
        return self.errno or 0


def nla(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    head = struct.pack("=HH", 4 + len(payload), kind)
    return head + payload + b"\0" * (-len(payload) % 4)


def parse_nlas(data: bytes) -> dict[int, bytes]:
    """Attributes by type (NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off); a truncated
    attribute ends the list."""
    out: dict[int, bytes] = {}
    i = 0
    while i + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, i)
        if length < 4 or i + length > len(data):
            break
        out[kind & 0x3FFF] = data[i + 4:i + length]
        i += (length + 3) & ~3
    return out


class GenlSocket:
    """Blocking requests to one generic netlink family (`name`, by default the class's
    FAMILY, resolved on `open`)."""

    FAMILY = b""

    def __init__(self, name: bytes | None = None) -> None:
        self.name = name if name is not None else self.FAMILY
        self.sock: socket.socket | None = None
        self.family = 0
        self.seq = 0

    def open(self) -> None:
        """Bind and resolve the family; OSError (GenlError ENOENT) when the kernel has none
        of that name."""
        if self.sock is not None:
            return
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                          NETLINK_GENERIC)
        try:
            s.bind((0, 0))
            s.settimeout(TIMEOUT)
            self.sock = s
            self.family = self.resolve(self.name)
        except BaseException:
            self.close()
            raise

    def resolve(self, name: bytes) -> int:
        """The id of the family `name` (CTRL_CMD_GETFAMILY); OSError when there is none."""
        reply = self._request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                              nla(CTRL_ATTR_FAMILY_NAME, name + b"\0"), version=1)
        fid = parse_nlas(reply[0]).get(CTRL_ATTR_FAMILY_ID) if reply else None
        if fid is None or len(fid) < 2:
            raise GenlError(2, f"no {name.decode(errors='replace')} generic netlink family")
        return int(struct.unpack_from("=H", fid)[0])

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _request(self, kind: int, cmd: int, attrs: bytes = b"", dump: bool = False,
                 version: int = 1) -> list[bytes]:
        """Send one request; the attributes of each answer (after the genl header). Raises
        GenlError with the kernel's errno."""
        assert self.sock is not None
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, 0) + attrs
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, flags, self.seq, 0) + body)
        out: list[bytes] = []
        while True:
            data = self.sock.recv(65536)
            i = 0
            while i + 16 <= len(data):
                length, mtype, _flags, seq, _pid = struct.unpack_from("=IHHII", data, i)
                if length < 16:
                    return out
                msg = data[i + 16:i + length]
                i += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", msg)[0] if len(msg) >= 4 else 0
                    if code:
                        raise GenlError(code, os.strerror(code))
                    return out
                if mtype == NLMSG_DONE:
                    return out
                out.append(msg[4:])
            if not dump and out:
                return out

    def request(self, cmd: int, attrs: bytes = b"", dump: bool = False) -> list[bytes]:
        """One request to the family (opened first if need be)."""
        self.open()
        return self._request(self.family, cmd, attrs, dump)


def has_family(name: bytes) -> bool:
    """Does the kernel have the generic netlink family `name`? False too when netlink
    itself is unusable here (no error: the caller chooses what to do without it)."""
    probe = GenlSocket(name)
    try:
        probe.open()
    except (OSError, struct.error):
        return False
    finally:
        probe.close()
    return True


async def ipvs_available() -> bool:
    """Does this kernel have IPVS (the generic netlink family "IPVS")? One kernel round trip,
    without pyroute2."""
    return has_family(b"IPVS")
