"""Log set-up (obs/slog.py's loggers -> `logging`): keepalived's destinations (-l console,
syslog unless -G, -g FILE with a per-process suffix, -D detail) and its operator lines kept
word for word in `compat`."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys

from keepalived_py.obs import slog
from keepalived_py.obs.slog import EventDict
from keepalived_py.options import Options

ROLE_SUFFIX = {"parent": "", "vrrp": "_vrrp", "checker": "_healthcheckers", "bfd": "_bfd"}


def _compat_renderer(event: EventDict) -> str:
    """keepalived's own words when the event carries them, else dotted name + key=value."""
    compat = event.pop("compat", None)
    name = event.pop("event", "")
    level = event.pop("level", "info")
    if compat is not None:
        tail = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("timestamp",))
        return f"{compat}" + (f" [{name} {tail}]" if tail and level == "debug" else "")
    return f"{name} " + " ".join(f"{k}={v}" for k, v in event.items() if k != "timestamp")


def _json_renderer(event: EventDict) -> str:
    """One JSON object per line: the dotted event name, level, facts, keepalived's words."""
    import json
    return json.dumps({k: (v if isinstance(v, (int, float, bool, str)) or v is None else str(v))
                       for k, v in event.items()}, sort_keys=True)


QUIET_LIBRARIES = ("pyroute2", "scapy", "asyncio", "psutil")
_TEXT_FORMAT = ("%(asctime)s: %(message)s", "%a %b %d %H:%M:%S %Y")


class _JsonFormatter(logging.Formatter):
    """--log-format=json on every sink: one JSON object per line. our records are
    already JSON (the time is added); records of other loggers (asyncio's "Task exception was
    never retrieved", an uncaught exception) become objects too, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}"
        msg = record.getMessage()
        if record.name != "python" and msg.startswith("{") and not record.exc_info:
            try:
                obj = json.loads(msg)
                if isinstance(obj, dict):
                    obj.setdefault("timestamp", ts)
                    return json.dumps(obj, sort_keys=True)
            except ValueError:
                pass
        out: dict[str, object] = {"event": "python.log", "logger": record.name,
                                  "level": record.levelname.lower(), "message": msg,
                                  "timestamp": ts}
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, sort_keys=True)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.WARNING:
        return True
    return not any(record.name == lib or record.name.startswith(lib + ".")
                   for lib in QUIET_LIBRARIES)


def _formatter(options: Options) -> logging.Formatter:
    return _JsonFormatter() if options.log_json else logging.Formatter(*_TEXT_FORMAT)


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: object) -> None:
    """sys.excepthook: an uncaught exception goes through the configured sinks (console,
    syslog, file), also after daemonizing, when stderr is /dev/null."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)  # type: ignore[arg-type]
        return
    logging.getLogger("python").critical("uncaught exception: %s", value,
                                         exc_info=(kind, value, tb))  # type: ignore[arg-type]


def setup(options: Options, role: str = "parent") -> None:
    handlers: list[logging.Handler] = []
    if options.log_console or options.dont_fork and options.no_syslog:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(_formatter(options))
        handlers.append(console)
    if not options.no_syslog and os.path.exists("/dev/log"):
        try:
            sh = logging.handlers.SysLogHandler("/dev/log", facility=options.log_facility or 3)
            ident = "Keepalived" + {"vrrp": "_vrrp", "checker": "_healthcheckers"}.get(role, "")
            sh.setFormatter(_JsonFormatter() if options.log_json
                            else logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
            handlers.append(sh)
        except OSError:
            pass
    if options.log_file:
        stem, ext = os.path.splitext(options.log_file)
        try:
            fh = logging.FileHandler(f"{stem}{ROLE_SUFFIX.get(role, '')}{ext}")
            fh.setFormatter(_formatter(options))
            handlers.append(fh)
        except OSError:
            pass
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    # no format here shows the caller (file, line, function): the logging module's stack walk
    # for it (findCaller, the dearest part of a log call) is switched off
    logging._srcfile = None  # type: ignore[attr-defined]
    root.setLevel(logging.DEBUG if options.log_detail else logging.INFO)
    sys.excepthook = _log_uncaught
    # a fatal signal (SIGSEGV, SIGABRT...) still leaves the Python stacks somewhere readable
    import faulthandler
    sink = next((h.stream for h in handlers if isinstance(h, logging.FileHandler)), None)
    try:
        faulthandler.enable(file=sink if sink is not None else sys.stderr, all_threads=True)
    except (OSError, ValueError, AttributeError):
        pass
    # -D is keepalived's detail, not third-party libraries' internals: theirs stay quiet. A
    # filter on our handlers, since a library may reset its own loggers' levels on import
    # (pyroute2 does).
    for h in handlers:
        h.addFilter(_quiet_libraries)
    renderer = _json_renderer if options.log_json else _compat_renderer
    slog.configure(renderer, logging.DEBUG if options.log_detail else logging.INFO)
