"""Shared vocabulary of the configuration pipeline: source positions, the block tree, diagnostics.

source.py/blocks.py produce a tuple of `Node`s (the tree); build.py turns the tree into the frozen
model (model.py) and reports every problem as a `Diagnostic` carrying the `SourcePos` it is about.
"""
from __future__ import annotations

import enum

from keepalived_py.config.record import Record
from keepalived_py.record import field


class SourcePos(Record, kw_only=False):
    """Where a line came from: the file (as given or as included) and its 1-based line number."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Node(Record, kw_only=False):
    """One configuration statement.

    words     the keyword and its arguments, after comment removal, macro ($NAME, ~SEQ)
              expansion and quote removal: ``("virtual_router_id", "51")``.
    raw       the statement's text after the keyword, macros expanded but quotes kept
              (``'"/usr/bin/check arg" 2'``): for keywords that re-split it themselves (script).
    children  None for a plain statement; a tuple (maybe empty) when the statement opens a block.
    unbraced  where the block was opened by a line other than its '{' (the brace missing),
              else None: keepalived reads that line as the block's first (a skipped header's
              block is then read after all; virtual_server_group stops there: build.py).
    """

    words: tuple[str, ...]
    pos: SourcePos
    raw: str = ""
    children: tuple[Node, ...] | None = None
    unbraced: SourcePos | None = field(default=None, compare=False, repr=False)

    @property
    def keyword(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]


class Severity(enum.Enum):
    """Ordered as keepalived's config_err_t decides -t's exit status (lib/parser.h)."""

    FATAL = "fatal"        # keepalived cannot run it (missing file, bad interface): -t exits 4
    ERROR = "error"        # a configuration error keepalived works around: -t exits 5
    WARNING = "warning"    # keepalived's CONFIG_WARNING/DEPRECATED: also -t exit 5
    SECURITY = "security"  # scripts without enable_script_security: -t exits 6
    NOTICE = "notice"      # keepalived-py only: parsed, not implemented yet; never counted


class Diagnostic(Record, kw_only=False):
    """One diagnostic: its level, message and source position."""
    severity: Severity
    pos: SourcePos | None
    message: str

    def __str__(self) -> str:
        where = f"{self.pos}: " if self.pos is not None else ""
        return f"{where}{self.severity.value}: {self.message}"


class Diagnostics(Record, kw_only=False, frozen=False):
    """Collector passed through the pipeline; never raises."""

    items: list[Diagnostic] = field(default_factory=list)
    aborted: int | None = None     # keepalived stopped reading: its exit status (2 = config)
    file_error: bool = False       # an include problem its type checks for: -t exits 6
    # lines whose escaped '\#'/'\!' became a comment on the second reading (source.py): the
    # parent, reading them once, saw the character as part of a value
    escaped: set[SourcePos] = field(default_factory=set)

    def error(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.ERROR, pos, message))

    def warning(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.WARNING, pos, message))

    def notice(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.NOTICE, pos, message))

    def fatal(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.FATAL, pos, message))

    def security(self, pos: SourcePos | None, message: str) -> None:
        self.items.append(Diagnostic(Severity.SECURITY, pos, message))

    @property
    def exit_code(self) -> int:
        """keepalived 2.2.7's `-t` exit status: the least severe class reported wins (its
        config_err_t keeps the highest enum value): security 6, error/warning 5, fatal 4."""
        if self.aborted is not None:
            return self.aborted
        if self.file_error:
            return 6
        kinds = {d.severity for d in self.items}
        if Severity.SECURITY in kinds:
            return 6
        if kinds & {Severity.ERROR, Severity.WARNING}:
            return 5
        if Severity.FATAL in kinds:
            return 4
        return 0

    @property
    def error_count(self) -> int:
        """What keepalived -t counts: errors and warnings, not notices."""
        return sum(1 for d in self.items if d.severity is not Severity.NOTICE)

    @property
    def ok(self) -> bool:
        """Usable as a (re)load: nothing fatal and no error (warnings and notices allowed)."""
        return self.aborted is None and \
            not any(d.severity in (Severity.FATAL, Severity.ERROR) for d in self.items)
