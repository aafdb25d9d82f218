"""asyncio without the ssl module until something uses TLS (issue 16).

Why. asyncio's base_events, selector_events and sslproto import `ssl` when they are imported
(`try: import ssl / except ImportError: ssl = None`), and with it OpenSSL's two libraries:
about a tenth of the parent's imports between exec and the VRRP child's fork. A daemon
with VRRP only never uses TLS; the checker child does for SSL_GET (check/checkers.py), as
does `genhash`, and both import ssl themselves before they make a context.

How. `import_asyncio()` imports asyncio while an import of ssl fails, so those three modules
hold `ssl = None`, as on a Python built without OpenSSL. Then a finder waits on
sys.meta_path for the first real `import ssl` in the process (or in a child forked from it)
and, once ssl is loaded, gives asyncio's modules the module and what sslproto derives from it
(SSLAgainErrors): from then on asyncio is the one a plain `import asyncio` gives. If asyncio
or ssl is already imported, or asyncio's modules do not look as expected (another Python),
asyncio and ssl are imported as usual.
"""
from __future__ import annotations

import sys
from typing import Any

_USERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


def _give(ssl: Any) -> None:
    """asyncio's modules get `ssl` where they hold None."""
    for name in _USERS:
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "ssl", 0) is None:
            mod.ssl = ssl
    proto = sys.modules.get("asyncio.sslproto")
    if proto is not None and not hasattr(proto, "SSLAgainErrors"):
        proto.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)


class _WaitForSsl:
    """A sys.meta_path finder for the first `import ssl`: the usual spec, whose loader gives
    asyncio the module once it has run (then this finder is gone)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "ssl":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec("ssl")
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _give(module)
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def waiting() -> bool:
    """asyncio is waiting for ssl (nothing imported it yet)."""
    return any(isinstance(f, _WaitForSsl) for f in sys.meta_path)


def import_asyncio() -> None:
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        import asyncio
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]     # `import ssl` raises ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        if sys.modules.get("ssl", 0) is None:
            del sys.modules["ssl"]
    if any(getattr(sys.modules.get(n), "ssl", 0) is not None for n in _USERS):
        # not the asyncio this knows: as usual
        import ssl
        _give(ssl)
        return
    sys.meta_path.insert(0, _WaitForSsl())
