"""IPsec AH authentication of VRRPv2 adverts (`auth_type AH`), as keepalived 2.2.7 does it. Pure.

keepalived does not use the kernel's IPsec: it builds the whole IPv4 packet itself (a raw socket
on protocol 51 with IP_HDRINCL) and checks the AH header of what it receives by hand.

Wire form (RFC 2402 §2; keepalived's vrrp_build_ip4 / vrrp_build_ipsecah / vrrp_update_pkt):
    IPv4 header (20 bytes): tos 0xc0, id = a per-instance counter (1, 2, ... skipping 0),
        frag_off 0, ttl 255 (unicast_ttl when unicast), protocol 51, checksum by the kernel
    AH header (24 bytes):
        0: next header 112 (VRRP)    1: payload length 4 (32-bit words minus 2)
        2: reserved 0                4: SPI = the IPv4 source address (its 4 bytes)
        8: sequence number           12: ICV, HMAC-MD5-96 (RFC 2403): 12 bytes
    VRRPv2 message: auth type 2, the 8 authentication bytes zero, checksum as usual.

ICV: HMAC-MD5 (RFC 2104), keyed with auth_pass cut to 8 bytes and NUL padded to 8 (keepalived
always passes all 8 bytes of its auth_data), over the IP header with tos, frag_off and
checksum zeroed (and the TTL too when unicast), the AH header with the ICV zeroed, and the
VRRP message; the first 12 bytes of the digest are sent.

Sequence numbers (`SeqCounter`): keepalived keeps one counter per instance for both ways.
Sending increments it first (so the first advert carries 1); past 0xFFFFFFFD it stops
incrementing and marks the counter cycled. Receiving accepts only a number above the counter
and then takes it over, so a new master continues where the old one stopped. A master that
hears a lower-priority advert sets the counter to that advert's number + 1; becoming master
with a cycled counter restarts it from 0.

Errors: `decode_packet` and `check` raise only packet.DecodeError; an authentication failure
is Reason.AUTH_FAILURE (keepalived's auth_failure counter) with keepalived's log line as the
detail.
"""
from __future__ import annotations

import ipaddress
import struct

from keepalived_py.record import Record
from keepalived_py.vrrp.packet import (
    AUTH_LEN,
    IPPROTO_VRRP,
    IPV4_HEADER_LEN,
    VRRP_TTL,
    DecodeError,
    Reason,
    checksum,
    ipv4_header_len,
)

IPPROTO_AH = 51            # RFC 2402 §2
AH_LEN = 24                # RFC 2402 §2 with a 96-bit ICV
AH_PAYLOAD_LEN = 4         # RFC 2402 §2.2: (12 + 12) / 4 - 2
ICV_LEN = 12               # RFC 2403 §2: HMAC-MD5-96
IP_TOS = 0xC0              # keepalived: internetwork control
SEQ_LIMIT = 0xFFFFFFFD     # keepalived stops incrementing above this ("cycled")
MIN_VRRP_LEN = 8 + AUTH_LEN

_AH = struct.Struct("!BBH4sI12s")


def key_of(password: str | bytes | None) -> bytes:
    """keepalived's auth_data: the password cut to 8 bytes, NUL padded to 8."""
    raw = password.encode() if isinstance(password, str) else (password or b"")
    return raw[:AUTH_LEN].ljust(AUTH_LEN, b"\0")


def icv(ip_header: bytes, ah_header: bytes, vrrp: bytes, key: bytes, *, unicast: bool) -> bytes:
    """The 12-byte ICV of a packet, with the mutable fields zeroed as keepalived zeroes them."""
    ip = bytearray(ip_header)
    ip[1] = 0                       # tos
    ip[6:8] = b"\0\0"               # flags + fragment offset
    ip[10:12] = b"\0\0"             # header checksum
    if unicast:
        ip[8] = 0                   # ttl
    ah = bytearray(ah_header)
    ah[12:24] = bytes(ICV_LEN)
    import hashlib
    import hmac  # (imported when AH is used: not on the start path)
    return hmac.new(key, bytes(ip) + bytes(ah) + vrrp, hashlib.md5).digest()[:ICV_LEN]


def build(vrrp: bytes, src: ipaddress.IPv4Address, dst: ipaddress.IPv4Address, *, seq: int,
          ip_id: int, key: bytes, ttl: int = VRRP_TTL, unicast: bool = False) -> bytes:
    """The whole IPv4 packet (for an IP_HDRINCL socket): IP header, AH header, `vrrp`.

    The IP header checksum is filled in (the kernel recomputes the same on IP_HDRINCL).
    """
    total = IPV4_HEADER_LEN + AH_LEN + len(vrrp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, IP_TOS, total, ip_id & 0xFFFF, 0, ttl & 0xFF,
                     IPPROTO_AH, 0, src.packed, dst.packed)
    ah = _AH.pack(IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, src.packed, seq & 0xFFFFFFFF, bytes(ICV_LEN))
    digest = icv(ip, ah, vrrp, key, unicast=unicast)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + ah[:12] + digest + vrrp


def next_ip_id(ip_id: int) -> int:
    """keepalived's next IP id: +1, wrapping past 0xFFFF to 1 (0 lets the kernel choose)."""
    ip_id = (ip_id + 1) & 0xFFFF
    return ip_id or 1


class AhPacket(Record, kw_only=False):
    """A received IPv4 packet with an AH header, parsed but not yet authenticated."""

    ttl: int
    src: ipaddress.IPv4Address
    dst: ipaddress.IPv4Address
    next_header: int
    spi: bytes                  # 4 bytes, as on the wire
    seq: int
    auth_data: bytes            # the 12-byte ICV received
    ip_header: bytes            # ihl * 4 bytes, options included
    ah_header: bytes            # 24 bytes
    payload: bytes              # the VRRP message


def decode_packet(packet: bytes) -> AhPacket:
    """A raw protocol-51 socket's read. Raises DecodeError (and nothing else) when it is not
    a whole IPv4 packet with a 24-byte AH header and at least a VRRPv2 header behind it."""
    n = len(packet)
    ihl = ipv4_header_len(packet, IPPROTO_AH)
    if n < ihl + AH_LEN + MIN_VRRP_LEN:
        raise DecodeError(Reason.PACKET_TOO_SHORT,
                          f"IPv4 VRRP packet with AH too short - {n} bytes")
    nh, _plen, _rsvd, spi, seq, auth = _AH.unpack_from(packet, ihl)
    return AhPacket(packet[8], ipaddress.IPv4Address(packet[12:16]),
                    ipaddress.IPv4Address(packet[16:20]), nh, spi, seq, auth,
                    packet[:ihl], packet[ihl:ihl + AH_LEN], packet[ihl + AH_LEN:])


def _as_c_u32(b: bytes) -> int:
    """A network-order address printed with %u on a little-endian host, as keepalived logs it."""
    return int.from_bytes(b, "little")


class SeqCounter:
    """keepalived's `ipsecah_counter` of one instance: one number shared by sending and
    receiving, and the `cycle` flag. Mutable; no I/O."""

    __slots__ = ("seq", "cycle")

    def __init__(self, seq: int = 0, cycle: bool = False) -> None:
        self.seq = seq
        self.cycle = cycle

    def next(self) -> int:
        """The sequence number of the next advert sent."""
        if self.seq > SEQ_LIMIT:
            self.cycle = True
        else:
            self.seq += 1
        return self.seq

    def became_master(self) -> None:
        """vrrp_state_goto_master: a cycled counter restarts from 0."""
        if self.cycle:
            self.cycle = False
            self.seq = 0

    def master_heard_lower(self, seq: int) -> None:
        """vrrp_state_master_rx, lower priority advert: 'Syncing seq_num - Increment seq'."""
        self.seq = (seq + 1) & 0xFFFFFFFF
        self.cycle = False

    def master_heard_higher(self) -> None:
        self.cycle = False


def check(pkt: AhPacket, key: bytes, counter: SeqCounter, *, name: str, unicast: bool,
          backup: bool) -> None:
    """keepalived's vrrp_in_chk_ipsecah and what vrrp_check_packet does around it.

    Raises DecodeError: AUTH_FAILURE for a bad ICV, an SPI that is not the source address, or
    a sequence number not above the counter (a replay); BAD_IP_HEADER when the AH header is
    for another protocol (keepalived drops that silently). On success the counter has the
    packet's number.
    """
    if pkt.next_header != IPPROTO_VRRP:
        raise DecodeError(Reason.BAD_IP_HEADER, f"AH next header {pkt.next_header}")
    want = icv(pkt.ip_header, pkt.ah_header, pkt.payload, key, unicast=unicast)
    import hmac
    if not hmac.compare_digest(want, pkt.auth_data):
        raise DecodeError(Reason.AUTH_FAILURE, f"({name}) IPSEC-AH : invalid IPSEC HMAC-MD5 value."
                                               " Due to fields mutation or bad password !")
    if pkt.spi != pkt.src.packed:
        raise DecodeError(Reason.AUTH_FAILURE,
                          f"IPSEC AH : invalid IPSEC SPI value. {_as_c_u32(pkt.src.packed)} and"
                          f" expect {_as_c_u32(pkt.spi)}")
    if pkt.seq > counter.seq:
        counter.seq = pkt.seq
    else:
        raise DecodeError(Reason.AUTH_FAILURE,
                          f"({name}) IPSEC-AH : sequence number {pkt.seq} already processed."
                          f" Packet dropped. Local({counter.seq})")
    if backup:                      # seq >= counter holds: it was just taken over
        counter.cycle = False
