"""VRRP advertisements: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798/9568), IPv4 and IPv6. Pure.

Wire format (RFC 5798 §5.1; v2 differs where noted):
    0: version(4) | type(4)          version 2 or 3, type 1 = ADVERTISEMENT
    1: virtual router id
    2: priority
    3: count of addresses
    4: v3: rsvd(4) | max advert interval in centiseconds (12)
       v2: auth type (8) | advert interval in seconds (8)
    6: checksum
    8: addresses (4 or 16 bytes each), then for v2 8 bytes of authentication data
Checksums as keepalived computes them: v2 over the VRRP message only; v3 over an IPv4/IPv6
pseudo-header (source, destination, protocol 112, length) and the message — unless
`v3_checksum_as_v2` (keepalived's vrrp_checksum_compat / old_unicast_checksum) is set, and a
v3 IPv4 packet whose checksum only matches the v2 way is still accepted (counted), as
keepalived accepts the pre-1.3.6 form.
"""
from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from keepalived_py.errors import KeepalivedError

IPPROTO_VRRP = 112
ADVERTISEMENT = 1
HEADER_LEN = 8
AUTH_LEN = 8                     # RFC 3768 §5.3.10
AUTH_NONE, AUTH_PASS, AUTH_AH = 0, 1, 2
MCAST4 = ipaddress.IPv4Address("224.0.0.18")     # RFC 5798 §5.1.1.2
MCAST6 = ipaddress.IPv6Address("ff02::12")       # RFC 5798 §5.1.2.2
VRRP_TTL = 255

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Reason(enum.Enum):
    """Why a packet was dropped."""

    PACKET_TOO_SHORT = "packet_too_short"
    BAD_LENGTH = "bad_length"
    BAD_VERSION = "bad_version"
    BAD_TYPE = "bad_type"
    BAD_CHECKSUM = "bad_checksum"
    BAD_TTL = "bad_ttl"
    BAD_VRID = "bad_vrid"
    BAD_ADDR_COUNT = "bad_addr_count"
    BAD_AUTH_TYPE = "bad_auth_type"
    AUTH_TYPE_MISMATCH = "auth_type_mismatch"
    AUTH_FAILURE = "auth_failure"
    BAD_INTERVAL = "bad_interval"
    BAD_IP_HEADER = "bad_ip_header"

    @property
    def counter(self) -> str:
        """The keepalived stats counter (keepalived.stats / JSON) this drop is counted in."""
        return _COUNTERS[self]


_COUNTERS = {
    Reason.PACKET_TOO_SHORT: "packet_len_err", Reason.BAD_LENGTH: "packet_len_err",
    Reason.BAD_VERSION: "version_err", Reason.BAD_TYPE: "invalid_type_rcvd",
    Reason.BAD_CHECKSUM: "chk_err", Reason.BAD_TTL: "ip_ttl_err", Reason.BAD_VRID: "vrid_err",
    Reason.BAD_ADDR_COUNT: "addr_list_err", Reason.BAD_AUTH_TYPE: "invalid_authtype",
    Reason.AUTH_TYPE_MISMATCH: "authtype_mismatch", Reason.AUTH_FAILURE: "auth_failure",
    Reason.BAD_INTERVAL: "advert_interval_err", Reason.BAD_IP_HEADER: "packet_len_err",
}


class DecodeError(KeepalivedError):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.counter}: {detail}" if detail else reason.counter)


@dataclass(frozen=True, slots=True)
class Advert:
    version: int
    vrid: int
    priority: int
    addresses: tuple[Address, ...]
    interval: float                 # seconds (v2: whole seconds; v3: centisecond precision)
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""
    checksum_compat: bool = False   # v3 packet accepted with a v2-style checksum


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo(src: Address, dst: Address, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)


def encode(adv: Advert, src: Address | None = None, dst: Address | None = None, *,
           v3_checksum_as_v2: bool = False) -> bytes:
    """The VRRP payload (what a raw IP socket sends). v3 needs src and dst for its checksum."""
    count = len(adv.addresses)
    if adv.version == 2:
        word = (adv.auth_type << 8) | (int(adv.interval) & 0xFF)
    else:
        word = round(adv.interval * 100) & 0x0FFF
    body = bytearray(struct.pack("!BBBBHH", (adv.version << 4) | ADVERTISEMENT, adv.vrid,
                                 adv.priority, count, word, 0))
    for a in adv.addresses:
        body += a.packed
    if adv.version == 2:
        body += adv.auth_data.ljust(AUTH_LEN, b"\0")[:AUTH_LEN]
    if adv.version == 3 and not v3_checksum_as_v2:
        if src is None or dst is None:
            raise ValueError("VRRPv3 checksum needs the source and destination addresses")
        csum = checksum(_pseudo(src, dst, len(body)) + bytes(body))
    else:
        csum = checksum(bytes(body))
    struct.pack_into("!H", body, 6, csum)
    return bytes(body)


def decode(data: bytes, *, family: int, src: Address | None = None, dst: Address | None = None
           ) -> Advert:
    """Parse a VRRP payload. Raises DecodeError (and nothing else) for any bad input."""
    if len(data) < HEADER_LEN:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{len(data)} bytes")
    ver_type, vrid, priority, count, word, _csum = struct.unpack_from("!BBBBHH", data)
    version, ptype = ver_type >> 4, ver_type & 0x0F
    if version not in (2, 3):                                   # RFC 5798 §5.2.1
        raise DecodeError(Reason.BAD_VERSION, f"version {version}")
    if ptype != ADVERTISEMENT:                                  # RFC 5798 §5.2.2
        raise DecodeError(Reason.BAD_TYPE, f"type {ptype}")
    if vrid == 0:
        raise DecodeError(Reason.BAD_VRID, "VRID 0")
    alen = 4 if family == 4 else 16
    if version == 2 and family == 6:
        raise DecodeError(Reason.BAD_VERSION, "VRRPv2 over IPv6")
    need = HEADER_LEN + count * alen + (AUTH_LEN if version == 2 else 0)
    if count == 0 and version == 3 and family == 4 and len(data) != need:
        raise DecodeError(Reason.BAD_ADDR_COUNT, "no addresses")
    if len(data) < need:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{len(data)} bytes, {need} needed")
    if len(data) > need:
        raise DecodeError(Reason.BAD_LENGTH, f"{len(data)} bytes, {need} expected")
    compat = False
    if version == 2:
        if checksum(data) != 0:
            raise DecodeError(Reason.BAD_CHECKSUM)
    else:
        if src is None or dst is None:
            raise DecodeError(Reason.BAD_CHECKSUM, "no addresses for the pseudo-header")
        if checksum(_pseudo(src, dst, len(data)) + data) != 0:
            if family == 4 and checksum(data) == 0:
                compat = True                        # keepalived's pre-1.3.6 v3 checksum
            else:
                raise DecodeError(Reason.BAD_CHECKSUM)
    addrs: list[Address] = []
    off = HEADER_LEN
    for _ in range(count):
        raw = data[off: off + alen]
        addrs.append(ipaddress.IPv4Address(raw) if alen == 4 else ipaddress.IPv6Address(raw))
        off += alen
    if version == 2:
        auth_type, interval = word >> 8, float(word & 0xFF)
        auth = data[off: off + AUTH_LEN]
        if auth_type not in (AUTH_NONE, AUTH_PASS, AUTH_AH):
            raise DecodeError(Reason.BAD_AUTH_TYPE, f"auth type {auth_type}")
        if interval == 0:
            raise DecodeError(Reason.BAD_INTERVAL, "interval 0")
        return Advert(2, vrid, priority, tuple(addrs), interval, auth_type, auth)
    interval = (word & 0x0FFF) / 100
    if interval == 0:
        raise DecodeError(Reason.BAD_INTERVAL, "interval 0")
    return Advert(3, vrid, priority, tuple(addrs), interval, checksum_compat=compat)


def decode_ipv4(packet: bytes) -> tuple[int, ipaddress.IPv4Address, ipaddress.IPv4Address, bytes]:
    """A raw IPv4 socket's read: (ttl, source, destination, payload). Raises DecodeError."""
    if len(packet) < 20:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{len(packet)} bytes of IPv4")
    vihl, _tos, total = struct.unpack_from("!BBH", packet)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or len(packet) < ihl:
        raise DecodeError(Reason.BAD_IP_HEADER, "not IPv4")
    ttl, proto = packet[8], packet[9]
    if proto != IPPROTO_VRRP:
        raise DecodeError(Reason.BAD_IP_HEADER, f"protocol {proto}")
    src = ipaddress.IPv4Address(packet[12:16])
    dst = ipaddress.IPv4Address(packet[16:20])
    end = min(len(packet), total) if total >= ihl else len(packet)
    return ttl, src, dst, packet[ihl:end]
