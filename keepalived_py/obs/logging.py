"""structlog set-up: keepalived's destinations (-l console, syslog unless -G, -g FILE with a
per-process suffix, -D detail) and its operator lines kept word for word in `compat`."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys

import structlog

from keepalived_py.options import Options

ROLE_SUFFIX = {"parent": "", "vrrp": "_vrrp", "checker": "_healthcheckers", "bfd": "_bfd"}


def _compat_renderer(_: object, __: str, event: dict[str, object]) -> str:
    """keepalived's own words when the event carries them, else dotted name + key=value."""
    compat = event.pop("compat", None)
    name = event.pop("event", "")
    level = event.pop("level", "info")
    if compat is not None:
        tail = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("timestamp",))
        return f"{compat}" + (f" [{name} {tail}]" if tail and level == "debug" else "")
    return f"{name} " + " ".join(f"{k}={v}" for k, v in event.items() if k != "timestamp")


def _json_renderer(_: object, __: str, event: dict[str, object]) -> str:
    """One JSON object per line: the dotted event name, level, facts, keepalived's words."""
    import json
    return json.dumps({k: (v if isinstance(v, (int, float, bool, str)) or v is None else str(v))
                       for k, v in event.items()}, sort_keys=True)


QUIET_LIBRARIES = ("pyroute2", "scapy", "asyncio", "psutil")


def setup(options: Options, role: str = "parent") -> None:
    handlers: list[logging.Handler] = []
    if options.log_console or options.dont_fork and options.no_syslog:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s: %(message)s", "%a %b %d %H:%M:%S %Y"))
        handlers.append(h)
    if not options.no_syslog and os.path.exists("/dev/log"):
        try:
            sh = logging.handlers.SysLogHandler("/dev/log", facility=options.log_facility or 3)
            ident = "Keepalived" + {"vrrp": "_vrrp", "checker": "_healthcheckers"}.get(role, "")
            sh.setFormatter(logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
            handlers.append(sh)
        except OSError:
            pass
    if options.log_file:
        stem, ext = os.path.splitext(options.log_file)
        try:
            fh = logging.FileHandler(f"{stem}{ROLE_SUFFIX.get(role, '')}{ext}")
            fh.setFormatter(logging.Formatter("%(asctime)s: %(message)s", "%a %b %d %H:%M:%S %Y"))
            handlers.append(fh)
        except OSError:
            pass
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(logging.DEBUG if options.log_detail else logging.INFO)
    # -D is keepalived's detail, not third-party libraries' internals: theirs stay quiet
    for lib in QUIET_LIBRARIES:
        logging.getLogger(lib).setLevel(logging.WARNING)
    renderer = _json_renderer if options.log_json else _compat_renderer
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, renderer],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if options.log_detail else logging.INFO),
        cache_logger_on_first_use=False,
    )
