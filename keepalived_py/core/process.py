"""Process plumbing: parent-death signal, process names, daemonizing."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepalived_py.config.model import GlobalDefs

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_MM = 35
PR_SET_MM_ARG_END = 9


def _load_libc() -> ctypes.CDLL:
    """glibc by its soname first: find_library runs /sbin/ldconfig -p (a process, tens of
    milliseconds on every start); it is asked only where libc.so.6 is not the name."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library
        return ctypes.CDLL(find_library("c"), use_errno=True)


_libc = _load_libc()


def libc() -> ctypes.CDLL:
    """The C library, loaded once for the process (track/file.py's inotify calls use it)."""
    return _libc


def trim_heap() -> None:
    """Give the C heap's free memory back to the kernel (glibc malloc_trim): what reading and
    building the configuration freed stays in the heap otherwise, counted in the process's
    memory for as long as it lives."""
    try:
        _libc.malloc_trim(0)
    except AttributeError:          # not glibc
        pass


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel for `sig` when the parent dies; exit now if it already has."""
    _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(0)


def set_name(name: str) -> None:
    """The kernel's process name, /proc/PID/comm (ps -e, top, pgrep -x): at most 15 bytes."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def comm_for(role: str, global_defs: GlobalDefs | None) -> str:
    """keepalived's process names: every process is `keepalived` unless global_defs says
    process_name (the parent, and the children without their own), vrrp_process_name or
    checker_process_name (`process_names` sets those two to keepalived_vrrp, keepalived_lvs)."""
    g = global_defs
    own = None
    if g is not None:
        own = {"vrrp": g.vrrp_process_name, "checker": g.checker_process_name,
               "bfd": g.process.bfd_process_name}.get(role)
    return own or (g.process_name if g is not None else None) or "keepalived"


def set_cmdline(argv: Sequence[str]) -> bool:
    """Make /proc/self/cmdline read `argv` (what ps -f, pidof and pgrep -f see).

    keepalived's processes all show the command line keepalived was started with. CPython has
    no call that sets argv[0] of a running process, and exec'ing the interpreter with argv[0]
    "keepalived" does not work: CPython then looks "keepalived" up in PATH to find its own
    executable and prefix — /usr/sbin/keepalived when the real one is installed — and loses its
    site-packages. So the argument strings the kernel placed at exec (arg_start..arg_end in
    /proc/self/stat; CPython works on copies) are overwritten in place, and the area is
    shortened with prctl(PR_SET_MM_ARG_END) where that is allowed (CAP_SYS_RESOURCE); where it
    is not, the rest of the area is NUL bytes: ps and pidof show `argv` exactly, a reader that
    splits on NUL sees empty arguments after it. `argv` must fit in the original area (the
    supervisor execs its children with room to spare); True if all of it was written.
    """
    data = b"\0".join(a.encode("utf-8", "surrogateescape") for a in argv) + b"\0"
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        with open("/proc/self/cmdline", "rb") as f:
            current = f.read()
        start, end = int(fields[45]), int(fields[46])     # fields 48 and 49: arg_start, arg_end
    except (OSError, IndexError, ValueError):
        return False
    size = end - start
    if size <= 0 or len(current) != size:
        return False                  # not the plain layout the kernel made: leave it alone
    whole = len(data) <= size
    if not whole:
        data = data[:size - 1] + b"\0"
    ctypes.memmove(start, data, len(data))
    ctypes.memset(start + len(data), 0, size - len(data))
    _libc.prctl(PR_SET_MM, PR_SET_MM_ARG_END, ctypes.c_ulong(start + len(data)), 0, 0)
    return whole


def daemonize(umask: int | None) -> None:
    """Classic double fork: detach from the terminal and session; stdio to /dev/null."""
    chain = sys.modules.get("keepalived_py.obs.slogchain")
    if chain is not None:
        chain.flush()       # lines waiting for structlog reach the console while it is there
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(umask if umask is not None else 0o022)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    sys.stdout = open(os.devnull, "w")
    sys.stderr = open(os.devnull, "w")


def proc_stat_fields(pid: int) -> list[bytes] | None:
    """/proc/PID/stat's fields from field 3 (state) on, or None if gone. The command name in
    parentheses may itself contain spaces and parentheses: the fields are taken after the
    last ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data.rsplit(b")", 1)[-1].split()


def read_proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, utime+stime in clock ticks) from /proc/PID/stat, or None if gone.

    The command name in parentheses may itself contain spaces and parentheses, so the fields
    are taken after the last ')'.
    """
    fields = proc_stat_fields(pid)
    if fields is None:
        return None
    try:
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15
        return fields[0].decode("ascii", "replace"), int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return None


class ProcStat:
    """read_proc_stat for the supervisor's watchdog, which looks at each child every 0.5 s
    (issue 16.2): /proc/PID/stat stays open per child and is read again with pread, not
    opened, read and closed each time (half the cost). The open descriptor names that process,
    not its pid: once it is gone the read fails (ESRCH) and gives None, even if the pid has
    been reused. `keep(pids)` closes the descriptors of the others."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def read(self, pid: int) -> tuple[str, int] | None:
        fd = self._fds.get(pid)
        try:
            if fd is None:
                fd = self._fds[pid] = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(fd, 4096, 0)
        except OSError:
            self._close(pid)
            return None
        fields = data.rsplit(b")", 1)[-1].split()
        try:
            return fields[0].decode("ascii", "replace"), int(fields[11]) + int(fields[12])
        except (IndexError, ValueError):
            return None

    def keep(self, pids: set[int]) -> None:
        for pid in [p for p in self._fds if p not in pids]:
            self._close(pid)

    def _close(self, pid: int) -> None:
        fd = self._fds.pop(pid, None)
        if fd is not None:
            os.close(fd)


CLONE_NEWNET = 0x40000000


def enter_netns(name: str) -> None:
    """setns(2) into the named network namespace (/run/netns/NAME). Raises OSError."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)
