"""config/record.py: Record classes behave as frozen slotted kw_only dataclasses do."""
from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field

import pytest

from keepalived_py.config import model
from keepalived_py.config.model_lvs import VirtualServer
from keepalived_py.config.record import Record
from keepalived_py.config.tree import Node, SourcePos


class _Pt(Record):
    """A test record."""
    x: int
    y: int = 2
    tags: tuple[str, ...] = field(default_factory=tuple)
    pos: SourcePos = field(default=SourcePos("<default>", 0), compare=False, repr=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _DcPt:
    x: int
    y: int = 2
    tags: tuple[str, ...] = field(default_factory=tuple)
    pos: SourcePos = field(default=SourcePos("<default>", 0), compare=False, repr=False)


def test_init_defaults_factory_and_errors() -> None:
    p = _Pt(x=1)
    assert (p.x, p.y, p.tags) == (1, 2, ())
    with pytest.raises(TypeError):
        _Pt()                                   # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Pt(1)                                  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Pt(x=1, z=3)                           # type: ignore[call-arg]


def test_eq_hash_repr_match_the_dataclass() -> None:
    a, b = _Pt(x=1, pos=SourcePos("f", 1)), _Pt(x=1, pos=SourcePos("g", 9))
    assert a == b and hash(a) == hash(b)        # pos: compare=False
    assert a != _Pt(x=1, y=3) and a != (1, 2, ())
    assert repr(a).replace("_Pt", "X") == repr(_DcPt(x=1)).replace("_DcPt", "X")
    assert repr(a) == "_Pt(x=1, y=2, tags=())"
    assert len({a, b, _Pt(x=2)}) == 2


def test_frozen_and_slotted() -> None:
    p = _Pt(x=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2                                 # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x                                 # type: ignore[misc]
    assert not hasattr(p, "__dict__")


def test_dataclasses_functions_and_copies() -> None:
    p = _Pt(x=1, tags=("a",), pos=SourcePos("f", 3))
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "pos"]
    assert [f.name for f in dataclasses.fields(p)] == [f.name for f in dataclasses.fields(_DcPt)]
    q = dataclasses.replace(p, y=5)
    assert (q.x, q.y, q.tags, q.pos) == (1, 5, ("a",), SourcePos("f", 3))
    assert model.evolve(p, y=5) == q and model.evolve(p, y=5).pos == p.pos
    with pytest.raises(TypeError):
        model.evolve(p, nope=1)
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ("a",),
                                     "pos": {"path": "f", "line": 3}}
    for other in (pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p)):
        assert other == p and other.pos == p.pos and type(other) is _Pt


def test_positional_records() -> None:
    pos = SourcePos("a.conf", 7)
    assert str(pos) == "a.conf:7" and pos == SourcePos(path="a.conf", line=7)
    match pos:
        case SourcePos(path, line):
            assert (path, line) == ("a.conf", 7)
    n = Node(("priority", "100"), pos)
    assert n.keyword == "priority" and n.args == ("100",) and n.children is None
    assert pickle.loads(pickle.dumps(n)) == n


def test_subclass_gets_its_own_init() -> None:
    class _Pt3(_Pt):
        """A record extending another."""
        z: int = 0

    _Pt(x=1)                                    # the parent's __init__ compiled first
    p = _Pt3(x=1, z=4)
    assert (p.x, p.y, p.z) == (1, 2, 4) and p != _Pt(x=1)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "pos", "z"]


def test_every_model_class_round_trips() -> None:
    """Each model class built with its defaults (and its required fields) survives pickling,
    and a change of any compared field makes it unequal."""
    inst = model.VrrpInstance(name="VI_1", interface="eth0", virtual_router_id=1)
    cfg = model.Config(vrrp_instances=(inst,), virtual_servers=(VirtualServer(fwmark=1),))
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.vrrp_instances[0].notify == inst.notify
    assert model.evolve(inst, priority=50) != inst
    assert model.GlobalDefs() == model.GlobalDefs()
    assert model.GlobalDefs().process == pickle.loads(pickle.dumps(model.GlobalDefs())).process


@pytest.mark.parametrize("text", ["198.51.100.1/24", "192.0.2.7/32", "0.0.0.0/0", "2001:db8::5/64",
                                  "fe80::1%eth0/64", "::/0"])
def test_addresses_pickle_by_integer(text: str) -> None:
    """record.py's copyreg reducers: interfaces and networks come back equal, same type,
    same text (the %scope of an IPv6 address kept)."""
    import ipaddress
    objs: list[object] = [ipaddress.ip_interface(text)]
    if "%" not in text:
        objs.append(ipaddress.ip_interface(text).network)
    for o in objs:
        back = pickle.loads(pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == o and type(back) is type(o) and str(back) == str(o)
        assert getattr(back, "scope_id", None) == getattr(o, "scope_id", None)
