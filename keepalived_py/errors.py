"""The one root of keepalived-py's errors, and the few specific errors each package raises."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepalived_py.config.tree import SourcePos


class KeepalivedError(Exception):
    """Root of every error keepalived-py raises on purpose."""


class ConfigError(KeepalivedError):
    """A configuration problem at a source position."""

    def __init__(self, pos: SourcePos | None, msg: str) -> None:
        self.pos = pos
        self.msg = msg
        super().__init__(f"{pos}: {msg}" if pos is not None else msg)


class PidfileError(KeepalivedError):
    """A pidfile could not be written, read or removed safely."""


class UsageError(KeepalivedError):
    """A bad command line: keepalived's messages, one per line (cli.parse)."""
