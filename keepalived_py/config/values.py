"""Value parsers for keepalived.conf words, with keepalived's messages. Pure; never raise.

Each reader takes the word, the node's position and the diagnostics, and returns the value
or None after reporting (wording as keepalived 2.2.7 prints it, so the -t output reads alike).
"""
from __future__ import annotations

import ipaddress
import re

from keepalived_py.config.tree import Diagnostics, Node, SourcePos

_INT = re.compile(r"[+-]?[0-9]+$")
_DEC = re.compile(r"[+-]?([0-9]+)(\.([0-9]*))?$")
TRUE_WORDS = {"true", "on", "yes"}
FALSE_WORDS = {"false", "off", "no"}


def read_int(word: str, lo: int, hi: int, pos: SourcePos, d: Diagnostics) -> int | None:
    """keepalived's read_int/read_unsigned: decimal (base 10: "0x10" is invalid, as strtol with
    base 10 leaves the 'x' unread), in [lo, hi]. An empty word
    (`""`) is 0: strtol() reads nothing and leaves nothing unread (parser.c read_int_func)."""
    if not word:
        word = "0" if lo <= 0 <= hi else word
        if not word:
            d.error(pos, f"number '' outside range [{lo}, {hi}]")
            return None
    if not _INT.match(word):
        d.error(pos, f"invalid number '{word}'")
        return None
    value = int(word, 10)
    if value < lo or value > hi:
        d.error(pos, f"number '{word}' outside range [{lo}, {hi}]")
        return None
    return value


def read_decimal(word: str, lo: float, hi: float, pos: SourcePos, d: Diagnostics,
                 digits: int = 6) -> float | None:
    """keepalived's read_decimal_unsigned: a non-negative decimal with at most `digits`
    fraction digits, in [lo, hi]."""
    if not word:                    # (as read_int: nothing read is 0)
        word = "0" if lo <= 0 <= hi else word
        if not word:
            d.error(pos, f"number '' outside range [{lo:g}, {hi:g}]")
            return None
    m = _DEC.match(word)
    if not m or word.startswith("-"):
        d.error(pos, f"invalid decimal number '{word}'")
        return None
    frac = m.group(3) or ""
    if len(frac) > digits:
        d.error(pos, f"number '{word}' has too many decimal places - truncating")
    value = float(word)
    if value < lo or value > hi:
        d.error(pos, f"number '{word}' outside range [{lo:g}, {hi:g}]")
        return None
    return value


def read_bool_or_none(node: Node, d: Diagnostics, message: str | None = None,
                      default: bool = True) -> bool | None:
    """keepalived's check_true_false on an optional value: `keyword` alone is `default`;
    `keyword true|false|on|off|yes|no`; any other word is an error (`message`, else
    "Invalid <keyword> parameter <word>") and None (the caller keeps what it had)."""
    if len(node.words) < 2:
        return default
    w = node.words[1]               # keepalived compares with strcmp: "TRUE" is invalid
    if w in TRUE_WORDS:
        return True
    if w in FALSE_WORDS:
        return False
    d.error(node.pos, message if message is not None
            else f"Invalid {node.keyword} parameter {node.words[1]}")
    return None


def read_bool(node: Node, d: Diagnostics, default: bool = True) -> bool:
    """`keyword` alone means true; `keyword true|false|on|off|yes|no`; any other word is an
    error and `default`."""
    v = read_bool_or_none(node, d, default=default)
    return default if v is None else v


def read_address(word: str, pos: SourcePos, d: Diagnostics, what: str = "address"
                 ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(word.split("%", 1)[0])
    except ValueError:
        d.error(pos, f"Invalid {what} '{word}'")
        return None


# a dotted quad without leading zeros (ipaddress refuses those), optionally /0../32
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4_PLAIN = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
                         r"(?:/(3[0-2]|[12][0-9]|[0-9]))?\Z")


def read_interface(word: str, pos: SourcePos, d: Diagnostics
                   ) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    """An address with optional /prefix (keepalived's default /32 or /128)."""
    m = _IPV4_PLAIN.match(word)
    if m is not None:
        # the common dotted quad: one parse instead of ip_interface's two (issue 16); the
        # same object ip_interface makes (tests/unit/config/test_fast_paths.py)
        a, b, c, e, plen = m.groups()
        return ipaddress.IPv4Interface(
            ((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(e), int(plen or 32)))
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        d.error(pos, f"Invalid address '{word}'")
        return None


def read_network(word: str, pos: SourcePos, d: Diagnostics
                 ) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if word in ("default", "all", "any"):
        return ipaddress.ip_network("0.0.0.0/0")
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError:
        d.error(pos, f"Invalid network '{word}'")
        return None


def need_args(node: Node, n: int, d: Diagnostics) -> bool:
    if len(node.words) > n:
        return True
    d.error(node.pos, f"Missing parameter for keyword '{node.keyword}'")
    return False


def script_argv(words: tuple[str, ...]) -> tuple[str, ...]:
    """A command line as keepalived builds it from a keyword's words (quotes already grouped):
    several words are the arguments as they are; a single word (typically quoted,
    `script "/usr/bin/check arg"`) is split again on blanks, honouring inner quotes."""
    if len(words) != 1:
        return tuple(words)
    try:
        import shlex
        return tuple(shlex.split(words[0], posix=True))
    except ValueError:
        return tuple(words[0].split())
