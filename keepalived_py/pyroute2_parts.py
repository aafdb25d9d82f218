"""pyroute2's modules without its package __init__ (issue 16).

pyroute2's __init__ imports every part of the library (IPDB, NDB, conntrack, ethtool, nftables,
wireguard, psutil...): several times the CPU of the few modules keepalived-py uses (the
proc connector's and inotify's message layouts, AsyncIPRoute for routes, rules and VMACs).
Call `pyroute2_without_its_init()` before `from pyroute2.x import y`.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys


def pyroute2_without_its_init() -> None:
    """Make `pyroute2.x.y` importable without running pyroute2/__init__.py first.

    The package module is created empty; its real __init__ runs on the first attribute it
    does not have (`from pyroute2 import IPVS` elsewhere still works). Nothing happens if
    pyroute2 is already imported."""
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    pkg = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def whole(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")     # a submodule: just it
        del pkg.__dict__["__getattr__"]
        loader.exec_module(pkg)
        return getattr(pkg, name)
    pkg.__getattr__ = whole  # type: ignore[method-assign]
    sys.modules["pyroute2"] = pkg
