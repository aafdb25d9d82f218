"""`Record`: the base of the project's data classes — slotted classes that behave as
`@dataclass(slots=True, ...)` does for everything the code uses (the same __init__, ==, hash,
repr, pickling, `match` patterns, `dataclasses.fields/replace/asdict/is_dataclass`), at a
fraction of the cost of defining them (issue 16).

Why: dataclass() writes each class's __init__, __repr__, __eq__, __hash__, __setattr__,
__delattr__, __getstate__ and __setstate__ as source text and exec()s them one by one, then
creates the class a second time to add __slots__ (~0.3-0.6 ms a class; the VRRP child
defines ~40 of them at import, the configuration model ~30). Here the class is created once
with its __slots__ (the metaclass reads the annotations before type() runs), ==, hash, repr
and pickling are shared methods driven by per-class tuples of names, and the one generated
method, __init__, is compiled on the class's first instantiation (a class never instantiated
costs no compile at all). Nothing of the standard library is patched.

    class TrackRef(Record):                       # @dataclass(frozen=True, slots=True, kw_only=True)
        name: str
        weight: int | None = None
        pos: SourcePos = field(default=_NOPOS, compare=False, repr=False)

    class Peer(Record, kw_only=False):            # @dataclass(frozen=True, slots=True)
        address: Address
        min_ttl: int = 0

    class Timers(Record, kw_only=False, frozen=False):   # @dataclass(slots=True)
        down: float | None = None

Class keywords: kw_only (default True), frozen (default True; a mutable record is unhashable,
as a mutable dataclass with eq is), eq (default True; False: identity, as dataclass(eq=False)).
Field options (`field` here, or dataclasses.field): default, default_factory, compare, repr. A
class's own `__post_init__` runs at the end of __init__, as in a dataclass. A record class does
not derive from another record class.

The dataclasses module (and inspect, which it imports: ~10 ms) is not needed to define or use
records: `field`, `evolve` (dataclasses.replace) and `names` (the fields' names) are here, and
`__dataclass_fields__`, which dataclasses' functions read, is made on first access.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, TypeVar, dataclass_transform


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()      # no default (dataclasses.MISSING in the Fields made for it)


class _Spec:
    """One field: what `field()` says, then its name, annotation and kind."""

    __slots__ = ("compare", "default", "default_factory", "kw_only", "name", "repr", "type")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING,
                 compare: bool = True, repr: bool = True) -> None:
        self.default, self.default_factory = default, default_factory
        self.compare, self.repr = compare, repr
        self.name = ""
        self.type: Any = None
        self.kw_only = True


def field(*, default: Any = MISSING, default_factory: Any = MISSING, compare: bool = True,
          repr: bool = True) -> Any:
    """dataclasses.field for records (default, default_factory, compare, repr)."""
    return _Spec(default, default_factory, compare, repr)


def _spec_of(value: Any) -> _Spec:
    if isinstance(value, _Spec):
        return value
    if type(value).__name__ == "Field" and type(value).__module__ == "dataclasses":
        missing = sys.modules["dataclasses"].MISSING           # (dataclasses.field was called)
        return _Spec(MISSING if value.default is missing else value.default,
                     MISSING if value.default_factory is missing else value.default_factory,
                     bool(value.compare), bool(value.repr))
    return _Spec(default=value)


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
                kw_only: bool = True, frozen: bool = True, eq: bool = True) -> _RecordMeta:
        if not any(isinstance(b, _RecordMeta) for b in bases):       # Record itself
            return super().__new__(mcls, name, bases, ns)
        inherited: dict[str, _Spec] = {}
        for b in reversed(bases):
            inherited.update(getattr(b, "_specs", {}))
        own: dict[str, _Spec] = {}
        for fname, ftype in ns.get("__annotations__", {}).items():
            if isinstance(ftype, str) and ftype.startswith(("ClassVar", "typing.ClassVar")):
                continue
            f = _spec_of(ns.pop(fname, MISSING))
            f.name = fname
            f.type = ftype
            f.kw_only = kw_only
            own[fname] = f
        ns["__slots__"] = tuple(n for n in own if n not in inherited)
        ns["__dataclass_fields__"] = _LAZY_FIELDS       # this class's own, made when asked
        if kw_only:
            ns.setdefault("__match_args__", ())
        if not eq:                      # identity, as @dataclass(eq=False)
            ns.setdefault("__eq__", object.__eq__)
            ns.setdefault("__hash__", object.__hash__)
        if not frozen:
            # the plain object's attribute setting (the slots' descriptors), and no hash:
            # as @dataclass(eq=True) without frozen
            ns.setdefault("__setattr__", object.__setattr__)
            ns.setdefault("__delattr__", object.__delattr__)
            ns.setdefault("__hash__", None)
        cls = super().__new__(mcls, name, bases, ns)
        fields = {**inherited, **own}
        names = tuple(fields)
        if not kw_only:
            cls.__match_args__ = tuple(n for n, f in fields.items() if not f.kw_only)  # type: ignore[attr-defined,misc]
        cls._specs = fields  # type: ignore[attr-defined]
        cls.__dataclass_params__ = _Params(frozen)  # type: ignore[attr-defined]
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


class _Params:
    """What dataclasses.replace and friends read of a class's parameters."""

    __slots__ = ("frozen",)
    init = True
    eq = True
    repr = True
    order = False
    unsafe_hash = False
    match_args = True
    kw_only = False
    slots = True
    weakref_slot = False

    def __init__(self, frozen: bool) -> None:
        self.frozen = frozen


class _DataclassFields:
    """`__dataclass_fields__` of a record class, made (with dataclasses.Field objects) the first
    time something asks - dataclasses.fields, replace, asdict, is_dataclass - and then kept in
    the class itself."""

    def __get__(self, obj: Any, cls: type | None = None) -> dict[str, Any]:
        if cls is None:
            cls = type(obj)
        specs = cls.__dict__.get("_specs")
        if specs is None:                           # Record itself: not a data class
            raise AttributeError("__dataclass_fields__")
        import dataclasses
        out: dict[str, Any] = {}
        for name, s in specs.items():
            f: Any = dataclasses.field(
                default=dataclasses.MISSING if s.default is MISSING else s.default,
                default_factory=dataclasses.MISSING if s.default_factory is MISSING
                else s.default_factory, compare=s.compare, repr=s.repr)
            f.name, f.type, f.kw_only = name, s.type, s.kw_only
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            out[name] = f
        type.__setattr__(cls, "__dataclass_fields__", out)
        return out


_LAZY_FIELDS = _DataclassFields()


def _frozen_error(message: str) -> Exception:
    from dataclasses import FrozenInstanceError
    return FrozenInstanceError(message)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Record(metaclass=_RecordMeta):
    """Base of the record classes (see the module docstring)."""

    __slots__ = ()
    _specs: ClassVar[dict[str, _Spec]]
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
        raise _frozen_error(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _frozen_error(f"cannot delete field {name!r}")

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


_T = TypeVar("_T")


def evolve(obj: _T, /, **changes: Any) -> _T:
    """dataclasses.replace() for records, without a second run of the generated __init__: the
    fields are copied into a new object (read all at once) and `changes` set. A class with a
    __post_init__, an unknown field name or anything else goes to dataclasses.replace."""
    cls = type(obj)
    fieldset = getattr(cls, "_fieldset", None)
    if not isinstance(obj, Record) or fieldset is None or not changes.keys() <= fieldset or \
            hasattr(cls, "__post_init__"):
        import dataclasses
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    new = object.__new__(cls)
    for put, value in zip(cls._setters, cls._values(obj), strict=True):  # type: ignore[attr-defined]
        put(new, value)
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def names(cls: type) -> tuple[str, ...]:
    """The field names of a record class, in order (as dataclasses.fields lists them)."""
    return cls._names  # type: ignore[attr-defined, no-any-return]


def prepare(cls: type) -> bool:
    """Compile the __init__ of record class `cls` now instead of at its first instantiation
    (a process with time to spare before its start: core/prefork.py). True if it was not yet."""
    if vars(cls).get("__init__") is not Record.__init__:
        return False
    cls.__init__ = _compile_init(cls)  # type: ignore[misc]
    return True


def record_classes(prefixes: tuple[str, ...]) -> list[type]:
    """The record classes defined so far in the modules whose names start with `prefixes`."""
    out: list[type] = []
    todo = list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith(prefixes):
            out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


def _compile_init(cls: type) -> Any:
    """`def __init__(self, *, a, b=<default>, c=<factory>)` for `cls`, as dataclass() writes
    it (a default_factory runs when the argument is not given; __post_init__ last)."""
    env: dict[str, Any] = {"_MISSING": MISSING}
    params: list[str] = []
    body: list[str] = []
    star = False
    for k, (name, f) in enumerate(cls._specs.items()):  # type: ignore[attr-defined]
        env[f"_s_{name}"] = cls._setters[k]  # type: ignore[attr-defined]
        if f.kw_only and not star:
            params.append("*")
            star = True
        if f.default is not MISSING:
            env[f"_d_{name}"] = f.default
            params.append(f"{name}=_d_{name}")
            body.append(f"    _s_{name}(self, {name})")
        elif f.default_factory is not MISSING:
            env[f"_f_{name}"] = f.default_factory
            params.append(f"{name}=_MISSING")
            body.append(f"    _s_{name}(self, _f_{name}() if {name} is _MISSING else {name})")
        else:
            params.append(name)
            body.append(f"    _s_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = (f"def __init__(self{', ' if params else ''}{', '.join(params)}):\n"
           + ("\n".join(body) or "    pass") + "\n")
    exec(src, env)                      # our own field names: identifiers (annotations)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init
