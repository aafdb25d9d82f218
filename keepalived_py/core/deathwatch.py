"""A child's death seen at its first instant, not at the end of its exit (issue 15).

Theory of operation. The kernel sends SIGCHLD (and makes a pidfd readable) only once a process
has finished exiting, after its descriptors were released; releasing some of them waits for RCU
grace periods: an inotify descriptor (track_file) flushes the fsnotify mark reaper, an
AF_PACKET socket (the gratuitous ARP sender) calls synchronize_rcu. Measured beside CPU hogs:
10-40 ms a kill, 180 ms at times, during which the parent could not know. The descriptors of
an exiting process are released last-opened-first (task_work runs in LIFO order): the child
moves its end of the control socketpair to a high descriptor number (`to_high_fd`), so the
parent reads EOF on it about a millisecond after the kill, before the slow releases. At that
EOF the dying process already carries its exit code (/proc/PID/stat field 52, set at the top of
do_exit): `death_by_signal` returns it when the death is by a signal (SIGKILL, SIGSEGV...), and
the supervisor treats it as reaped then. An exit with a status (keepalived's permanent errors,
-R) and anything undecided wait for SIGCHLD as before; the zombie is collected by the usual
waitpid loop. On a kernel that closes in another order the EOF simply comes with the exit.
"""
from __future__ import annotations

import fcntl
import os
import resource

from keepalived_py.core.process import proc_stat_fields

PF_EXITING = 0x4
HIGH_FD = 4095          # table of 4096 descriptors: 32 KiB; a child with more may open above it


def to_high_fd(fd: int) -> int:
    """A close-on-exec copy of `fd` at the highest number up to HIGH_FD that the descriptor
    limit allows, `fd` itself closed; `fd` unchanged when that cannot be done."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(HIGH_FD, soft - 1 if soft != resource.RLIM_INFINITY else HIGH_FD)
    if want <= fd:
        return fd
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, want)
    except OSError:             # EMFILE, EINVAL: a lowered limit
        return fd
    os.close(fd)
    return high


def death_by_signal(pid: int) -> int | None:
    """The wait status of `pid` if it is dying (or dead, unreaped) by a signal, else None
    (alive, exiting with a status, gone, or unreadable)."""
    fields = proc_stat_fields(pid)
    if fields is None:
        return None
    try:
        # field 9 (flags: PF_EXITING once in do_exit), field 52 (exit_code)
        flags, code = int(fields[6]), int(fields[49])
    except (IndexError, ValueError):
        return None
    if flags & PF_EXITING and code and os.WIFSIGNALED(code):
        return code
    return None
