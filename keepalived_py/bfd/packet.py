"""BFD Control packets, RFC 5880 §4.1 (no authentication section: keepalived has none). Pure.

Wire format (24 bytes, network order):
    0: version(3) | diag(5)
    1: state(2) | P | F | C | A | D | M
    2: detect mult
    3: length                      24 without authentication
    4: my discriminator
    8: your discriminator
   12: desired min TX interval     microseconds
   16: required min RX interval    microseconds
   20: required min echo RX interval

`decode` applies the reception checks of RFC 5880 §6.8.6 that need only the packet (as
keepalived's bfd_check_packet does, plus its extra checks: P and F together, an unknown diag);
the checks that need a session (your discriminator known, TTL, A bit) are the session
table's (`session.py`). Errors: `decode` raises only `DecodeError(reason, detail)`, every
`Reason` counted under its own name in the BFD child's stats.
"""
from __future__ import annotations

import enum
import struct

from keepalived_py.errors import KeepalivedError
from keepalived_py.record import Record

VERSION = 1                       # RFC 5880 §4.1
HEADER_LEN = 24                   # RFC 5880 §4.1, no authentication section
CONTROL_PORT = 3784               # RFC 5881 §4 single hop
MULTIHOP_PORT = 4784              # RFC 5883 §5 (keepalived 2.2.7 does not use it)
SOURCE_PORT_MIN = 49152           # RFC 5881 §4: source port in 49152..65535
SOURCE_PORT_MAX = 65535
_HDR = struct.Struct("!BBBBIIIII")


class State(enum.IntEnum):
    """RFC 5880 §4.1 Sta; the names are keepalived's BFD_STATE_STR."""

    ADMINDOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def label(self) -> str:
        return ("AdminDown", "Down", "Init", "Up")[self.value]


class Diag(enum.IntEnum):
    """RFC 5880 §4.1 Diag (0..8); 9..31 are reserved and rejected as keepalived does."""

    NO_DIAG = 0
    EXPIRED = 1                     # Control Detection Time Expired
    ECHO_FAILED = 2
    NBR_SIGNALLED_DOWN = 3
    FWD_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCAT_PATH_DOWN = 6
    ADMIN_DOWN = 7
    RCONCAT_PATH_DOWN = 8

    @property
    def label(self) -> str:
        return _DIAG_LABELS[self.value]


_DIAG_LABELS = ("No Diagnostic", "Control Detection Time Expired", "Echo Function Failed",
                "Neighbor Signaled Session Down", "Forwarding Plane Reset", "Path Down",
                "Concatenated Path Down", "Administratively Down",
                "Reverse Concatenated Path Down")


class Reason(enum.Enum):
    """Why a received packet was dropped; the value is its counter's name."""

    TOO_SHORT = "short"                    # fewer than 24 bytes
    BAD_LENGTH = "bad_length"              # length field disagrees with the datagram
    BAD_VERSION = "bad_version"            # version != 1
    BAD_MULT = "zero_mult"                 # detect mult 0
    MULTIPOINT = "multipoint"              # M bit
    ZERO_DISCR = "zero_discr"              # my discriminator 0
    NO_YOUR_DISCR = "no_your_discr"        # your discriminator 0 outside Down/AdminDown
    POLL_FINAL = "poll_final"              # P and F together
    BAD_DIAG = "bad_diag"                  # diag 9..31
    UNKNOWN_SESSION = "unknown_session"    # your discriminator / addresses match no session
    BAD_TTL = "bad_ttl"                    # GTSM, RFC 5881 §5 (keepalived's max_hops)
    AUTH = "auth"                          # A bit: no authentication configured
    ADMIN_DOWN = "admin_down"              # the session is AdminDown


class DecodeError(KeepalivedError):
    """A packet we drop. `reason` names the counter; `detail` is for the log line."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class Control(Record, kw_only=False):
    state: State
    my_discr: int
    your_discr: int = 0
    diag: Diag = Diag.NO_DIAG
    poll: bool = False
    final: bool = False
    cpi: bool = False                 # Control Plane Independent
    auth: bool = False
    demand: bool = False
    detect_mult: int = 3
    desired_min_tx: int = 1_000_000    # us
    required_min_rx: int = 1_000_000   # us
    required_min_echo_rx: int = 0      # us; keepalived has no echo function


def encode(p: Control) -> bytes:
    flags = (p.state << 6) | (p.poll << 5) | (p.final << 4) | (p.cpi << 3) | (p.auth << 2) \
        | (p.demand << 1)
    return _HDR.pack((VERSION << 5) | p.diag, flags, p.detect_mult, HEADER_LEN, p.my_discr,
                     p.your_discr, p.desired_min_tx, p.required_min_rx, p.required_min_echo_rx)


def decode(data: bytes) -> Control:
    """A received Control packet. Raises DecodeError (only)."""
    if len(data) < HEADER_LEN:
        raise DecodeError(Reason.TOO_SHORT, f"{len(data)} bytes")
    vd, flags, mult, length, mine, yours, tx, rx, echo = _HDR.unpack_from(data)
    if length != len(data):                                 # RFC 5880 §6.8.6
        raise DecodeError(Reason.BAD_LENGTH, f"length field {length}, datagram {len(data)}")
    if vd >> 5 != VERSION:
        raise DecodeError(Reason.BAD_VERSION, f"version {vd >> 5}")
    if mult == 0:
        raise DecodeError(Reason.BAD_MULT)
    if flags & 1:
        raise DecodeError(Reason.MULTIPOINT)
    if mine == 0:
        raise DecodeError(Reason.ZERO_DISCR)
    state = State(flags >> 6)
    if yours == 0 and state not in (State.DOWN, State.ADMINDOWN):
        raise DecodeError(Reason.NO_YOUR_DISCR, f"state {state.label}")
    poll, final = bool(flags & 0x20), bool(flags & 0x10)
    if poll and final:
        raise DecodeError(Reason.POLL_FINAL)
    diag = vd & 0x1F
    if diag > Diag.RCONCAT_PATH_DOWN:
        raise DecodeError(Reason.BAD_DIAG, f"diag {diag}")
    return Control(state=state, my_discr=mine, your_discr=yours, diag=Diag(diag), poll=poll,
                   final=final, cpi=bool(flags & 0x08), auth=bool(flags & 0x04),
                   demand=bool(flags & 0x02), detect_mult=mult, desired_min_tx=tx,
                   required_min_rx=rx, required_min_echo_rx=echo)


def ttl_ok(received: int, ttl: int, max_hops: int) -> bool:
    """keepalived's generalised GTSM check (RFC 5881 §5 when max_hops is 0): a packet with
    received TTL/hop limit t is accepted when t + max_hops >= ttl; max_hops 255 (-1 in the
    file) disables the check; t 0 means the kernel did not say, and is accepted as keepalived
    does."""
    if max_hops == 255 or received == 0:
        return True
    return received + max_hops >= ttl
