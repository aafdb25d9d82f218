"""keepalived_py/record.py: the Record kinds beside the model's (frozen keyword-only): positional,
mutable, identity-compared, with __post_init__ — each as the dataclass it replaces behaves."""
from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field

import pytest

from keepalived_py.record import Record


class _Pos(Record, kw_only=False):
    a: int
    b: str = "x"


@dataclasses.dataclass(frozen=True, slots=True)
class _DcPos:
    a: int
    b: str = "x"


class _Mut(Record, kw_only=False, frozen=False):
    n: int
    items: list[int] = field(default_factory=list)
    seen: int = 0

    def __post_init__(self) -> None:
        self.seen = self.n * 2


class _Ident(Record, kw_only=False, frozen=False, eq=False):
    n: int = 0


def test_positional_frozen_record_matches_the_dataclass() -> None:
    p, d = _Pos(1), _DcPos(1)
    assert (p.a, p.b) == (d.a, d.b) and _Pos(1, "y").b == "y" and _Pos(a=2).a == 2
    assert repr(p).replace("_Pos", "X") == repr(d).replace("_DcPos", "X")
    assert _Pos.__match_args__ == _DcPos.__match_args__ == ("a", "b")
    assert p == _Pos(1) and hash(p) == hash(_Pos(1)) and p != _Pos(2) and p != d
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.a = 3                                 # type: ignore[misc]
    with pytest.raises(TypeError):
        _Pos()                                  # type: ignore[call-arg]
    match p:
        case _Pos(1, b):
            assert b == "x"
        case _:
            raise AssertionError("no match")
    assert pickle.loads(pickle.dumps(p)) == p and dataclasses.replace(p, b="z") == _Pos(1, "z")


def test_mutable_record() -> None:
    m = _Mut(3)
    assert m.seen == 6 and m.items == [] and m.items is not _Mut(3).items     # factory per object
    m.n = 5
    m.items.append(1)
    other = _Mut(3, [1])
    other.n = 5
    assert m == other and m != _Mut(5)
    with pytest.raises(TypeError):
        hash(m)                                 # as a mutable dataclass with eq
    with pytest.raises(AttributeError):
        m.other = 1                             # type: ignore[attr-defined]  # slotted
    assert not hasattr(m, "__dict__")
    q = pickle.loads(pickle.dumps(m))
    assert q == m and q.seen == 6                           # unpickling runs no __init__
    assert copy.deepcopy(m) == m and dataclasses.asdict(m) == {"n": 5, "items": [1], "seen": 6}
    assert repr(m) == "_Mut(n=5, items=[1], seen=6)"


def test_identity_record() -> None:
    a, b = _Ident(1), _Ident(1)
    assert a != b and a == a and len({a, b}) == 2
    a.n = 2
    assert a.n == 2


def test_the_dataclasses_view_is_made_when_asked() -> None:
    """dataclasses' functions see a record class as a data class (its __dataclass_fields__
    made on first access, per class), Record itself not."""
    from keepalived_py.record import evolve, names
    assert not dataclasses.is_dataclass(Record)
    assert dataclasses.is_dataclass(_Pos) and dataclasses.is_dataclass(_Pos(1))
    assert [f.name for f in dataclasses.fields(_Mut)] == list(names(_Mut)) == \
        ["n", "items", "seen"]
    assert dataclasses.fields(_Mut)[1].default_factory is list
    assert dataclasses.fields(_Pos)[1].default == "x"
    assert dataclasses.fields(_Pos)[0].default is dataclasses.MISSING
    assert evolve(_Pos(1), b="q") == _Pos(1, "q")
    assert evolve(_Mut(2), n=4).seen == 8                  # __post_init__: dataclasses.replace


def test_a_configuration_test_imports_neither_dataclasses_nor_inspect(tmp_path) -> None:
    import os
    import subprocess
    import sys
    conf = tmp_path / "k.conf"
    conf.write_text("vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 1\n"
                    "  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\n"
                    "virtual_server 192.0.2.1 80 {\n  real_server 192.0.2.2 80 {\n"
                    "    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n")
    code = ("import sys, runpy\n"
            f"sys.argv = ['keepalived-py', '-t', '-f', {str(conf)!r}]\n"
            "try:\n    runpy.run_module('keepalived_py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted({'dataclasses', 'inspect', 'subprocess'} & set(sys.modules)))\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=root)).stdout
    assert out.strip().splitlines()[-1] == "[]"
