"""The lexical layer: comments, includes, conditionals, definitions, sequences, braces."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.config.blocks import read_tree, read_tree_text
from keepalived_py.config.tree import Diagnostics, Node


def tree(text: str, **kw: object) -> tuple[tuple[Node, ...], Diagnostics]:
    d = Diagnostics()
    return read_tree_text(text, diagnostics=d, **kw), d  # type: ignore[arg-type]


def flat(nodes: tuple[Node, ...], depth: int = 0) -> list[tuple[int, tuple[str, ...]]]:
    out = []
    for n in nodes:
        out.append((depth, n.words))
        if n.children is not None:
            out += flat(n.children, depth + 1)
    return out


LAYOUTS = [
    "vrrp_instance VI_1 {\n  priority 100\n}\n",
    "vrrp_instance VI_1\n{\n  priority 100\n}\n",
    "vrrp_instance VI_1 { priority 100 }\n",
    "vrrp_instance VI_1 {\n  priority 100 }\n",
    "vrrp_instance VI_1 { priority 100\n}\n",
    "vrrp_instance VI_1\n{ priority 100\n}\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_every_brace_layout_gives_the_same_tree(text: str) -> None:
    t, d = tree(text)
    assert flat(t) == [(0, ("vrrp_instance", "VI_1")), (1, ("priority", "100"))]
    assert d.items == []


@pytest.mark.parametrize(("text", "words"), [
    ("a 1 # comment", ("a", "1")),
    ("a 1 ! comment", ("a", "1")),
    ('a "x # y" z', ("a", "x # y", "z")),
    ("a \\#1", ("a",)),        # keepalived 2.2.7: an escaped # still ends the line (read twice)
    ('notify "/bin/x arg"', ("notify", "/bin/x arg")),
    ("   a\t\t1   ", ("a", "1")),
])
def test_comments_quotes_and_blanks(text: str, words: tuple[str, ...]) -> None:
    t, _ = tree(text)
    assert t[0].words == words


def test_conditional_lines_follow_the_config_id() -> None:
    text = "@node1 a 1\n@^node1 b 2\n@node2 c 3\n@^node2 d 4\n"
    t, _ = tree(text, config_id="node1")
    assert [n.keyword for n in t] == ["a", "d"]


def test_definitions_simple_braced_multiline_and_builtins() -> None:
    text = ("$IF=eth0\n$ADDRS=192.0.2.1 \\\n192.0.2.2\n"
            "x $IF ${IF}\n$ADDRS\ny \"$_HASH $_BANG\" $_HASH\nz $UNDEFINED\n")
    t, _ = tree(text)
    assert [n.words for n in t] == [("x", "eth0", "eth0"), ("192.0.2.1",), ("192.0.2.2",),
                                    ("y", "# !"), ("z", "$UNDEFINED")]   # unquoted, # starts a comment
    t, _ = tree("r ${_RANDOM 5 5}\ni $_INSTANCE\n", config_id="ci")
    assert t[0].words == ("r", "5") and t[1].words == ("i", "ci")



def test_random_with_parameters_leaves_the_text_after_it_as_keepalived_does() -> None:
    """parser.c replace_param moves only the reference's own text when it shortens a
    ${NAME params} reference (keepalived 2.2.7 -t: `x` an unknown keyword, the block ended)."""
    t, _ = tree("global_defs {\n router_id ${_RANDOM 1 1} x\n}\n")
    assert flat(t) == [(0, ("global_defs",)), (1, ("router_id", "1", "_RANDOM", "1", "1")),
                       (0, ("x",))]
    t, _ = tree("r ${_RANDOM 7 7}\n")
    assert t[0].words == ("r", "7")


def test_seq_and_lst_repeat_lines() -> None:
    t, _ = tree("~SEQ(n, 1, 2, 5) v$n\n~SEQx(h, 10, 11) x$h\n~LST(c, red, blue) k $c\n~SEQ(m, 3) q$m\n")
    assert [n.keyword for n in t] == ["v1", "v3", "v5", "xa", "xb", "k", "k", "q1", "q2", "q3"]
    assert t[5].words == ("k", "red")


def test_bad_seq_is_a_diagnostic() -> None:
    _, d = tree("~SEQ(n, 1, 0, 5) v$n\n~SEQ(x\n")
    assert len(d.items) == 3 and d.exit_code == 5     # "Invalid ~SEQ values/definition" + "specification"


def test_include_glob_relative_and_loops(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("a 1\n")
    (tmp_path / "conf.d" / "b.conf").write_text("b 2\ninclude ../main.conf\n")
    main = tmp_path / "main.conf"
    main.write_text("include conf.d/*.conf\ninclude nothing-*.conf\n")
    d = Diagnostics()
    t, files = read_tree(str(main), config_id=None, diagnostics=d)
    assert t is not None and [n.keyword for n in t][:2] == ["a", "b"]
    msgs = [x.message for x in d.items]
    assert any("Too many open files" in m for m in msgs)      # a loop ends as keepalived's does
    assert any("No config files matched" in m for m in msgs)
    assert str(tmp_path / "conf.d" / "a.conf") in files


def test_positions_name_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "inc.conf").write_text("\n\nbogus here\n")
    main = tmp_path / "k.conf"
    main.write_text("include inc.conf\n")
    d = Diagnostics()
    t, _ = read_tree(str(main), config_id=None, diagnostics=d)
    assert t is not None and str(t[0].pos) == f"{tmp_path}/inc.conf:3"


def test_structure_problems_are_diagnostics() -> None:
    _, d = tree("a {\n}\n}\n{\n")
    assert {x.message for x in d.items} == {   # keepalived 2.2.7's messages for this input
        "Extra '}' found", "Unexpected '{' - ignoring", "Unknown keyword '}'",
        "There are 1 missing '}'s or extra '{'s"}


def test_missing_file_and_binary_junk(tmp_path: Path) -> None:
    d = Diagnostics()
    t, files = read_tree(str(tmp_path / "missing.conf"), config_id=None, diagnostics=d)
    assert t is None and files == () and d.items
    junk = tmp_path / "junk.conf"
    junk.write_bytes(os.urandom(4096) + b"\0\xff{{{}}}")
    d = Diagnostics()
    read_tree(str(junk), config_id=None, diagnostics=d)


def test_huge_line_is_read_in_pieces_quickly(tmp_path: Path) -> None:
    big = tmp_path / "big.conf"
    big.write_bytes(b"a" * (20 << 20) + b"\n")
    import time
    t0 = time.monotonic()
    d = Diagnostics()
    t, _ = read_tree(str(big), config_id=None, diagnostics=d)
    assert t is not None and len(t) > 1000
    assert time.monotonic() - t0 < 10


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_diagnostics_never_a_traceback(data: bytes) -> None:
    from keepalived_py.config.build import build_config
    d = Diagnostics()
    t = read_tree_text(data.decode("utf-8", "surrogateescape"), diagnostics=d)
    build_config(t, d)
