"""A child process: `python -m keepalived_py.core.childrun ROLE PARENT_PID FD`.

The supervisor forks and execs this (so the child starts with a clean interpreter and its
role in its command line, for ps), keeping FD, its end of the control socketpair. The child
dies with its parent (PR_SET_PDEATHSIG, checked at start), receives ("start", options,
config), builds the role's daemon, says ("ready",) once the configuration is loaded, and
sends a heartbeat every 0.5 s from its event loop — a stuck loop stops the heartbeat and the
parent restarts it. Signals sent to the child directly work as in keepalived: TERM/INT stop
it, USR1/USR2 and the JSON and STATS_CLEAR signals write dumps.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import sys
from typing import Any

import structlog

from keepalived_py.core.channel import encode, read_message
from keepalived_py.core.child import DumpKind
from keepalived_py.core.process import die_with_parent, set_name

HEARTBEAT = 0.5
FACTORIES = {"vrrp": "keepalived_py.vrrp.daemon", "checker": "keepalived_py.check.daemon"}
DUMP_SIGNALS = {
    signal.SIGUSR1: DumpKind.DATA,
    signal.SIGUSR2: DumpKind.STATS,
    signal.SIGRTMIN + 2: DumpKind.JSON,
    signal.SIGRTMIN + 29: DumpKind.STATS_CLEAR,
}


async def _run(role: str, sock: socket.socket, connector: socket.socket | None = None) -> int:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    first = await read_message(reader)
    if not first or first[0] != "start":
        return 1
    _, options, config = first
    from keepalived_py.obs.logging import setup
    setup(options, role)
    log = structlog.get_logger("keepalived_py.child").bind(role=role)
    daemon: Any = importlib.import_module(FACTORIES[role]).create(options)
    if connector is not None:
        daemon.connector = connector
    stop = asyncio.Event()
    release = {"value": True}

    def on_stop() -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)   # the parent drives reloads
    for sig, kind in DUMP_SIGNALS.items():
        loop.add_signal_handler(sig, daemon.dump, kind)

    def send(*msg: Any) -> None:
        if not writer.is_closing():
            writer.write(encode(msg))

    from keepalived_py.notify.scripts import set_script_defaults
    set_script_defaults(config.global_defs)         # the user scripts run as (issue 12.5)
    await daemon.start(config)
    send("ready")
    log.info("child.ready", pid=os.getpid())

    async def heartbeat() -> None:
        while True:
            send("hb")
            await asyncio.sleep(HEARTBEAT)

    async def commands() -> None:
        while True:
            msg = await read_message(reader)
            if msg is None:                     # the parent is gone
                stop.set()
                return
            if msg[0] == "reload":
                try:
                    set_script_defaults(msg[1].global_defs)
                    await daemon.reload(msg[1])
                    send("reloaded", True)
                except Exception as e:
                    log.error("child.reload_failed", error=repr(e))
                    send("reloaded", False)
            elif msg[0] == "dump":
                daemon.dump(msg[1])
            elif msg[0] == "stop":
                release["value"] = bool(msg[1])
                stop.set()
                return

    tasks = [loop.create_task(heartbeat()), loop.create_task(commands())]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await daemon.stop(release["value"])
    log.info("child.stopped")
    writer.close()
    return 0


def main(argv: list[str]) -> int:
    role, parent_pid, fd = argv[0], int(argv[1]), int(argv[2])
    die_with_parent(parent_pid)
    set_name({"vrrp": "kpy-vrrp", "checker": "kpy-checker"}.get(role, "kpy-child"))
    sock = socket.socket(fileno=fd)
    # a proc connector the parent opened before entering a network namespace (-s)
    connector = socket.socket(fileno=int(argv[3])) if len(argv) > 3 else None
    return asyncio.run(_run(role, sock, connector))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
