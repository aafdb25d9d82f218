"""A cache of the code `dataclasses` generates, kept beside the byte code (issue 16).

Why. Every `@dataclass` writes the source of its __init__, __repr__, __eq__, __hash__,
__setattr__... and compiles it when the class is created, at each start: about 450 small
compilations, 30-60 % of the CPU our imports take between exec and the first VIP (the
configuration model in the parent, the state machine's events and actions in the VRRP
child). The text generated for a class is the same at every start; only its compilation is
repeated. This keeps the compiled code objects, keyed by the exact source text, in one
marshal file per Python version, as Python keeps .pyc files.

How. `install()` loads the file and routes the `exec(text, globals, ns)` calls of the
dataclasses module through `_exec`, which takes the code object compiled from that very text
from the cache (a miss compiles it as dataclasses would: filename "<string>"); what runs is
still dataclasses' own text, with its own globals and namespace: a hit and a miss are the
same function. `save()` (called when start-up is over, core/startgc.py) writes the file back
when this process compiled something new, merged with what another process (a child) wrote
meanwhile, atomically; it writes nothing when Python is told not to write byte code
(PYTHONDONTWRITEBYTECODE, -B) or the directory is not writable. A file that cannot be read
as this Python's marshal of {str: code} is ignored (and replaced at the next save).
"""
from __future__ import annotations

import builtins
import marshal
import os
import sys
import zlib
from types import CodeType
from typing import Any

MAX_ENTRIES = 5000          # a cache grown past this (upgrades) is rewritten with what is new
_FORMAT = 1

# The file: marshal of (_FORMAT, index, blob). blob holds one marshalled (text, code) per class
# method; index maps the CRC-32 of a text to the (offset, length) of its entries in blob. The
# blob stays one bytes object (one allocation, given back whole when the cache is let go):
# only the entries this process uses are unmarshalled, and a hit is checked against the text.
_index: dict[int, list[tuple[int, int]]] = {}
_blob = b""
_codes: dict[str, CodeType] = {}    # compiled in this process: written by save()
_hits = 0
_new = 0
_installed = False
_released = False           # after save(): no caching (a forked child's respawn compiles)


def cache_path() -> str:
    """Where the byte code of this package goes (sys.pycache_prefix honoured)."""
    pkg = os.path.dirname(os.path.abspath(__file__))
    if sys.pycache_prefix:
        where = os.path.join(sys.pycache_prefix, pkg.lstrip(os.sep))
    else:
        where = os.path.join(pkg, "__pycache__")
    return os.path.join(where, f"dataclass-code.{sys.implementation.cache_tag}.marshal")


def _load(path: str) -> tuple[dict[int, list[tuple[int, int]]], bytes]:
    """(index, blob) of the file; empty if it is missing or not this version's format."""
    try:
        with open(path, "rb") as f:
            data = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}, b""
    if not (isinstance(data, tuple) and len(data) == 3 and data[0] == _FORMAT
            and isinstance(data[1], dict) and isinstance(data[2], bytes)):
        return {}, b""
    return data[1], data[2]


def _entry(blob: bytes, where: Any) -> tuple[str, CodeType] | None:
    try:
        off, length = where
        entry = marshal.loads(memoryview(blob)[off:off + length])
    except (EOFError, ValueError, TypeError):
        return None
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and \
            isinstance(entry[1], CodeType):
        return entry
    return None


def entries(path: str) -> dict[str, CodeType]:
    """Every (text: code) of the file at `path` (saving merges them; tests read them)."""
    index, blob = _load(path)
    out: dict[str, CodeType] = {}
    for places in index.values():
        for where in places if isinstance(places, list) else ():
            entry = _entry(blob, where)
            if entry is not None:
                out[entry[0]] = entry[1]
    return out


def _crc(source: str) -> int:
    return zlib.crc32(source.encode("utf-8", "surrogatepass"))


def _cached(source: str) -> CodeType | None:
    places = _index.get(_crc(source))
    if not places:
        return None
    for where in places:
        entry = _entry(_blob, where)
        if entry is not None and entry[0] == source:
            return entry[1]
    return None


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    global _new, _hits
    if type(source) is str and not _released:
        code = _cached(source) if _index else None
        if code is None:
            code = _codes.get(source)
        if code is None:
            code = compile(source, "<string>", "exec")
            _codes[source] = code
            _new += 1
        else:
            _hits += 1
        source = code
    builtins.exec(source, globals, locals)


def install() -> None:
    """Route dataclasses' compilations through the cache (once per process)."""
    global _installed, _index, _blob
    if _installed:
        return
    import dataclasses
    _index, _blob = _load(cache_path())
    dataclasses.exec = _exec         # type: ignore[attr-defined]  # the one name it compiles with
    _installed = True


def save() -> None:
    """Write the cache back if this process compiled anything new (see the module doc), then
    let it go: start-up is over (a class created later, by a lazy import, is compiled as
    dataclasses does it)."""
    global _new, _released, _index, _blob
    try:
        _write()
    finally:
        _codes.clear()
        _index, _blob = {}, b""
        _new = 0
        _released = True


def _write() -> None:
    if not _installed or not _new or sys.dont_write_bytecode:
        return
    path = cache_path()
    merged = entries(path)
    merged.update(_codes)
    if len(merged) > MAX_ENTRIES:
        merged = dict(_codes)
    index: dict[int, list[tuple[int, int]]] = {}
    parts: list[bytes] = []
    off = 0
    for source, code in merged.items():
        b = marshal.dumps((source, code))
        index.setdefault(_crc(source), []).append((off, len(b)))
        parts.append(b)
        off += len(b)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(marshal.dumps((_FORMAT, index, b"".join(parts))))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# the modules whose dataclasses a daemon creates at start (install.sh warms the cache with them)
WARM_MODULES = ("keepalived_py.cli", "keepalived_py.core.supervisor", "keepalived_py.config.build",
                "keepalived_py.core.childrun", "keepalived_py.vrrp.daemon",
                "keepalived_py.check.daemon", "keepalived_py.bfd.daemon")


def warm() -> int:
    """Compile the dataclasses of WARM_MODULES into the cache (install.sh: the first start of
    an installed daemon finds them compiled); a module that cannot be imported is skipped."""
    import importlib

    from keepalived_py import dccache as me  # (run as __main__, this file is another module)
    me.install()
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:       # an optional dependency missing: its dataclasses stay uncached
            continue
    me.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(warm())
