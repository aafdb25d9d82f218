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


class _Open:
    __slots__ = ("children", "has_block", "pos", "raw", "words")

    def __init__(self, words: tuple[str, ...], pos: object, raw: str) -> None:
        self.words = words
        self.pos = pos
        self.raw = raw
        self.children: list[_Open] = []
        self.has_block = False

    def freeze(self) -> Node:
        kids = tuple(c.freeze() for c in self.children) if self.has_block else None
        return Node(self.words, self.pos, self.raw, kids)  # type: ignore[arg-type]


def build_tree(lines: list[Line], diagnostics: Diagnostics) -> tuple[Node, ...]:
    root = _Open((), None, "")
    root.has_block = True
    stack = [root]
    for line in lines:
        text = line.text
        if text == "{":
            block = stack[-1]
            last = block.children[-1] if block.children else None
            if last is None or last.has_block:
                diagnostics.error(line.pos, "Unexpected '{' - ignoring")
                # keepalived ignores the brace; the lines inside stay at this level
                continue
            last.has_block = True
            stack.append(last)
            continue
        if text == "}":
            if len(stack) == 1:
                diagnostics.error(line.pos, "Extra '}' found")
                continue
            stack.pop()
            continue
        words, unmatched = split_words(text)
        if unmatched:
            diagnostics.error(line.pos, f"Unmatched quote: '{text}'")
        if not words:
            continue
        first = text.split(None, 1)
        raw = first[1] if len(first) > 1 else ""
        stack[-1].children.append(_Open(words, line.pos, raw))
    if len(stack) > 1:
        # keepalived 2.2.7 (parser.c, init_data): CONFIG_MISSING_EOB at the end of the stream
        n = len(stack) - 1
        diagnostics.error(None, f"There are {n} missing '}}'s or extra '{{'s")
    return tuple(c.freeze() for c in root.children)


def read_tree(path: str, *, config_id: str | None, diagnostics: Diagnostics
              ) -> tuple[tuple[Node, ...] | None, tuple[str, ...]]:
    lines, files = read_lines(path, config_id=config_id, diagnostics=diagnostics)
    if lines is None:
        return None, files
    return build_tree(lines, diagnostics), files


def read_tree_text(text: str, *, path: str = "<string>", config_id: str | None = None,
                   diagnostics: Diagnostics) -> tuple[Node, ...]:
    return build_tree(read_text_lines(text, path=path, config_id=config_id,
                                      diagnostics=diagnostics), diagnostics)
