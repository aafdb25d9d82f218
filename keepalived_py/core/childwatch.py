"""Subprocess exits seen through pidfds, not through one thread per subprocess.

Theory of operation. Python 3.11 (Debian 12's) makes asyncio wait for every subprocess it
starts (vrrp_script, notify scripts, MISC_CHECK, ...) with `ThreadedChildWatcher`: one new
thread per subprocess, and `Thread.start()` blocks the event loop until that thread has been
scheduled and has run. On a loaded machine this is a wait for a CPU, once per script run, on
the loop that sends adverts: measured with 100 vrrp_scripts and three CPU hogs on 2 cores,
single loop ticks were late by 1-3 s, most of it spent blocked (not runnable), and exits were
sometimes lost ("Unknown child process pid ..."). `PidfdChildWatcher` (Linux 5.3+) instead
adds the subprocess's pidfd to the loop's selector: no thread, nothing to wait for.
Python 3.12 and later choose pidfds by themselves (and deprecate child watchers), so this
acts on 3.11 and earlier only, and only when the kernel has pidfd_open(2).
"""
from __future__ import annotations

import asyncio
import os
import sys
import warnings


def use_pidfd_child_watcher(loop: asyncio.AbstractEventLoop) -> bool:
    """Make asyncio watch subprocesses of `loop` (which must be running in the main thread)
    through pidfds; True when installed, False when Python or the kernel does it already or
    cannot. Never raises."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:                         # ENOSYS: a kernel older than 5.3
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(loop)
        asyncio.set_child_watcher(watcher)
    return True
