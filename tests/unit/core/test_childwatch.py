from __future__ import annotations

import asyncio
import sys
import threading

from keepalived_py.core.childwatch import use_pidfd_child_watcher


def test_subprocess_exits_are_seen_without_a_thread_per_subprocess() -> None:
    async def scenario() -> None:
        before = threading.active_count()
        installed = use_pidfd_child_watcher(asyncio.get_running_loop())
        assert installed or sys.version_info >= (3, 12)
        procs = [await asyncio.create_subprocess_exec("/bin/sh", "-c", f"sleep 0.2; exit {i}")
                 for i in range(5)]
        # ThreadedChildWatcher would run one waitpid thread per subprocess
        assert threading.active_count() == before
        assert [await p.wait() for p in procs] == list(range(5))
    try:
        asyncio.run(scenario())
    finally:
        if sys.version_info < (3, 12):
            asyncio.set_child_watcher(None)
