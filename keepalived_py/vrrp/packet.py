"""VRRP advertisements: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798/9568), IPv4 and IPv6. Pure.

Wire format (RFC 5798 §5.1; RFC 3768 §5.1 where v2 differs):
    0: version(4) | type(4)          version 2 or 3, type 1 = ADVERTISEMENT
    1: virtual router id             1..255
    2: priority                      0 = the master stops, 255 = the address owner
    3: count of addresses
    4: v3: rsvd(4) | max advert interval in centiseconds (12 bits)
       v2: auth type (8) | advert interval in whole seconds (8)
    6: checksum
    8: addresses (4 or 16 bytes each), then for v2 over IPv4 8 bytes of authentication data
       (keepalived sends none for v2 over IPv6)

Checksums, as keepalived 2.2.7 computes and checks them (`ChecksumForm`):
  * v2: the Internet checksum over the VRRP message alone (RFC 3768 §5.3.8); over IPv6
    (keepalived runs v2 there when `version 2` is configured) the pseudo-header form, as
    the kernel computes it for keepalived's IPV6_CHECKSUM socket.
  * v3: over an IPv4/IPv6 pseudo-header (source, destination, protocol 112, length) and the
    message (RFC 5798 §5.2.8) - STANDARD.
  * v3 over IPv4 unicast, keepalived <= 1.3.6 (`old_unicast_checksum`): the pseudo-header
    carries the multicast group (224.0.0.18) in place of the unicast destination -
    OLD_UNICAST. keepalived still accepts it and then switches its own sending to it.
  * `v3_checksum_as_v2`: a v3 message checksummed like v2 (no pseudo-header) - AS_V2.
`decode` verifies the checksum in the STANDARD form and, failing that, in the other forms;
the form that matched is in `Advert.checksum_form`, and the instance (machine.py) decides
whether its configuration accepts it. For IPv6 the kernel verifies the checksum on a raw
socket with IPV6_CHECKSUM set; decode still checks it when given the addresses.

Errors: `decode` and `decode_ipv4_packet` raise only `DecodeError(reason, detail)`; every
`Reason` maps to one keepalived stats counter (`Reason.counter`).

Performance: `AdvertCache` keeps one encoded payload per priority for a fixed (template,
source, destination, checksum form), so an advert costs a dict lookup.
"""
from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import replace

from keepalived_py.address import IPAddress as Address
from keepalived_py.errors import KeepalivedError
from keepalived_py.record import Record
from keepalived_py.vrrp.stats import DROP_KEYS

IPPROTO_VRRP = 112                               # RFC 5798 §5.1.1.4
ADVERTISEMENT = 1                                # RFC 5798 §5.2.2
HEADER_LEN = 8                                   # RFC 5798 §5.2
AUTH_LEN = 8                                     # RFC 3768 §5.3.10
AUTH_NONE, AUTH_PASS, AUTH_AH = 0, 1, 2          # RFC 3768 §5.3.6 (AH and PASS: RFC 2338)
MCAST4 = ipaddress.IPv4Address("224.0.0.18")     # RFC 5798 §5.1.1.2
MCAST6 = ipaddress.IPv6Address("ff02::12")       # RFC 5798 §5.1.2.2
VRRP_TTL = 255                                   # RFC 5798 §5.1.1.3
PRIO_STOP, PRIO_OWNER = 0, 255                   # RFC 5798 §5.2.4
MAX_V3_INTERVAL_CS = 0x0FFF                      # RFC 5798 §5.2.7: 12 bits of centiseconds
IPV4_HEADER_LEN = 20



class Reason(enum.Enum):
    """Why a packet was dropped. `.counter` is keepalived's stats counter for it."""

    PACKET_TOO_SHORT = "packet_too_short"      # truncated (incl. fewer bytes than the count says)
    BAD_LENGTH = "bad_length"                  # oversized, or IP total length disagrees
    BAD_VERSION = "bad_version"                # not 2/3, v2 over IPv6, or not our version
    BAD_TYPE = "bad_type"                      # not ADVERTISEMENT
    BAD_CHECKSUM = "bad_checksum"
    BAD_TTL = "bad_ttl"                        # multicast TTL/hop limit != 255
    BAD_VRID = "bad_vrid"                      # VRID 0 or not ours
    BAD_ADDR_COUNT = "bad_addr_count"          # address count not ours
    BAD_ADDR_LIST = "bad_addr_list"            # count or addresses differ from ours
    BAD_CAST = "bad_cast"                      # multicast on a unicast instance or vice versa
    BAD_AUTH_TYPE = "bad_auth_type"            # v2 auth type not 0/1/2
    AUTH_TYPE_MISMATCH = "auth_type_mismatch"  # v2 auth type not ours
    AUTH_FAILURE = "auth_failure"              # v2 PASS password differs
    BAD_INTERVAL = "bad_interval"              # interval 0, or v2 interval not ours
    BAD_IP_HEADER = "bad_ip_header"            # not IPv4, bad IHL, not protocol 112
    UNKNOWN_PEER = "unknown_peer"              # unicast source not a unicast_peer

    @property
    def counter(self) -> str:
        """The keepalived stats counter (keepalived.stats / JSON / SNMP) it is counted in."""
        return _COUNTERS[self]


_COUNTERS = {
    Reason.PACKET_TOO_SHORT: "packet_len_err", Reason.BAD_LENGTH: "packet_len_err",
    Reason.BAD_VERSION: "vers_err", Reason.BAD_TYPE: "invalid_type_rcvd",
    Reason.BAD_CHECKSUM: "chk_err", Reason.BAD_TTL: "ip_ttl_err", Reason.BAD_VRID: "vrid_err",
    Reason.BAD_ADDR_COUNT: "addr_list_err", Reason.BAD_ADDR_LIST: "addr_list_err",
    Reason.BAD_CAST: "addr_list_err", Reason.BAD_AUTH_TYPE: "invalid_authtype",
    Reason.AUTH_TYPE_MISMATCH: "authtype_mismatch", Reason.AUTH_FAILURE: "auth_failure",
    Reason.BAD_INTERVAL: "advert_interval_err", Reason.BAD_IP_HEADER: "packet_len_err",
    Reason.UNKNOWN_PEER: "unicast_src_err",      # keepalived logs it without a counter
}

#: every counter a `Reason` can land in, in keepalived's dump order (vrrp/stats.py)
DROP_COUNTERS = DROP_KEYS


class DecodeError(KeepalivedError):
    """A packet we drop. `reason` names the counter; `detail` is for the log line."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class ChecksumForm(enum.Enum):
    STANDARD = "standard"         # v2: message only; v3: pseudo-header + message
    OLD_UNICAST = "old_unicast"   # v3 IPv4: pseudo-header with the multicast group as dst
    AS_V2 = "as_v2"               # v3: message only, like v2


class Advert(Record, kw_only=False):
    version: int
    vrid: int
    priority: int
    addresses: tuple[Address, ...]
    interval: float                 # seconds (v2: whole seconds; v3: centisecond precision)
    auth_type: int = AUTH_NONE      # v2 only
    auth_data: bytes = b""          # v2 only: 8 bytes on the wire (NUL padded); b"" if none
    checksum_form: ChecksumForm = ChecksumForm.STANDARD

    @property
    def checksum_compat(self) -> bool:
        """Accepted with a checksum other than the standard one."""
        return self.checksum_form is not ChecksumForm.STANDARD


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The Internet checksum (RFC 1071) of `data`, continuing a ones-complement sum."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    total: int = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_sum(src: Address, dst: Address, length: int) -> int:
    """The ones-complement sum (not yet folded and inverted) of the pseudo-header."""
    if src.version == 4:
        raw = src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    else:                                          # RFC 8200 §8.1
        raw = src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)
    return sum(struct.unpack(f"!{len(raw) // 2}H", raw))


def _csum(body: bytes | bytearray, version: int, form: ChecksumForm, src: Address | None,
          dst: Address | None, mcast_group: Address | None) -> int:
    if form is ChecksumForm.AS_V2 or version == 2 and (src is None or src.version == 4):
        return checksum(body)
    if src is None or dst is None:
        raise ValueError("the VRRPv3 checksum needs the source and destination addresses")
    if form is ChecksumForm.OLD_UNICAST and src.version == 4:
        dst = mcast_group if mcast_group is not None else MCAST4
    return checksum(body, _pseudo_sum(src, dst, len(body)))


def _interval_word(adv: Advert) -> int:
    if adv.version == 2:
        return (adv.auth_type << 8) | (int(adv.interval) & 0xFF)
    return min(MAX_V3_INTERVAL_CS, max(0, round(adv.interval * 100)))


def encode(adv: Advert, src: Address | None = None, dst: Address | None = None, *,
           form: ChecksumForm | None = None, v3_checksum_as_v2: bool = False,
           mcast_group: Address | None = None) -> bytes:
    """The VRRP payload (what a raw IP socket sends), checksum included.

    v3 needs `src` and `dst` for the pseudo-header (raises ValueError without them) unless
    the form is AS_V2. `form` defaults to `adv.checksum_form` (AS_V2 if
    `v3_checksum_as_v2`). `mcast_group` is the pseudo-header destination of OLD_UNICAST.
    """
    if form is None:
        form = ChecksumForm.AS_V2 if v3_checksum_as_v2 else adv.checksum_form
    body = bytearray(struct.pack("!BBBBHH", (adv.version << 4) | ADVERTISEMENT, adv.vrid,
                                 adv.priority, len(adv.addresses), _interval_word(adv), 0))
    for a in adv.addresses:
        body += a.packed
    v6 = src.version == 6 if src is not None else any(a.version == 6 for a in adv.addresses)
    if adv.version == 2 and not v6:
        body += adv.auth_data.ljust(AUTH_LEN, b"\0")[:AUTH_LEN]
    struct.pack_into("!H", body, 6, _csum(body, adv.version, form, src, dst, mcast_group))
    return bytes(body)


def peek_vrid(data: bytes) -> int | None:
    """The VRID byte of a VRRP payload, to find the instance before a full decode."""
    return data[1] if len(data) >= 2 else None


_MEMO: dict[tuple[bytes, int, Address | None, Address | None, Address | None, bool], Advert] = {}
_MEMO_MAX = 4096


def decode(data: bytes, *, family: int, src: Address | None = None, dst: Address | None = None,
           mcast_group: Address | None = None, verified: bool = False) -> Advert:
    """Parse and verify a VRRP payload. Raises DecodeError (and nothing else) for bad input.

    `family` is 4 or 6 (the socket's). v3 checksums need `src` and `dst`; without them only
    the AS_V2 form can be verified (IPv6 callers whose kernel verified the checksum pass them
    anyway). `mcast_group` is the OLD_UNICAST pseudo-header destination (default 224.0.0.18).
    Checks here are those that need no configuration; machine.Instance checks the rest.
    `verified`: the kernel checked the checksum already (an IPv6 raw socket with
    IPV6_CHECKSUM drops bad ones): skip it, as keepalived does for IPv6.
    A master sends the same bytes every interval, so good results are memoised (pure).
    """
    key = (bytes(data), family, src, dst, mcast_group, verified)
    adv = _MEMO.get(key)
    if adv is None:
        adv = _decode(key[0], family, src, dst, mcast_group, verified)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = adv
    return adv


def _decode(data: bytes, family: int, src: Address | None, dst: Address | None,
            mcast_group: Address | None, verified: bool) -> Advert:
    """decode without the memo."""
    n = len(data)
    if n < HEADER_LEN:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{n} bytes")
    ver_type, vrid, priority, count, word, _csum_field = struct.unpack_from("!BBBBHH", data)
    version, ptype = ver_type >> 4, ver_type & 0x0F
    if version not in (2, 3):                                   # RFC 5798 §5.2.1
        raise DecodeError(Reason.BAD_VERSION, f"version {version}")
    if ptype != ADVERTISEMENT:                                  # RFC 5798 §5.2.2
        raise DecodeError(Reason.BAD_TYPE, f"type {ptype}")
    if vrid == 0:                                               # RFC 5798 §5.2.3
        raise DecodeError(Reason.BAD_VRID, "VRID 0")
    alen = 4 if family == 4 else 16
    need = HEADER_LEN + count * alen + (AUTH_LEN if version == 2 and family == 4 else 0)
    if n < need:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{n} bytes, {need} needed")
    if n > need:
        raise DecodeError(Reason.BAD_LENGTH, f"{n} bytes, {need} expected")
    form = ChecksumForm.STANDARD if verified else _verify(data, version, family, src, dst,
                                                          mcast_group)
    if alen == 4:
        addrs: tuple[Address, ...] = tuple(
            ipaddress.IPv4Address(data[o:o + 4]) for o in range(HEADER_LEN, HEADER_LEN + 4 * count, 4))
    else:
        addrs = tuple(ipaddress.IPv6Address(data[o:o + 16])
                      for o in range(HEADER_LEN, HEADER_LEN + 16 * count, 16))
    if version == 2:
        auth_type, seconds = word >> 8, word & 0xFF
        if auth_type not in (AUTH_NONE, AUTH_PASS, AUTH_AH):   # RFC 3768 §5.3.6
            raise DecodeError(Reason.BAD_AUTH_TYPE, f"auth type {auth_type}")
        if seconds == 0:
            raise DecodeError(Reason.BAD_INTERVAL, "interval 0")
        auth = data[need - AUTH_LEN:] if auth_type != AUTH_NONE and family == 4 else b""
        return Advert(2, vrid, priority, addrs, float(seconds), auth_type, auth)
    centis = word & MAX_V3_INTERVAL_CS            # RFC 5798 §5.2.6: rsvd bits ignored
    if centis == 0:
        raise DecodeError(Reason.BAD_INTERVAL, "interval 0")
    return Advert(3, vrid, priority, addrs, centis / 100, checksum_form=form)


def _verify(data: bytes, version: int, family: int, src: Address | None, dst: Address | None,
            mcast_group: Address | None) -> ChecksumForm:
    if version == 2 and family == 4:
        if checksum(data):
            raise DecodeError(Reason.BAD_CHECKSUM, "VRRPv2")
        return ChecksumForm.STANDARD
    if version == 2:                     # v2 over IPv6: the pseudo-header form only
        if src is None or dst is None or _fold(_pseudo_sum(src, dst, len(data))
                                               + (checksum(data) ^ 0xFFFF)) == 0xFFFF:
            return ChecksumForm.STANDARD
        raise DecodeError(Reason.BAD_CHECKSUM, "VRRPv2 over IPv6")
    if src is not None and dst is not None and src.version == dst.version == family:
        body_sum = checksum(data) ^ 0xFFFF               # folded sum of the message alone
        if _fold(_pseudo_sum(src, dst, len(data)) + body_sum) == 0xFFFF:
            return ChecksumForm.STANDARD
        if family == 4:
            group = mcast_group if mcast_group is not None else MCAST4
            if dst != group and _fold(_pseudo_sum(src, group, len(data)) + body_sum) == 0xFFFF:
                return ChecksumForm.OLD_UNICAST
        if body_sum == 0xFFFF:
            return ChecksumForm.AS_V2
        raise DecodeError(Reason.BAD_CHECKSUM, "VRRPv3")
    if checksum(data) == 0:
        return ChecksumForm.AS_V2
    raise DecodeError(Reason.BAD_CHECKSUM, "VRRPv3 (no addresses for the pseudo-header)")


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def decode_ipv4_packet(packet: bytes) -> tuple[int, ipaddress.IPv4Address, ipaddress.IPv4Address,
                                                bytes]:
    """A raw IPv4 socket's read: (ttl, source, destination, VRRP payload).

    Raises DecodeError: too short, not IPv4, a bad header length, not protocol 112 (AH
    packets, protocol 51, are read by vrrp/ah.py's decode_packet), or a total length that
    disagrees with what was read (keepalived's "ip_tot_len mismatch", counted as
    packet_len_err).
    """
    ihl = ipv4_header_len(packet, IPPROTO_VRRP)
    return (packet[8], ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20]),
            packet[ihl:])


def ipv4_header_len(packet: bytes, protocol: int) -> int:
    """The IPv4 header length of a raw socket's read carrying `protocol` (112 VRRP, 51 AH).
    Raises DecodeError: too short, not IPv4, a bad header length, another protocol, or a total
    length that disagrees with what was read."""
    n = len(packet)
    if n < IPV4_HEADER_LEN:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{n} bytes of IPv4")
    vihl, _tos, total = struct.unpack_from("!BBH", packet)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < IPV4_HEADER_LEN:
        raise DecodeError(Reason.BAD_IP_HEADER, f"version {vihl >> 4}, header {ihl} bytes")
    if n < ihl:
        raise DecodeError(Reason.PACKET_TOO_SHORT, f"{n} bytes, IPv4 header of {ihl}")
    if packet[9] != protocol:
        raise DecodeError(Reason.BAD_IP_HEADER, f"protocol {packet[9]}")
    if total != n:
        raise DecodeError(Reason.BAD_LENGTH if total < n else Reason.PACKET_TOO_SHORT,
                          f"IP total length {total}, read {n}")
    return ihl


decode_ipv4 = decode_ipv4_packet    # the earlier name, kept for existing callers


class AdvertCache:
    """Encoded payloads of one instance's advert, one per priority, for fixed addresses.

    `payload(priority)` costs a dict lookup after the first call; build a new cache when the
    source, destination, checksum form or the advert's fields change.
    """

    __slots__ = ("template", "src", "dst", "form", "mcast_group", "_by_prio")

    def __init__(self, template: Advert, src: Address | None, dst: Address | None, *,
                 form: ChecksumForm | None = None, mcast_group: Address | None = None) -> None:
        self.template = template
        self.src = src
        self.dst = dst
        self.form = form if form is not None else template.checksum_form
        self.mcast_group = mcast_group
        self._by_prio: dict[int, bytes] = {}

    def payload(self, priority: int) -> bytes:
        """Raises ValueError (v3 without addresses); the edge checks src before building."""
        data = self._by_prio.get(priority)
        if data is None:
            data = encode(replace(self.template, priority=priority), self.src, self.dst,
                          form=self.form, mcast_group=self.mcast_group)
            self._by_prio[priority] = data
        return data
