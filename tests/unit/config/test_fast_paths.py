"""The configuration pipeline's fast paths (issue 16) give what the plain paths give:
model.evolve() is dataclasses.replace(), the pruned readings of read_trees are the full
readings without what nobody reads."""
from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.config.blocks import build_tree, tokenize
from keepalived_py.config.model import Config, VirtualAddress, VrrpInstance, evolve
from keepalived_py.config.source import read_text_lines
from keepalived_py.config.tree import Diagnostics, SourcePos
from keepalived_py.config.values import read_interface


def test_evolve_is_replace() -> None:
    inst = VrrpInstance(name="VI_1", virtual_router_id=5, interface="eth0", priority=100)
    a = evolve(inst, priority=200, interface="eth1")
    b = dataclasses.replace(inst, priority=200, interface="eth1")
    assert a == b and type(a) is VrrpInstance and a.pos == b.pos
    assert evolve(inst) == inst and evolve(inst) is not inst
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.priority = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        evolve(inst, no_such_field=1)
    addr = VirtualAddress(address=ipaddress.ip_interface("192.0.2.1/24"))
    assert evolve(addr, label="x") == dataclasses.replace(addr, label="x")
    assert evolve(Config(), vrrp_instances=(inst,)).vrrp_instances == (inst,)


TEXT = """
global_defs {
  router_id r1
}
virtual_server 192.0.2.1 80 {
  real_server 192.0.2.2 80 {
    TCP_CHECK { connect_timeout 3 }
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.100/24 }
}
"""


def _plain(nodes):  # type: ignore[no-untyped-def]
    return [(n.words, n.pos, n.raw, None if n.children is None else _plain(n.children))
            for n in nodes]


def test_pruned_view_keeps_what_its_process_reads() -> None:
    lines = read_text_lines(TEXT, diagnostics=Diagnostics())
    tokens = tokenize(lines)
    off = frozenset({"virtual_server", "global_defs"})        # the VRRP process's reading
    full = build_tree(lines, Diagnostics(), off)
    pruned = build_tree(lines, Diagnostics(), off, tokens, prune=True)
    # the blocks read are identical; the skipped ones are empty shells
    assert [n.words for n in full] == [n.words for n in pruned]
    assert _plain([n for n in full if n.keyword not in off]) == \
        _plain([n for n in pruned if n.keyword not in off])
    assert all(n.children == () for n in pruned if n.keyword in off)
    assert _plain(build_tree(lines, Diagnostics())) == \
        _plain(build_tree(lines, Diagnostics(), tokens=tokens))


def _interface_or_error(word: str) -> object:
    try:
        return ipaddress.ip_interface(word)
    except ValueError:
        return "error"


_WORDS = st.one_of(
    st.tuples(*[st.integers(0, 300)] * 4, st.one_of(st.none(), st.integers(0, 40)),
              st.sampled_from(["", "0", "00"])).map(
        lambda t: ".".join(
            (t[5] if i == 0 else "") + str(x) for i, x in enumerate(t[:4]))
        + ("" if t[4] is None else f"/{t[4]}")),
    st.text(alphabet="0123456789./:abcdef x\u0663", max_size=20),
)


def _check_read_interface(word: str) -> None:
    d = Diagnostics()
    got = read_interface(word, SourcePos("f", 1), d)
    want = _interface_or_error(word)
    if want == "error":
        assert got is None and d.items
    else:
        assert got == want and type(got) is type(want) and str(got) == str(want)
        assert got.network == want.network and not d.items     # type: ignore[union-attr]


@given(_WORDS)
@settings(max_examples=400, deadline=None)
def test_read_interface_fast_path_is_ip_interface(word: str) -> None:
    """The dotted-quad fast path of values.read_interface gives ip_interface's object (or its
    error) for any word, leading zeros, prefixes over 32 and non-ASCII digits included."""
    _check_read_interface(word)


def test_read_interface_examples() -> None:
    for word in ("198.51.100.1", "198.51.100.1/24", "0.0.0.0/0", "255.255.255.255/32",
                 "10.0.0.1/08", "010.0.0.1", "1.2.3", "1.2.3.4/33", "2001:db8::1/64",
                 "1.2.3.4/255.255.255.0", "1.2.3.4\n", "1.2.3.4/"):
        _check_read_interface(word)


_STATEMENTS = st.lists(st.sampled_from([
    "{", "}", "global_defs", "router_id r1", "vrrp_instance VI_1", "interface eth0",
    "virtual_ipaddress", "192.0.2.1/24", "virtual_server 192.0.2.1 80", "real_server 192.0.2.2 80",
    "TCP_CHECK", "connect_timeout 3", "vrrp_script chk", 'script "/bin/true', "track_script",
    "static_ipaddress", "vrrp_sync_group G", "group", "notify_master /x", "SSL",
]), max_size=60)


@given(_STATEMENTS)
@settings(max_examples=300, deadline=None)
def test_pruned_reading_passes_skipped_blocks_in_one_step(statements: list[str]) -> None:
    """build_tree(prune=True) with brace_matches (a skipped block passed over from its '{'
    to its '}') gives the same tree as reading every line of it, for any brace layout:
    unbalanced, nested, blocks without '{', braces inside value blocks."""
    from keepalived_py.config.blocks import VIEWS, brace_matches
    lines = read_text_lines("\n".join(statements) + "\n", diagnostics=Diagnostics())
    tokens = tokenize(lines)
    closes = brace_matches(lines)
    for off in VIEWS:
        slow = build_tree(lines, Diagnostics(), off, tokens, prune=True)
        fast = build_tree(lines, Diagnostics(), off, tokens, prune=True, closes=closes)
        assert _plain(fast) == _plain(slow)


# -- read_trees: the full reading used as each process's reading when its blocks are regular --
def _views_slow(lines, tokens):  # type: ignore[no-untyped-def]
    from keepalived_py.config.blocks import VIEWS, brace_matches
    closes = brace_matches(lines)
    return tuple((build_tree(lines, Diagnostics(), off, tokens, prune=True, closes=closes), off)
                 for off in VIEWS)


def _outcome(text: str, fast: bool):  # type: ignore[no-untyped-def]
    """(messages, model) of building `text` with the fast views (when regular) or the pruned
    readings always."""
    from keepalived_py.config.blocks import VIEWS
    from keepalived_py.config.build import build_config
    d = Diagnostics()
    lines = read_text_lines(text, diagnostics=d)
    tokens = tokenize(lines)
    regular = [False]
    tree = build_tree(lines, d, tokens=tokens, regular=regular)
    views = tuple((tree, off) for off in VIEWS) if fast and regular[0] else \
        _views_slow(lines, tokens)
    config = build_config(tree, d, views=views)
    return [str(x) for x in d.items], config, regular[0]


_PIECES = ["vrrp_instance VI_1", "vrrp_instance VI_2", "virtual_server 192.0.2.1 80",
           "real_server 192.0.2.2 80", "TCP_CHECK", "global_defs", "router_id r1",
           "vrrp_script chk", "script /bin/true", "interface eth0", "virtual_router_id",
           "virtual_router_id 7", "virtual_ipaddress", "192.0.2.100/24", "track_script",
           "chk", "{", "{", "}", "}", "{", "}", "notify_master", "virtual_server_group g",
           "authentication", "auth_type PASS", "include_check", "static_ipaddress",
           "vrrp_sync_group G", "group", "priority 100", "connect_timeout 3"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_the_full_reading_stands_for_the_views_when_regular(pieces: list[str]) -> None:
    """Whenever the full reading is regular, building with it as every process's reading
    gives the same messages and model as building with the pruned readings."""
    text = "\n".join(pieces) + "\n"
    assert _outcome(text, True)[:2] == _outcome(text, False)[:2]


def test_the_golden_configurations_build_the_same_with_the_fast_views() -> None:
    import glob
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    paths = sorted(glob.glob(os.path.join(here, "..", "..", "golden", "config", "*.conf")))
    assert len(paths) > 50
    regular = 0
    for p in paths:
        with open(p, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        fast = _outcome(text, True)
        assert fast[:2] == _outcome(text, False)[:2], p
        regular += fast[2]
    assert regular > len(paths) // 2            # the fast path is the common one


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \t{}ab\"#x1.", max_size=30))
def test_split_braces_fast_path_is_the_character_loop(text: str) -> None:
    from keepalived_py.config.source import split_braces, split_braces_by_chars
    text = text.strip(" \t") or "a"
    assert split_braces(text) == split_braces_by_chars(text)
