"""The daemon's umask, as keepalived 2.2.7 applies it (main.c umask_val, set_umask;
global_parser.c umask_handler; checked against the binary in a namespace,
tests/integration/test_process_defs.py):

- every process of the daemon runs with it: the command line's -u, else global_defs `umask`
  (applied when read: at start, and again by each process at a reload that changes it),
  else keepalived's default 0177 (S_IXUSR | S_IRWXG | S_IRWXO: "umask = 0177" in the dump);
- the files keepalived creates plainly follow it: the dump files (keepalived.data, .stats,
  .json, keepalived_bfd.data, the checker's) are 0666 less the umask (0600 by default);
- pidfiles (and the reload file) stay readable by everyone: keepalived creates them 0644 under
  the umask less its group/other read bits (0644 by default and with 0027, 0444 with 0200).

The current umask is read once from /proc/self/status (os.umask can only be read by
changing it, which would race the dump writer's thread), then follows apply().
"""
from __future__ import annotations

import os

from keepalived_py.config.model import Config, evolve
from keepalived_py.config.model_process import DEFAULT_UMASK, ProcessDefs


def of(cmdline: int | None, p: ProcessDefs) -> int:
    """The umask the configuration and the command line give."""
    return cmdline if cmdline is not None else p.umask if p.umask is not None else DEFAULT_UMASK


def keep_last(new: Config, running: Config) -> Config:
    """A reloaded configuration without `umask` keeps the running one's (keepalived's umask_val
    is only changed by a umask line: checked against the binary, test_umask_files.py)."""
    old = running.global_defs.process.umask
    gd = new.global_defs
    if gd.process.umask is not None or old is None:
        return new
    return evolve(new, global_defs=evolve(gd, process=evolve(gd.process, umask=old)))


_current: int | None = None      # what apply() set, or /proc read once


def apply(cmdline: int | None, p: ProcessDefs) -> int:
    """Set this process's umask from the command line and the configuration; the value set."""
    global _current
    value = of(cmdline, p)
    os.umask(value)
    _current = value
    return value


def current() -> int:
    """This process's umask (DEFAULT_UMASK when /proc cannot tell): read once, then what
    apply() sets (a dump request must not cost a /proc read)."""
    global _current
    if _current is None:
        _current = _read()
    return _current


def _read() -> int:
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_UMASK


def dump_mode() -> int:
    """A dump file's mode: 0666 less the umask (keepalived's fopen)."""
    return 0o666 & ~current()


def pidfile_mode() -> int:
    """A pidfile's mode: 0644 less the umask's bits other than group/other read."""
    return 0o644 & ~(current() & ~0o044)
