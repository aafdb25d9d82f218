"""Logical lines -> the { } tree of `Node`s.

keepalived's parser sees '{' and '}' as lines of their own (source.py splits them off), so
every layout — brace on the keyword's line, on the next line, a whole block on one line —
gives the same tree: a '{' opens a block belonging to the statement just before it, '}'
closes the innermost block. Structural problems are reported as keepalived reports them
("Unexpected '{' - ignoring", "Extra '}' found") and never raise.
"""
from __future__ import annotations

from keepalived_py.config.source import Line, read_lines, read_text_lines, split_words
from keepalived_py.config.tree import Diagnostics, Node

View = tuple[tuple[Node, ...], frozenset[str]]     # a tree and its inactive top-level keywords


class _Open:
    __slots__ = ("children", "ctx", "has_block", "pos", "raw", "unbraced", "words")

    def __init__(self, words: tuple[str, ...], pos: object, raw: str, ctx: str) -> None:
        self.words = words
        self.pos = pos
        self.raw = raw
        self.ctx = ctx                 # the context of this statement's block, if it opens one
        self.children: list[_Open] = []
        self.has_block = False
        self.unbraced: object = None   # the line that opened a block of values without its '{'

    def freeze(self) -> Node:
        kids = tuple(c.freeze() for c in self.children) if self.has_block else None
        if self.unbraced is None:
            return Node(self.words, self.pos, self.raw, kids)  # type: ignore[arg-type]
        return Node(self.words, self.pos, self.raw, kids, self.unbraced)  # type: ignore[arg-type]


def _known(ctx: str) -> frozenset[str] | None:
    """The keywords of a keyword context (None: not a context whose keywords we know)."""
    from keepalived_py.config import keywords as kw
    return kw.CONTEXT_KEYWORDS.get(ctx)


def _skipped(ctx: str, words: tuple[str, ...]) -> bool:
    from keepalived_py.config import keywords as kw
    return kw.skipped_header(ctx, words)


_OPENS: dict[tuple[str, str], tuple[str, bool] | None] = {}


def _opens(ctx: str, keyword: str) -> tuple[str, bool] | None:
    """(child context, is a sublevel) when `keyword` opens a block in `ctx`, else None
    (looked up once per (context, keyword): a big configuration repeats a few of them)."""
    key = (ctx, keyword)
    try:
        return _OPENS[key]
    except KeyError:
        pass
    from keepalived_py.config import keywords as kw
    found: tuple[str, bool] | None = None
    if keyword in kw.SUBLEVEL.get(ctx, ()):
        found = kw.SUBCONTEXT.get((ctx, keyword), keyword), True
    elif keyword in kw.VALUE_BLOCK.get(ctx, ()):
        found = "values", False
    if len(_OPENS) < 4096:           # keywords of hostile input are not all kept
        _OPENS[key] = found
    return found


Token = tuple[tuple[str, ...], bool, str] | None     # (words, unmatched quote, raw); None: a brace


def tokenize(lines: list[Line]) -> list[Token]:
    """Each line's words, unmatched-quote flag and raw text after the keyword, split once for
    all the readings of read_trees (braces are None)."""
    out: list[Token] = []
    for line in lines:
        text = line.text
        if text == "{" or text == "}":
            out.append(None)
            continue
        words, unmatched = split_words(text)
        first = text.split(None, 1)
        out.append((words, unmatched, first[1] if len(first) > 1 else ""))
    return out


# The top-level keywords of each keepalived process (the others are inactive in its reading).
VRRP_ROOTS = frozenset({"vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_process",
                        "track_file", "vrrp_track_file", "garp_group", "track_group",
                        "static_ipaddress", "static_routes", "static_rules",
                        "linkbeat_interfaces", "interface_up_down_delays"})
CHECK_ROOTS = frozenset({"virtual_server", "virtual_server_group", "SSL"})
# global_parser.c init_global_keywords(global_active): the parent reads these; the VRRP and
# checker processes install them inactive at start (`reload` false), so they skip the blocks
GLOBAL_ROOTS = frozenset({"global_defs", "net_namespace", "net_namespace_ipvs",
                          "namespace_with_ipsets", "use_pid_dir", "instance", "child_wait_time",
                          "linkbeat_use_polling"})


# track_file.c add_track_file_keywords(true) in check_parser.c: the checker reads track_file
# blocks too (its real servers track files), active in its reading as in the VRRP process's
TRACK_FILE_ROOTS = frozenset({"track_file", "vrrp_track_file"})
# the inactive top-level keywords of keepalived's checker, VRRP and parent readings
VIEWS = ((VRRP_ROOTS - TRACK_FILE_ROOTS) | GLOBAL_ROOTS, CHECK_ROOTS | GLOBAL_ROOTS,
         VRRP_ROOTS | CHECK_ROOTS)


def brace_matches(lines: list[Line]) -> list[int]:
    """For each '{' line, the index of the '}' line that closes it counting braces literally
    (as a skipped block counts them); -1 for other lines and a '{' never closed."""
    close = [-1] * len(lines)
    opened: list[int] = []
    for i, line in enumerate(lines):
        text = line.text
        if text == "{":
            opened.append(i)
        elif text == "}" and opened:
            close[opened.pop()] = i
    return close


def build_tree(lines: list[Line], diagnostics: Diagnostics,
               inactive: frozenset[str] = frozenset(), tokens: list[Token] | None = None,
               prune: bool = False, closes: list[int] | None = None,
               regular: list[bool] | None = None) -> tuple[Node, ...]:
    """keepalived's process_stream()/alloc_value_block() as a tree: a block keyword opens its
    block even without '{' (reading the lines up to the next '}'), a '{' after any other
    statement is "Unexpected" and ignored (the lines stay at this level, and the '}' that
    follows closes the enclosing block), and inside a block of values '{' is just a value.
    tokens: tokenize(lines), when the caller has it already. prune: the statements inside a
    skipped block are left out (their braces still count): a reading that only looks at what
    its process reads (read_trees' views) needs no nodes for what nobody reads.
    closes: brace_matches(lines), with prune: a pruned skipped block is passed over in one
    step, from its '{' to the '}' that closes it (what lies between only counts braces).
    regular: when given, regular[0] is set False if the reading met anything that makes its
    blocks differ from the literal nesting of the braces (a diagnostic, a '{' taken as a value,
    a block opened without its '{'): see read_trees."""
    if tokens is None:
        tokens = tokenize(lines)
    if not prune:
        closes = None
    root = _Open((), None, "", "top")
    root.has_block = True
    stack = [root]
    depth = 0                        # literal braces, as read_line() counts them
    said = len(diagnostics.items)
    odd = False                      # a block not delimited by its literal braces
    pending: tuple[_Open, str, bool] | None = None
    skipping: _Open | None = None
    ends_parent: set[int] = set()    # skipped blocks whose last '}' ends the block around them
    named: dict[str, set[str]] = {"vrrp_instance": set(), "vrrp_sync_group": set()}

    def open_pending(pos: object) -> None:
        nonlocal pending, odd
        if pending is None:
            return
        node, _ctx, sublevel = pending
        pending = None
        odd = True
        if sublevel:
            diagnostics.error(pos, "Missing '{' at beginning of configuration block")  # type: ignore[arg-type]
        node.unbraced = pos
        node.has_block = True
        stack.append(node)

    assert len(tokens) == len(lines)              # (tokenize: one token a line)
    n = len(lines)
    i = -1
    while i + 1 < n:
        i += 1
        line, token = lines[i], tokens[i]
        text = line.text
        if text == "{":
            depth += 1
            if stack[-1].ctx == "skipped":
                # parser.c only counts the braces of a skipped block: so do we (the same node
                # again on the stack, no nesting - hostile input nests thousands deep)
                stack.append(stack[-1])
                continue
            if skipping is not None:
                pending = None
                skipping.has_block = True
                skipping.ctx = "skipped"
                stack.append(skipping)
                skipping = None
                if closes is not None and closes[i] > i:
                    # pruned: nothing inside is kept, and its braces balance - go to its '}'
                    i = closes[i] - 1
                continue
            if pending is not None:
                node = pending[0]
                pending = None
                node.has_block = True
                stack.append(node)
                continue
            block = stack[-1]
            if block.ctx == "values":
                odd = True
                block.children.append(_Open(("{",), line.pos, "", ""))
                continue
            last = block.children[-1] if block.children else None
            if last is None or last.has_block or _known(block.ctx) is not None:
                # keepalived ignores the brace; the lines inside stay at this level
                diagnostics.error(line.pos, "Unexpected '{' - ignoring")
                continue
            last.has_block = True        # a block of an unknown context: keep its shape
            stack.append(last)
            continue
        open_pending(line.pos)
        skipping = None
        if text == "}":
            if depth < 1:
                diagnostics.error(line.pos, "Extra '}' found")
            else:
                depth -= 1
            if len(stack) == 1:
                diagnostics.error(line.pos, "Unknown keyword '}'")
                continue
            closed = stack.pop()
            if ends_parent and id(closed) in ends_parent and stack[-1] is not closed \
                    and len(stack) > 1:
                odd = True
                stack.pop()
            continue
        assert token is not None
        words, unmatched, raw = token
        if unmatched:
            diagnostics.error(line.pos, f"Unmatched quote: '{text}'")
        if not words:
            continue
        ctx = stack[-1].ctx
        if prune and ctx == "skipped":
            continue
        opens = _opens(ctx, words[0]) if ctx != "values" else None
        node = _Open(words, line.pos, raw, opens[0] if opens else "")
        stack[-1].children.append(node)
        if ctx == "top" and words[0] in inactive:
            # parser.c: an inactive keyword's block is skipped when a '{' follows, else nothing
            skipping = node
        elif ctx == "skipped":
            pass
        elif opens is not None and opens[1] and (_skipped(ctx, words) or (
                ctx == "top" and _named_again(words, named))):
            # a '{' right after opens a block read by nobody; any other line cancels the
            # skip (parser.c skip_sublevel -1) and the block opens without its '{'
            skipping = node
            pending = (node, opens[0], True)
        elif ctx == "vrrp_sync_group" and words[0] == "group" and _has_group(stack[-1]):
            # vrrp_parser.c vrrp_group_handler: a second group list is skipped (skip_block) by
            # a handler that opens no level of its own: a '{' right after skips its block, and
            # the '}' ending the skip ends the sync group too (process_stream's kw_level break)
            skipping = node
            ends_parent.add(id(node))
        elif opens is not None:
            pending = (node, opens[0], opens[1])
    if pending is not None:
        # nothing follows: keepalived's sublevel reads no line, so says nothing
        pending[0].has_block = True
        pending = None
    if depth > 0:
        # keepalived 2.2.7 (parser.c, init_data): CONFIG_MISSING_EOB at the end of the stream
        diagnostics.error(None, f"There are {depth} missing '}}'s or extra '{{'s")
    if regular is not None:
        regular[0] = not odd and len(diagnostics.items) == said
    return tuple(c.freeze() for c in root.children)


def _named_again(words: tuple[str, ...], named: dict[str, set[str]]) -> bool:
    """A vrrp_instance/vrrp_sync_group whose name an earlier one has: its handler skips its
    block (vrrp_parser.c "already defined", skip_block(true)); the first one's name noted."""
    seen = named.get(words[0])
    if seen is None or len(words) != 2:
        return False
    if words[1] in seen:
        return True
    seen.add(words[1])
    return False


def _has_group(block: _Open) -> bool:
    """`block` has a group list with members before its last statement."""
    return any(c.words[0] == "group" and c.children for c in block.children[:-1])


def read_tree(path: str, *, config_id: str | None, diagnostics: Diagnostics
              ) -> tuple[tuple[Node, ...] | None, tuple[str, ...]]:
    tree, files, _views = read_trees(path, config_id=config_id, diagnostics=diagnostics)
    return tree, files


def read_trees(path: str, *, config_id: str | None, diagnostics: Diagnostics,
               inputs: list[tuple[object, ...]] | None = None
               ) -> tuple[tuple[Node, ...] | None, tuple[str, ...], tuple[View, ...]]:
    """The tree, the files read, and the trees as keepalived's checker, VRRP and parent
    processes read the same lines (each with the others' top-level keywords inactive, and the
    children with global_defs inactive too): keepalived -t reads the configuration once per
    process, and a keyword without its value in any reading stops it."""
    lines, files = read_lines(path, config_id=config_id, diagnostics=diagnostics, inputs=inputs)
    if lines is None:
        return None, files, ()
    tokens = tokenize(lines)
    regular = [False]
    tree = build_tree(lines, diagnostics, tokens=tokens, regular=regular)
    if regular[0]:
        # every block of this reading is delimited by its literal braces: each process's
        # reading skips exactly the blocks of its inactive keywords, and reads every other
        # top-level statement as this one does - the tree is each view (its users look only
        # at the top-level statements a view does not make inactive)
        return tree, files, tuple((tree, off) for off in VIEWS)
    scratch = Diagnostics()
    closes = brace_matches(lines)
    views = tuple((build_tree(lines, scratch, off, tokens, prune=True, closes=closes), off)
                  for off in VIEWS)
    return tree, files, views


def read_tree_text(text: str, *, path: str = "<string>", config_id: str | None = None,
                   diagnostics: Diagnostics) -> tuple[Node, ...]:
    return build_tree(read_text_lines(text, path=path, config_id=config_id,
                                      diagnostics=diagnostics), diagnostics)
