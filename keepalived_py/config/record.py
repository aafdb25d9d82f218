"""`Record`: the base of the configuration model's classes — frozen, slotted, keyword-only
classes that behave as `@dataclass(frozen=True, slots=True, kw_only=True)` does for everything
the code uses (the same __init__, ==, hash, repr, pickling, `dataclasses.fields/replace/
asdict`), at a fraction of the cost of defining them (issue 16).

Why: dataclass() writes each class's __init__, __repr__, __eq__, __hash__, __setattr__,
__delattr__, __getstate__ and __setstate__ as source text and exec()s them one by one, then
creates the class a second time to add __slots__: ~30 model classes cost ~60 ms at import, on
the path from exec to the first VIP and on every `-t`. Here the class is created once with its
__slots__ (the metaclass reads the annotations before type() runs), ==, hash, repr and
pickling are shared methods driven by per-class tuples of names, and the one generated method,
__init__, is compiled on the class's first instantiation (a class never instantiated — most
LVS classes in a VRRP-only configuration — costs no compile at all).

    class TrackRef(Record):
        name: str
        weight: int | None = None
        pos: SourcePos = field(default=_NOPOS, compare=False, repr=False)

Supported field options (dataclasses.field): default, default_factory, compare, repr.
`class SourcePos(Record, kw_only=False)`: positional parameters, as dataclass(kw_only=False).
"""
from __future__ import annotations

import copyreg
import dataclasses
import ipaddress
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, dataclass_transform

_MISSING = dataclasses.MISSING
_set = object.__setattr__


def _rebuild(cls: type[Record], values: tuple[Any, ...]) -> Record:
    """Unpickle: the slots set straight from the pickled values (no __init__ run)."""
    obj: Record = object.__new__(cls)
    for put, value in zip(cls._setters, values, strict=True):
        put(obj, value)
    return obj


def _getter(names: tuple[str, ...]) -> Any:
    """A function returning the tuple of the named attributes (attrgetter gives a bare value
    for one name, a tuple for several)."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


class _RecordMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                kw_only: bool = True) -> _RecordMeta:
        if not any(isinstance(b, _RecordMeta) for b in bases):       # Record itself
            return super().__new__(mcls, name, bases, ns)
        inherited: dict[str, dataclasses.Field[Any]] = {}
        for b in reversed(bases):
            inherited.update(getattr(b, "__dataclass_fields__", {}))
        own: dict[str, dataclasses.Field[Any]] = {}
        for fname, ftype in ns.get("__annotations__", {}).items():
            if isinstance(ftype, str) and ftype.startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = ns.pop(fname, _MISSING)
            f: Any = value if isinstance(value, dataclasses.Field) else dataclasses.field(
                default=value)
            f.name = fname
            f.type = ftype
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            f.kw_only = kw_only
            own[fname] = f
        ns["__slots__"] = tuple(n for n in own if n not in inherited)
        if kw_only:
            ns.setdefault("__match_args__", ())
        cls = super().__new__(mcls, name, bases, ns)
        fields = {**inherited, **own}
        names = tuple(fields)
        if not kw_only:
            cls.__match_args__ = tuple(n for n, f in fields.items() if not f.kw_only)  # type: ignore[attr-defined,misc]
        cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]
        cls._names = names  # type: ignore[attr-defined]
        cls._fieldset = frozenset(names)  # type: ignore[attr-defined]
        cls._cmp = _getter(tuple(n for n, f in fields.items() if f.compare))  # type: ignore[attr-defined]
        cls._shown = tuple(n for n, f in fields.items() if f.repr)  # type: ignore[attr-defined]
        cls._values = _getter(names)  # type: ignore[attr-defined]
        # the slots' own descriptors set a field: twice as fast as object.__setattr__, which
        # looks the name up first (unpickling 200 instances' ~15,000 fields)
        cls._setters = tuple(getattr(cls, n).__set__ for n in names)  # type: ignore[attr-defined]
        if "__init__" not in ns:
            cls.__init__ = Record.__init__  # type: ignore[misc]  # compiled on first use
        return cls


@dataclass_transform(kw_only_default=True, frozen_default=True,
                     field_specifiers=(dataclasses.field, dataclasses.Field))
class Record(metaclass=_RecordMeta):
    """Base of the frozen model classes (see the module docstring)."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]]
    _fieldset: ClassVar[frozenset[str]]
    _shown: ClassVar[tuple[str, ...]]
    _values: ClassVar[Callable[[Any], tuple[Any, ...]]]
    _setters: ClassVar[tuple[Callable[[Any, Any], None], ...]]

    def __init__(self, *args: Any, **kw: Any) -> None:
        # first instantiation of this class: compile its own __init__, then run it
        cls = type(self)
        init = _compile_init(cls)
        cls.__init__ = init  # type: ignore[method-assign]
        init(self, *args, **kw)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        cmp = self.__class__._cmp  # type: ignore[attr-defined]
        return bool(cmp(self) == cmp(other))

    def __hash__(self) -> int:
        return hash(self.__class__._cmp(self))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
        return f"{self.__class__.__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self.__class__, self.__class__._values(self))  # type: ignore[attr-defined]


def _compile_init(cls: type) -> Any:
    """`def __init__(self, *, a, b=<default>, c=<factory>)` for `cls`, as dataclass() writes
    it (a default_factory runs when the argument is not given)."""
    env: dict[str, Any] = {"_MISSING": _MISSING}
    params: list[str] = []
    body: list[str] = []
    star = False
    for k, (name, f) in enumerate(cls.__dataclass_fields__.items()):  # type: ignore[attr-defined]
        env[f"_s_{name}"] = cls._setters[k]  # type: ignore[attr-defined]
        if f.kw_only and not star:
            params.append("*")
            star = True
        if f.default is not _MISSING:
            env[f"_d_{name}"] = f.default
            params.append(f"{name}=_d_{name}")
            body.append(f"    _s_{name}(self, {name})")
        elif f.default_factory is not _MISSING:
            env[f"_f_{name}"] = f.default_factory
            params.append(f"{name}=_MISSING")
            body.append(f"    _s_{name}(self, _f_{name}() if {name} is _MISSING else {name})")
        else:
            params.append(name)
            body.append(f"    _s_{name}(self, {name})")
    src = (f"def __init__(self{', ' if params else ''}{', '.join(params)}):\n"
           + ("\n".join(body) or "    pass") + "\n")
    exec(src, env)                      # our own field names: identifiers (annotations)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init



# The model's interface and network addresses (VIPs, routes) pickle as (integer, prefix length)
# rather than ipaddress's text form, which the child parses again on every reload (~6x slower to
# build). An IPv6 address with a %scope keeps the text form (the tuple form has no scope).
def _by_int(obj: Any) -> tuple[Any, ...]:
    if getattr(obj, "_scope_id", None):
        return type(obj), (str(obj),)
    ip = obj.network_address if isinstance(obj, ipaddress._BaseNetwork) else obj
    return type(obj), ((int(ip), obj._prefixlen),)


for _cls in (ipaddress.IPv4Interface, ipaddress.IPv6Interface, ipaddress.IPv4Network,
             ipaddress.IPv6Network):
    copyreg.pickle(_cls, _by_int)
