"""What every script a child runs starts with, as keepalived 2.2.7 prepares it between fork and
exec (lib/notify.c system_call_script -> lib/process.c reset_process_priorities, then
lib/signals.c signal_handler_script):

- the nice value the child had before `<role>_priority` changed it;
- out of SCHED_RR (SCHED_RESET_ON_FORK does that in the kernel) and, when the child had set an
  RLIMIT_RTTIME, that limit "restored" to keepalived's never-filled original: 0/0 (2.2.7's
  orig_rlimit_rt is never read from the kernel; harmless for a SCHED_OTHER script, and what
  the binary's scripts show in /proc/PID/limits);
- the RLIMIT_NOFILE the checker had before raising it for its probes;
- every signal at its default disposition and none blocked;
- the daemon's umask: the command line's -u, else global_defs `umask`, else keepalived's
  default 0177 (lib/utils.c umask_val) - keepalived applies it to the whole process, we apply
  it to scripts (the daemon's own files keep their explicit modes);
- SIGTERM when the child that started it dies (lib/notify.c system_call: PR_SET_PDEATHSIG
  before execve, after the script's user and process group are set: notify scripts, track
  scripts, MISC_CHECKs, FIFO scripts alike). The parent-death signal can only be asked for
  in the new process: the script is started through util-linux's `setpriv --pdeathsig TERM`,
  which asks for it and execs the script (pid, parent and credentials unchanged). A
  `preexec_fn` would do it in Python at the cost of a full fork of the daemon (measured: ~50 ms
  a script with a 60 MB heap, against ~5 ms for the extra exec). `exec_argv` resolves the
  program first and raises the OSError the exec would have (ENOENT, EACCES, ENOEXEC for a file
  without #! or ELF header: setpriv's execvp would hand that to /bin/sh; keepalived 2.2.7,
  built without libmagic, execs it and fails).

The settings come from the child's state (core/sched.py ProcessSched) when the script is
started, so a reload or max_auto_priority is followed. The umask is a subprocess argument.
Nice and rlimits are set on the script's pid by the daemon as soon as it is started
(setpriority/prlimit; keepalived sets them in the forked child before exec): a `preexec_fn`
would stop subprocess from using vfork, and with it every fork of a checker running
thousands of MISC_CHECKs copies the whole page table (and under asyncio's pidfd watcher the
unit suite lost exits with it). Signals can only be reset before exec: a `preexec_fn` is
passed for them, only when some signal is ignored or blocked (never in our children so far).
"""
from __future__ import annotations

import errno
import os
import resource
import signal
import stat
from collections.abc import Callable
from typing import Any

from keepalived_py.config.model_process import DEFAULT_UMASK, ProcessDefs

_umask = DEFAULT_UMASK
_orig_nofile: tuple[int, int] | None = None
# subprocess restores these itself (restore_signals=True)
_RESTORED_BY_PYTHON = frozenset({signal.SIGPIPE, signal.SIGXFSZ})


def configure(cmdline_umask: int | None, p: ProcessDefs) -> None:
    """The umask scripts get (at start and at each reload of the child)."""
    global _umask
    _umask = cmdline_umask if cmdline_umask is not None else \
        p.umask if p.umask is not None else DEFAULT_UMASK


def remember_nofile(limits: tuple[int, int]) -> None:
    """RLIMIT_NOFILE as it was before the child first raised it (check/probe.py)."""
    global _orig_nofile
    if _orig_nofile is None:
        _orig_nofile = limits


def _ignored_signals() -> list[int]:
    out: list[int] = []
    for sig in signal.valid_signals():
        if sig in _RESTORED_BY_PYTHON or sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                out.append(int(sig))
        except (ValueError, OSError):
            continue
    return out


def _signals(ignored: list[int], blocked: bool) -> Callable[[], None]:
    def child() -> None:            # in the forked child, before exec
        for sig in ignored:
            signal.signal(sig, signal.SIG_DFL)
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
    return child


def _limits(nice: int | None, rttime: bool, nofile: tuple[int, int] | None
            ) -> Callable[[int], None]:
    def apply(pid: int) -> None:
        if rttime:
            _prlimit(pid, resource.RLIMIT_RTTIME, (0, 0))
        if nofile is not None:
            _prlimit(pid, resource.RLIMIT_NOFILE, nofile)
        if nice is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, pid, nice)
            except OSError:
                pass                        # the script has already exited
    return apply


def _prlimit(pid: int, which: int, value: tuple[int, int]) -> None:
    try:
        resource.prlimit(pid, which, value)
    except (OSError, ValueError):
        pass                                # the script has already exited


def prepare() -> tuple[dict[str, Any], Callable[[int], None] | None]:
    """Keyword arguments for asyncio.create_subprocess_exec that give a script keepalived's
    start (its umask; a preexec_fn only for signals), and what to apply to the script's pid
    once it runs (None: nothing)."""
    from keepalived_py.core import sched
    cur = sched.current()
    nice = None
    rttime = False
    if cur is not None:
        if cur.orig_nice is not None and \
                os.getpriority(os.PRIO_PROCESS, 0) != cur.orig_nice:
            nice = cur.orig_nice
        rttime = bool(cur.rt_priority and cur.rttime_set)
    nofile = None
    if _orig_nofile is not None and resource.getrlimit(resource.RLIMIT_NOFILE) != _orig_nofile:
        nofile = _orig_nofile
    ignored = _ignored_signals()
    blocked = bool(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    kw: dict[str, Any] = {"umask": _umask}
    if ignored or blocked:
        kw["preexec_fn"] = _signals(ignored, blocked)
    post = _limits(nice, rttime, nofile) if nice is not None or rttime or nofile else None
    return kw, post


_SETPRIV: list[str | None] = []         # [path or None] once looked up


def _which(prog: str, path: str | None = None) -> str | None:
    """shutil.which, imported with the first script (shutil brings bz2, lzma, fnmatch: not
    for the daemon's start, issue 16)."""
    import shutil
    return shutil.which(prog, path=path)


def _setpriv() -> str | None:
    if not _SETPRIV:
        path = _which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
        _SETPRIV.append(path)
        if path is None:
            from keepalived_py.obs import slog
            slog.get_logger("keepalived_py.core.scriptenv").warning(
                "script.pdeathsig.unavailable",
                why="setpriv (util-linux) not found: scripts do not die with the daemon")
    return _SETPRIV[0]


def exec_argv(argv: list[str]) -> list[str]:
    """The command line that runs `argv` with SIGTERM as its parent-death signal, keepalived's
    (see the module's docstring). Raises OSError as exec-ing argv[0] would."""
    prog = argv[0]
    path = prog if "/" in prog else _which(prog)
    if path is None:
        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), prog)
    try:
        isdir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as e:
        raise OSError(e.errno, os.strerror(e.errno or 0), prog) from None
    if isdir or not os.access(path, os.X_OK):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), prog)
    with open(path, "rb") as f:          # (raises ENOENT / EACCES itself)
        head = f.read(4)
    if not (head.startswith(b"#!") or head == b"\x7fELF"):
        raise OSError(errno.ENOEXEC, os.strerror(errno.ENOEXEC), prog)
    setpriv = _setpriv()
    if setpriv is None:
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", path, *argv[1:]]
