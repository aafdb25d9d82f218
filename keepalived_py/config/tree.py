"""Shared vocabulary of the configuration pipeline: source positions, the block tree, diagnostics.

source.py/blocks.py produce a tuple of `Node`s (the tree); build.py turns the tree into the frozen
model (model.py) and reports every problem as a `Diagnostic` carrying the `SourcePos` it is about.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where a line came from: the file (as given or as included) and its 1-based line number."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Node:
    """One configuration statement.

    words     the keyword and its arguments, after comment removal, macro ($NAME, ~SEQ)
              expansion and quote removal: ``("virtual_router_id", "51")``.
    raw       the statement's text after the keyword, macros expanded but quotes kept
              (``'"/usr/bin/check arg" 2'``): for keywords that re-split it themselves (script).
    children  None for a plain statement; a tuple (maybe empty) when the statement opens a block.
    """

    words: tuple[str, ...]
    pos: SourcePos
    raw: str = ""
    children: tuple[Node, ...] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]


class Severity(enum.Enum):
    ERROR = "error"      # counts toward keepalived's -t exit status (keepalived counts warnings too)
    WARNING = "warning"  # keepalived logs it and counts it as a config error under -t
    NOTICE = "notice"    # keepalived-py only: parsed but not yet implemented; never changes the exit status


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    pos: SourcePos | None
    message: str

    def __str__(self) -> str:
        where = f"{self.pos}: " if self.pos is not None else ""
        return f"{where}{self.severity.value}: {self.message}"


@dataclass(slots=True)
class Diagnostics:
    """Collector passed through the pipeline; never raises."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.ERROR, pos, message))

    def warning(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.WARNING, pos, message))

    def notice(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.NOTICE, pos, message))

    @property
    def error_count(self) -> int:
        """What keepalived -t counts: errors and warnings, not notices."""
        return sum(1 for d in self.items if d.severity is not Severity.NOTICE)

    @property
    def ok(self) -> bool:
        return self.error_count == 0
