"""Configuration source: files -> logical lines with positions, as keepalived's parser reads them.

Theory of operation (keepalived 2.2.7 lib/parser.c, read_line()):
  * a physical line is read as fgets() with keepalived's 1024-byte buffer reads it (a longer
    line arrives in 1023-byte pieces); blank lines are skipped;
  * comments start at '#' or '!' outside double quotes; '\\#' and '\\!' are literal; a
    trailing '\\' continues a $definition onto the next line;
  * '@ID rest' keeps 'rest' only when ID equals the config id (-i, else the host name up to the
    first dot); '@^ID rest' keeps it only when it does not;
  * '$NAME=value' defines (a trailing '\\' makes it multi-line); '$NAME' and '${NAME}' are
    replaced anywhere in later lines, a multi-line definition becoming several lines; built-ins
    $_PWD, $_INSTANCE, ${_RANDOM [min [max]]}, $_HASH ('#'), $_BANG ('!');
  * '~SEQ(var, start, step, end) text' and '~LST(var, v1, v2, ...) text' repeat `text` with
    $var set to each value (~SEQx: hexadecimal values);
  * 'include PATTERN' (and keepalived's includer/includem/includew/includeb/includea variants)
    reads every file matching the glob, relative to the including file's directory; a pattern
    that matches nothing is reported; includes nest at most MAX_INCLUDE_DEPTH deep, so loops
    end with a diagnostic;
  * '{' and '}' outside quotes are split off into lines of their own, so every brace layout
    becomes the same stream.
Nothing here raises for bad input: unreadable files, binary junk and undecodable bytes become
diagnostics or are passed through (bytes are decoded with surrogateescape).
"""
from __future__ import annotations

import glob
import os
import re
import stat
from collections.abc import Iterator

from keepalived_py.config import filesec
from keepalived_py.config.record import Record
from keepalived_py.config.tree import Diagnostics, SourcePos
from keepalived_py.record import field

MAXBUF = 1024
MAX_INCLUDE_DEPTH = 32
# parser.c include_t: which include problems are configuration errors (-t exit 6)
INCLUDE_R, INCLUDE_M, INCLUDE_W, INCLUDE_B = 0x01, 0x02, 0x04, 0x08
_INCLUDE_TYPES = {"": 0, "r": INCLUDE_R, "m": INCLUDE_R | INCLUDE_M,
                  "w": INCLUDE_R | INCLUDE_M | INCLUDE_W, "b": INCLUDE_R | INCLUDE_B,
                  "a": INCLUDE_R | INCLUDE_M | INCLUDE_B | INCLUDE_W}
MAX_LINES = 2_000_000            # hard stop against runaway ~SEQ / includes
MAX_EXPANSION = 100              # $definition re-expansion passes per line
_DEF_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*=")
_REF = re.compile(r"\$(\{([A-Za-z_][A-Za-z0-9_]*)((?: *[0-9]+)*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BRACES = re.compile(r"([{}])")
_SEQ = re.compile(r"~(SEQ|LST)(x?)\s*\((.*?)\)\s*(.*)$", re.DOTALL)


class Line(Record, kw_only=False):
    """One logical line and where it starts."""
    text: str
    pos: SourcePos


def default_config_id() -> str:
    """keepalived's default config id: the host name up to its first dot."""
    return os.uname().nodename.split(".", 1)[0]       # gethostname(2): the UTS node name


def decomment(text: str) -> tuple[str, bool, bool]:
    """Strip comments and surrounding blanks. Returns (text, continued, unterminated_quote)."""
    text = text.lstrip(" \t")
    if "#" not in text and "!" not in text and '"' not in text and "\\" not in text:
        return text.rstrip(" \t"), False, False
    out: list[str] = []
    quote = False
    cont = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            quote = not quote
        elif c == "\\":
            if i + 1 < n:
                if not quote and text[i + 1] in "#!":
                    out.append(text[i + 1])
                    i += 2
                    continue
                out.append(text[i: i + 2])
                i += 2
                continue
            cont = True
            break
        elif not quote and c in "#!":
            break
        out.append(c)
        i += 1
    result = "".join(out).rstrip(" \t")
    if cont:
        result += "\\"
    return result, cont, quote


# top-level keywords whose block is open without a '{' (keepalived 2.2.7: 'global_defs' then
# 'include_check' on the next line acts; a 'vrrp_script x' without '{' does not swallow what
# follows in the parent's reading, which skips the blocks it does not read)
TOP_BLOCKS = frozenset({"global_defs"})


def split_braces(text: str) -> list[str]:
    """Split '{' and '}' outside quotes into lines of their own (keepalived's line residue)."""
    if "{" not in text and "}" not in text:
        return [text]
    if '"' not in text:                 # no quotes: every brace splits (the common case)
        return [p for p in (x.strip(" \t") for x in _BRACES.split(text)) if p]
    return split_braces_by_chars(text)


def split_braces_by_chars(text: str) -> list[str]:
    """split_braces as keepalived's character loop does it (quotes keep their braces)."""
    parts: list[str] = []
    cur: list[str] = []
    quote = False
    for c in text:
        if c == '"':
            quote = not quote
            cur.append(c)
        elif not quote and c in "{}":
            s = "".join(cur).strip(" \t")
            if s:
                parts.append(s)
            parts.append(c)
            cur = []
        else:
            cur.append(c)
    s = "".join(cur).strip(" \t")
    if s:
        parts.append(s)
    return parts


def split_words(text: str) -> tuple[tuple[str, ...], bool]:
    """keepalived's alloc_strvec: blanks separate words, "..." is one word without its quotes.
    Returns (words, unmatched_quote)."""
    if '"' not in text:
        return tuple(text.split()), False
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n\f\v":
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            j = text.find('"', i + 1)
            if j < 0:
                return tuple(words), True
            words.append(text[i + 1: j])
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n\f\v"':
                j += 1
            words.append(text[i:j])
            i = j
    return tuple(words), False


class _Definition(Record, kw_only=False, frozen=False):
    """A $NAME definition."""
    value: str
    multiline: bool = False
    builtin: str | None = None


class SourceReader(Record, kw_only=False, frozen=False):
    """Reads files into logical lines (the module's docstring)."""
    diagnostics: Diagnostics
    config_id: str | None = None
    files: list[str] = field(default_factory=list)
    defs: dict[str, _Definition] = field(default_factory=dict)
    count: int = 0
    include_check: int = 0
    _stopped: bool = False
    # the blocks open at this point of the text (keywords before their '{'): include_check is a
    # global_defs keyword in keepalived, acted on only there
    _blocks: list[str] = field(default_factory=list)
    _last_word: str = ""
    _opening: str = ""      # a top-level block keyword not yet followed by '{' (keepalived opens it)
    # what the reading looked at outside the text, in order (config/reuse.py checks that a new
    # reading would see the same): ("file", path, bytes | None, notice), ("glob", pattern,
    # matches), ("path", path, facts), ("isdir", path, bool), ("cwd", dir), ("host", id),
    # ("random",)
    inputs: list[tuple[object, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.config_id is None:
            self.config_id = default_config_id()
            self.inputs.append(("host", self.config_id))
        self.defs.update({
            "_PWD": _Definition("", builtin="pwd"),
            "_INSTANCE": _Definition("", builtin="instance"),
            "_RANDOM": _Definition("", builtin="random"),
            "_HASH": _Definition("#"),
            "_BANG": _Definition("!"),
        })

    # -- files ---------------------------------------------------------------------------
    def read_file(self, path: str, *, depth: int = 0, origin: SourcePos | None = None,
                  main: bool = False) -> Iterator[Line]:
        try:
            data, why = read_bytes(path)
        except OSError as e:
            self.inputs.append(("file", path, None, None))
            what = "Config files missing" if main else "Unable to open include file"
            self.diagnostics.error(origin, f"{what} '{path}': {os.strerror(e.errno or 0)}")
            if main:
                self._stopped = True
            return
        self.inputs.append(("file", path, data, why))
        if why is not None:                 # keepalived says nothing: a notice, see filesec.py
            self.diagnostics.notice(origin, filesec.notice(path, why))
        self.files.append(path)
        text = data.decode("utf-8", "surrogateescape")
        yield from self._lines(text, path, depth)

    def _physical(self, text: str, path: str) -> Iterator[tuple[str, SourcePos]]:
        lineno = 0
        for raw in text.split("\n"):
            lineno += 1
            pos = SourcePos(path, lineno)
            if len(raw) < MAXBUF - 1:
                yield raw, pos
                continue
            # fgets() with keepalived's buffer hands a long line over in pieces
            for k in range(0, len(raw), MAXBUF - 1):
                yield raw[k: k + MAXBUF - 1], pos

    def _lines(self, text: str, path: str, depth: int) -> Iterator[Line]:
        pending_def: tuple[str, _Definition] | None = None
        for raw, pos in self._physical(text, path):
            if self._stopped:
                return
            raw = raw.rstrip("\r")
            if not raw:
                if pending_def is not None:
                    pending_def = None
                continue
            body, _cont, unterminated = decomment(raw)
            if "#" in body or "!" in body:
                # keepalived's children read the parent's decommented copy of the file and
                # decomment it again: an escaped '\#' or '\!' outside quotes starts a comment
                again = decomment(body)[0]
                if again != body:
                    self.diagnostics.escaped.add(pos)
                body = again
            if unterminated:
                self.diagnostics.error(pos, f"Unterminated quote '{body}'")
            if pending_def is not None:
                _name, d = pending_def
                if body.endswith("\\"):
                    piece = body[:-1].rstrip(" \t")
                    if piece:
                        d.value += ("\n" if d.value else "") + piece
                else:
                    if body:
                        d.value += ("\n" if d.value else "") + body
                    pending_def = None
                    if "\n" not in d.value:
                        d.multiline = False
                continue
            if not body:
                continue
            for line in self._expand(body, pos, depth):
                if isinstance(line, tuple):      # a definition that continues on the next lines
                    pending_def = line
                    continue
                yield line

    # -- one logical line ------------------------------------------------------------------
    def _expand(self, body: str, pos: SourcePos, depth: int
                ) -> Iterator[Line | tuple[str, _Definition]]:
        if "$" not in body and not body.startswith(("@", "~", "include")):
            # the common line: no conditional, definition, sequence, macro or include
            yield from self._parts(body, pos)
            return
        queue: list[str] = [body]
        passes = 0
        while queue:
            text = queue.pop(0)
            passes += 1
            if passes > MAX_EXPANSION * 10:
                self.diagnostics.error(pos, "definition expansion does not end - line dropped")
                return
            text = self._conditional(text)
            if not text:
                continue
            m = _DEF_NAME.match(text)
            if m:
                yield from self._define(m, text, pos)
                continue
            if text.startswith(("~SEQ", "~LST")):
                queue[0:0] = self._sequence(text, pos)
                continue
            if text.startswith("~"):
                continue
            if "$" in text:
                expanded = self._replace(text, pos)
                if expanded is not None:
                    lines = [decomment(x)[0] for x in expanded]
                    queue[0:0] = [x for x in lines if x]
                    continue
            if (text.startswith("include_check") and text[13:14] in ("", " ", "\t")
                    and (self._blocks == ["global_defs"]
                         or (not self._blocks and self._opening == "global_defs"))):
                self._include_check(text, pos)
            included: list[Line] = []
            if self._include(text, pos, depth, included):
                yield from included
                continue
            yield from self._parts(text, pos)
            if self._stopped:
                return

    def _parts(self, text: str, pos: SourcePos) -> Iterator[Line]:
        """`text` as lines with its braces on lines of their own, the open blocks followed."""
        for part in split_braces(text):
            self.count += 1
            if self.count > MAX_LINES:
                if self.count == MAX_LINES + 1:
                    self.diagnostics.error(pos, f"configuration exceeds {MAX_LINES} lines"
                                                " - the rest is ignored")
                self._stopped = True
                return
            if part == "{":
                if self._blocks == ["global_defs"] and not self._opening and \
                        self._last_word != "notification_email":
                    # global_defs opens no other block: keepalived ignores this '{'
                    # ("Unexpected '{'"), and the next '}' ends global_defs
                    self._last_word = "{"
                else:
                    self._blocks.append(self._opening or self._last_word)
                self._opening = ""
            elif part == "}":
                if self._opening:
                    self._opening = ""          # 'global_defs' then '}': opened and closed
                elif self._blocks:
                    self._blocks.pop()
            else:
                if self._opening:               # keepalived: the block needs no '{'
                    self._blocks.append(self._opening)
                    self._opening = ""
                word = part.split(" ", 1)[0].split("\t", 1)[0]
                if not self._blocks and word in TOP_BLOCKS:
                    self._opening = word
                self._last_word = word
            yield Line(part, pos)

    def _conditional(self, text: str) -> str:
        while text.startswith("@"):
            neg = text.startswith("@^")
            start = 2 if neg else 1
            m = re.match(r"[^ \t]*", text[start:])
            ident = m.group(0) if m else ""
            rest = text[start + len(ident):]
            if not rest or rest[0] not in " \t":
                return ""
            if (ident == self.config_id) == neg:
                return ""
            text = rest.lstrip(" \t")
        return text

    def _define(self, m: re.Match[str], text: str, pos: SourcePos
                ) -> Iterator[tuple[str, _Definition]]:
        name = m.group(1)
        value = text[m.end():].lstrip(" \t")
        d = _Definition(value)
        if value.endswith("\\"):
            d.value = value[:-1].rstrip(" \t")
            d.multiline = True
            self.defs[name] = d
            yield (name, d)
            return
        self.defs[name] = d

    def _value(self, name: str, params: str) -> str | None:
        d = self.defs.get(name)
        if d is None:
            return None
        if d.builtin == "pwd":
            cwd = os.getcwd()
            self.inputs.append(("cwd", cwd))
            return cwd
        if d.builtin == "instance":
            return self.config_id or ""
        if d.builtin == "random":
            self.inputs.append(("random",))
            nums = [int(x) for x in params.split()] if params.strip() else []
            lo = nums[0] if nums else 0
            hi = nums[1] if len(nums) > 1 else 32767
            import random  # ($_RANDOM only: not imported for every configuration)
            return str(random.randint(lo, hi)) if hi >= lo else str(lo)
        return d.value

    def _replace(self, text: str, pos: SourcePos) -> list[str] | None:
        """Replace $NAME / ${NAME}; None if nothing was replaced. May return several lines."""
        changed = False
        out, i = text, 0
        while (m := _REF.search(out, i)) is not None:
            name = m.group(2) or m.group(4)
            params = m.group(3) or ""
            value = None if params and name != "_RANDOM" else self._value(name, params)
            if value is None:
                i = m.start() + 1
                continue
            changed = True
            start, end = m.span()
            if params and len(value) < end - start:
                # parser.c replace_param, shortening a ${NAME params} reference, moves only
                # the reference's own text: what follows its first len(value) + 1 characters
                # stays (`${_RANDOM 1 5} x` -> `3 _RANDOM 1 5} x`, whose '}' ends a block)
                out = out[:start] + value + (out[end] + out[start + len(value) + 1:]
                                             if end < len(out) else "")
            else:
                out = out[:start] + value + out[end:]
            i = start + len(value)
        if not changed:
            return None
        if len(out) >= MAXBUF * 64:
            self.diagnostics.error(pos, "Parameter substitution would exceed maximum line length")
            return []
        return out.split("\n")

    def _sequence(self, text: str, pos: SourcePos) -> list[str]:
        if text.startswith("~LST"):
            return self._list(text, pos)
        m = _SEQ.match(text)
        if m is None or m.group(1) != "SEQ":
            self.diagnostics.error(pos, f"Invalid ~SEQ specification '{text}'")
            return []
        _kind, hexa, args, rest = m.groups()
        var, sep, numbers = args.partition(",")
        var = var.strip(" \t")
        if not sep or not var or any(c in var for c in " \t"):
            self.diagnostics.error(pos, f"Invalid ~SEQ definition '{text}'")
            self.diagnostics.error(pos, f"Invalid ~SEQ specification '{text}'")
            return []
        expanded = self._replace(numbers, pos)
        if expanded is not None:
            numbers = " ".join(expanded)
        nums = [_strtol(p) for p in numbers.split(",")]
        if any(n is None for n in nums) or not 1 <= len(nums) <= 3:
            self.diagnostics.error(pos, f"Invalid ~SEQ definition '{text}'")
            self.diagnostics.error(pos, f"Invalid ~SEQ specification '{text}'")
            return []
        ints = [n for n in nums if n is not None]
        if len(ints) == 1:
            end = ints[0]
            start, step = (-1 if end < 0 else 1), (-1 if end < 1 else 1)
        elif len(ints) == 2:
            start, end = ints
            step = 1 if start <= end else -1
        else:
            start, step, end = ints
            if step == 0 or (start < end and step < 0) or (start > end and step > 0):
                self.diagnostics.error(pos, f"Invalid ~SEQ values '{text}'")
                self.diagnostics.error(pos, f"Invalid ~SEQ specification '{text}'")
                return []
        if hexa and (start < 0 or end < 0):
            self.diagnostics.error(pos, f"~SEQx is only valid for positive numbers '{text}'")
            self.diagnostics.error(pos, f"Invalid ~SEQ specification '{text}'")
            return []
        count = (end - start) // step + 1
        if count > MAX_LINES:
            self.diagnostics.error(pos, f"~SEQ generates {count} lines - too many")
            return []
        values = [format(v, "x") if hexa else str(v) for v in range(start, end + step, step)
                  if (step > 0 and v <= end) or (step < 0 and v >= end)]
        return self._repeat([var], [[v] for v in values], rest, pos)

    def _list(self, text: str, pos: SourcePos) -> list[str]:
        """parser.c add_lst(): '~LST(v, a, b) text' or '~LST({v1,v2}, {a1,a2}, {b1,b2}) text'."""
        parsed = _parse_lst(text[4:])
        if isinstance(parsed, str):
            if parsed:
                self.diagnostics.error(pos, f"~LST specification has too many values '{text}'")
            self.diagnostics.error(pos, f"Invalid ~LST specification '{text}'")
            return []
        names, sets, rest = parsed
        return self._repeat(names, sets, rest, pos)

    def _repeat(self, names: list[str], sets: list[list[str]], rest: str, pos: SourcePos
                ) -> list[str]:
        out: list[str] = []
        for values in sets:
            for name, v in zip(names, values, strict=False):
                self.defs[name] = _Definition(v)
            r = self._replace(rest, pos)
            out.extend(r if r is not None else [rest])
        return out

    def _include(self, text: str, pos: SourcePos, depth: int, sink: list[Line]) -> bool:
        m = re.match(r"include([rmwba]?)[ \t]+(.*)$", text)
        if m is None:
            return False
        kind = _INCLUDE_TYPES[m.group(1)]
        pattern = m.group(2).strip(" \t")

        def problem(flag: int, message: str) -> None:
            # parser.c file_config_error(): an error (exit 6) only when the include's type or
            # include_check asks for this check, otherwise just said
            if (self.include_check | kind) & flag:
                self.diagnostics.fatal(pos, message)
                self.diagnostics.file_error = True
            else:
                self.diagnostics.notice(pos, message)

        base = os.path.dirname(pos.path)
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        matches = sorted(glob.glob(full))
        self.inputs.append(("glob", full, tuple(matches)))
        if not matches:
            magic = glob.has_magic(full)
            parent = full
            while glob.has_magic(parent):
                parent = os.path.dirname(parent)
            where = parent if magic else os.path.dirname(full)
            isdir = os.path.isdir(where)
            self.inputs.append(("isdir", where, isdir))
            if not magic or not isdir:
                problem(INCLUDE_B if "{" in pattern else INCLUDE_M,
                        f"Config files missing '{pattern}'.")
            else:
                problem(INCLUDE_W, f"No config files matched '{pattern}'.")
            return True
        saved = self.include_check
        for path in matches:
            shown = path if os.path.isabs(pattern) else os.path.relpath(path, base or ".")
            facts = path_facts(path)
            self.inputs.append(("path", path, facts))
            isdir, mode, readable = facts
            if isdir:
                problem(INCLUDE_R, f"Configuration file '{shown}/' is a directory - skipping")
                continue
            if mode is None or not stat.S_ISREG(mode) or mode & 0o111:
                problem(INCLUDE_R, f"Configuration file '{shown}' is not a regular non-executable"
                                   " file - skipping")
                continue
            if depth >= MAX_INCLUDE_DEPTH:
                # keepalived has no limit of its own: a loop ends when it runs out of file
                # descriptors, as an open problem of the include's kind
                problem(INCLUDE_R, f"Configuration file '{shown}' open problem (Too many open"
                                   " files) - skipping")
                continue
            if not readable:
                problem(INCLUDE_R, f"Configuration file '{shown}' open problem (Permission"
                                   " denied) - skipping")
                continue
            sink.extend(self.read_file(path, depth=depth + 1, origin=pos))
            self.include_check = saved     # restored at the end of each included file
        return True

    def _include_check(self, text: str, pos: SourcePos) -> None:
        """parser.c include_check_set(): 'include_check [+|-]TYPE ...' (global_defs)."""
        words = text.split()[1:]
        if not words:
            self.include_check = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B
            return
        names = {"read": INCLUDE_R, "match": INCLUDE_M, "wildcard_match": INCLUDE_W,
                 "brace_match": INCLUDE_B}
        for i, w in enumerate(words):
            op = w[0] if w[0] in "+-" else ""
            if not op:
                if i == 0:
                    self.include_check = 0
                else:
                    self.diagnostics.error(pos, f"Duplicate include_check '{w}' specified -"
                                                " ignoring")
                    continue
            flag = names.get(w[len(op):])
            if flag is None:
                self.diagnostics.error(pos, f"Unknown include_check type '{w[len(op):]}' -"
                                            " ignoring")
                continue
            if not op:
                self.include_check = INCLUDE_R | flag
            elif op == "+":
                self.include_check |= flag
            else:
                self.include_check &= ~flag


def read_bytes(path: str) -> tuple[bytes, str | None]:
    """A configuration file's bytes and filesec's notice about who may write it."""
    with open(path, "rb") as f:
        return f.read(), filesec.insecure(os.fstat(f.fileno()), os.geteuid())


def path_facts(path: str) -> tuple[bool, int | None, bool]:
    """What an include looks at about a matched path: a directory? its mode (None: no stat);
    readable?"""
    try:
        mode: int | None = os.stat(path).st_mode
    except OSError:
        mode = None
    return os.path.isdir(path), mode, os.access(path, os.R_OK)


def read_lines(path: str, *, config_id: str | None, diagnostics: Diagnostics,
               inputs: list[tuple[object, ...]] | None = None
               ) -> tuple[list[Line] | None, tuple[str, ...]]:
    """Every logical line of `path` and its includes; None when the main file can't be read.
    inputs: gets what the reading looked at outside the text (SourceReader.inputs)."""
    reader = SourceReader(diagnostics, config_id, inputs=[] if inputs is None else inputs)
    lines = list(reader.read_file(path, main=True))
    if not reader.files:
        return None, ()
    return lines, tuple(reader.files)


def read_text_lines(text: str, *, path: str = "<string>", config_id: str | None = None,
                    diagnostics: Diagnostics) -> list[Line]:
    reader = SourceReader(diagnostics, config_id)
    return list(reader._lines(text, path, 0))


def _strtol(text: str) -> int | None:
    """C strtol(text, &end, 0) where the whole of `text` (blanks aside) must be the number."""
    t = text.strip(" \t")
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", t)
    if m is None:
        return 0 if t == "" else None      # strtol of nothing is 0 and stops at ',' or ')'
    sign = -1 if m.group(1) == "-" else 1
    body = m.group(2)
    if body[:2] in ("0x", "0X"):
        return sign * int(body, 16)
    if body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)


def _parse_lst(p: str) -> tuple[list[str], list[list[str]], str] | str:
    """Parse what follows '~LST' as parser.c add_lst() does. Returns (names, value sets, text)
    or a string: "" for a malformed specification, "many" for too many values in a set."""
    blanks = " \t"
    i, n = 0, len(p)

    def skip(j: int) -> int:
        while j < n and p[j] in blanks:
            j += 1
        return j

    def at(j: int) -> str:
        return p[j] if j < n else ""

    i = skip(i)
    if at(i) != "(":
        return ""
    i = skip(i + 1)
    end_char = ","
    if at(i) == "{":
        end_char = "}"
        i = skip(i + 1)
    names: list[str] = []
    while True:
        j = i
        while j < n and p[j] not in " \t,}":
            j += 1
        names.append(p[i:j])
        i = skip(j)
        if at(i) == end_char:
            break
        if at(i) != ",":
            return ""
        i = skip(i + 1)
    if at(i) == "}":
        i = skip(i + 1)
    if at(i) != ",":
        return ""
    i = skip(i + 1)
    sets: list[list[str]] = []
    while True:
        end_char = ","
        if at(i) == "{":
            end_char = "}"
            i = skip(i + 1)
        values: list[str] = []
        while True:
            j = i
            while j < n and p[j] not in " \t,})":
                j += 1
            values.append(p[i:j])
            i = skip(j)
            if at(i) == end_char or (at(i) == ")" and end_char == ","):
                break
            if at(i) != ",":
                return ""
            i = skip(i + 1)
            if len(values) > len(names) - 1:
                return "many"
        values += [""] * (len(names) - len(values))
        sets.append(values)
        if at(i) == "}" and end_char == "}":
            i = skip(i + 1)
        if at(i) == ")":
            break
        if at(i) != ",":
            return ""
        i = skip(i + 1)
    return names, sets, p[skip(i + 1):]
