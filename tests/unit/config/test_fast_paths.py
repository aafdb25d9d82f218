"""The configuration pipeline's fast paths (issue 16) give what the plain paths give:
model.evolve() is dataclasses.replace(), the pruned readings of read_trees are the full
readings without what nobody reads."""
from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from keepalived_py.config.blocks import build_tree, tokenize
from keepalived_py.config.model import Config, VirtualAddress, VrrpInstance, evolve
from keepalived_py.config.source import read_text_lines
from keepalived_py.config.tree import Diagnostics


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
