"""A child process, started by the supervisor in one of two ways:

- forked (`run_forked`, the default): the child goes on from the supervisor's fork with the
  interpreter, modules and configuration model the parent already has (no second interpreter
  start, no re-import of asyncio/logging/the config model; pages shared copy-on-write, the
  parent's objects frozen out of the collector with gc.freeze() before the fork). It then
  imports only its role's code. Its command line is the parent's (keepalived's).
- exec'd: `python -m keepalived_py.core.childrun ROLE PARENT_PID FD CONNECTOR -- TITLE...`, a
  clean interpreter (kept for debugging and for tests that replace the interpreter start);
  /proc/PID/cmdline becomes TITLE (keepalived's command line, which the exec arguments leave
  room for).

Either way the child keeps FD, its end of the control socketpair (CONNECTOR is a
proc-connector fd or "-"), takes comm `keepalived` at once and dies with its parent
(PR_SET_PDEATHSIG, checked at start). It receives ("start", options, config), names itself as
the configuration says (vrrp_process_name...), builds the role's daemon and says ("ready",)
once the configuration is loaded. From the moment its event loop runs it sends
("hb", SEQ, LAG) every 0.5 s — LAG is how late its own timer fired, so the supervisor can tell
a slow host from a stuck loop (core/liveness.py). Signals sent to the child directly work as
in keepalived: TERM/INT stop it, USR1/USR2 and the JSON and STATS_CLEAR signals write dumps.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import sys
import traceback
from typing import Any

from keepalived_py.core.channel import encode, read_message
from keepalived_py.core.child import (
    DUMP_SIGNALS,
    EXIT_CONFIG,
    EXIT_MISSING_PERMISSION,
    EXIT_PROGRAM_ERROR,
)
from keepalived_py.core.liveness import beat_due
from keepalived_py.core.process import comm_for, die_with_parent, set_cmdline, set_name
from keepalived_py.errors import ConfigError
from keepalived_py.obs import slog

HEARTBEAT = 0.5
# exit statuses (keepalived's lib/scheduler.h; the supervisor ends the daemon on 1, 2 and 4)
FACTORIES = {"vrrp": "keepalived_py.vrrp.daemon", "checker": "keepalived_py.check.daemon",
             "bfd": "keepalived_py.bfd.daemon"}


async def _run(role: str, sock: socket.socket, connector: socket.socket | None = None,
               start: tuple[Any, Any] | None = None) -> int:
    loop = asyncio.get_running_loop()
    from keepalived_py.core.childwatch import use_pidfd_child_watcher
    use_pidfd_child_watcher(loop)           # scripts' exits without a thread each (core/childwatch.py)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    if start is None:
        first = await read_message(reader)
        if not first or first[0] != "start":
            return 0            # the parent went away before starting us (1 would be FATAL)
        _, options, config = first
    else:
        options, config = start
    set_name(comm_for(role, config.global_defs))
    from keepalived_py.core.sched import ProcessSched
    sched = ProcessSched(role)              # <role>_priority, _rt_priority... (core/sched.py)

    def send(*msg: Any) -> None:
        if not writer.is_closing():
            writer.write(encode(msg))

    async def heartbeat() -> None:
        seq = 0
        lag = told = 0.0
        while True:
            if beat_due(seq, lag, told):            # every 2 s, and each late one (liveness.py)
                send("hb", seq, lag)
                told = lag
            seq += 1
            t0 = loop.time()
            await asyncio.sleep(HEARTBEAT)
            lag = max(0.0, loop.time() - t0 - HEARTBEAT)
            sched.late(lag)                     # max_auto_priority

    # beats start before the (possibly slow) imports and start-up, and are sent whenever the
    # loop gets to run; the supervisor never kills a child that is not ready for silence
    tasks = [loop.create_task(heartbeat())]
    await asyncio.sleep(0)
    from keepalived_py.obs.logging import setup
    setup(options, role)
    from keepalived_py.obs import memtrace
    memtrace.start_if_asked()                   # KEEPALIVED_PY_TRACEMALLOC=1: dumps show it
    log = slog.get_logger("keepalived_py.child").bind(role=role)
    daemon: Any = importlib.import_module(FACTORIES[role]).create(options)
    if hasattr(daemon, "to_parent"):
        daemon.to_parent = send                 # the BFD child's session events (issue 17)
    if connector is not None:
        daemon.connector = connector
    stop = asyncio.Event()
    release = {"value": True}

    def on_stop() -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)   # the parent drives reloads
    for dump_sig, kind in DUMP_SIGNALS.items():
        loop.add_signal_handler(dump_sig, daemon.dump, kind)

    from keepalived_py.notify.scripts import set_script_defaults
    set_script_defaults(config.global_defs)         # the user scripts run as (issue 12.5)
    from keepalived_py.core import scriptenv, umask
    scriptenv.configure(options.umask, config.global_defs.process)   # scripts' umask
    # <role>_priority, _rt_priority, _no_swap, _cpu_affinity before the role starts, as
    # keepalived sets them before its first timer: a respawned VRRP child reaches its first
    # advert at the configured priority (issue 15). After the role's import: on a first
    # start that is the long non-blocking stretch a SCHED_RR child's RLIMIT_RTTIME would count.
    # What is in force is logged once started: no log write before a respawn's first advert
    sched.apply(config.global_defs.process, announce=False)
    await daemon.start(config)
    sched.announce()
    # what start-up built (modules, config, the daemon's tables) lives as long as the child:
    # out of the collector, so a full collection triggered by a dump's garbage stays short
    # and never sits between a timer and its advert
    import gc
    gc.collect()
    gc.freeze()
    from keepalived_py.core import startgc
    startgc.resume()                            # paused since exec (core/startgc.py)
    from keepalived_py.core.process import trim_heap
    trim_heap()
    send("ready")
    log.info("child.ready", pid=os.getpid())
    profiler = _bench_profile(role)

    held = [config]                             # the configuration last started or reloaded

    async def commands() -> None:
        while True:
            msg = await read_message(reader)
            if msg is None:                     # the parent is gone
                stop.set()
                return
            if msg[0] == "reload":
                if msg[1] is not None:          # None: the one held (core/channel.py)
                    held[0] = msg[1]
                new = held[0]
                try:
                    set_script_defaults(new.global_defs)
                    await daemon.reload(new)
                    if new.global_defs.process != sched.applied:
                        sched.apply(new.global_defs.process)
                        scriptenv.configure(options.umask, new.global_defs.process)
                        umask.apply(options.umask, new.global_defs.process)
                    set_name(comm_for(role, new.global_defs))
                    send("reloaded", True)
                except Exception as e:
                    log.error("child.reload_failed", error=repr(e))
                    send("reloaded", False)
            elif msg[0] == "dump":
                daemon.dump(msg[1])
            elif msg[0] == "bfd":               # ("bfd", {name: up}) relayed from the BFD child
                if hasattr(daemon, "bfd_event"):
                    daemon.bfd_event(msg[1])
            elif msg[0] == "stop":
                release["value"] = bool(msg[1])
                stop.set()
                return

    tasks.append(loop.create_task(commands()))
    await stop.wait()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{os.environ['KP_BENCH_PROFILE']}.{role}.{os.getpid()}")
    for t in tasks:
        t.cancel()
    await daemon.stop(release["value"])
    log.info("child.stopped")
    writer.close()
    return 0


def _bench_profile(role: str) -> Any:
    """bench/vrrp_profile.py: KP_BENCH_PROFILE=PATH profiles the ready child until it stops
    (the steady state, start-up excluded) into PATH.ROLE.PID. Never set in service."""
    if not os.environ.get("KP_BENCH_PROFILE"):
        return None
    import cProfile
    profiler = cProfile.Profile()
    after = float(os.environ.get("KP_BENCH_PROFILE_AFTER") or 0)     # past the settling
    asyncio.get_running_loop().call_later(after, profiler.enable)
    return profiler


# what a role's start imports on the way to its first packets, besides its module: imported
# ahead by a child forked at exec while the parent reads the configuration (core/prefork.py);
# LATER: what it imports after its first packets, imported ahead only while there is time
PRELOAD = ("keepalived_py.core.childwatch", "keepalived_py.core.sched",
           "keepalived_py.obs.logging", "keepalived_py.obs.slogchain", "faulthandler", "pwd",
           "keepalived_py.obs.memtrace",
           "keepalived_py.notify.scripts", "keepalived_py.core.scriptenv",
           "keepalived_py.core.umask")
PRELOAD_ROLE = {"vrrp": ("keepalived_py.vrrp.lvs_syncd", "keepalived_py.vrrp.startup_delay",
                         "keepalived_py.vrrp.startclean",
                         "keepalived_py.vrrp.exports")}
LATER = ("keepalived_py.obs.control",)
LATER_ROLE = {"vrrp": ("keepalived_py.vrrp.rxbufs",)}


def preload(role: str) -> None:
    """Import what `role`'s start will import before its first packets (core/prefork.py). An
    import that fails is left to the start, which reports it."""
    for name in (FACTORIES[role], *PRELOAD, *PRELOAD_ROLE.get(role, ())):
        _try_import(name)


def later(role: str) -> tuple[str, ...]:
    """What `role`'s start imports after its first packets (core/prefork.py: while idle)."""
    return (*LATER, *LATER_ROLE.get(role, ()))


def _try_import(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:
        pass


def main(argv: list[str]) -> int:
    role, parent_pid, fd, conn = argv[0], int(argv[1]), int(argv[2]), argv[3]
    title = argv[5:] if len(argv) > 5 and argv[4] == "--" else ["keepalived"]
    set_cmdline(title)
    from keepalived_py.core import startgc
    startgc.pause()                             # resumed once started (core/startgc.py)
    return _main(role, parent_pid, fd, int(conn) if conn != "-" else None)


def run_forked(role: str, parent_pid: int, fd: int, connector: int | None,
               start: tuple[Any, Any] | None = None) -> int:
    """The child's main straight after the supervisor's fork (no exec); returns its status.

    start: (options, config) as the parent has them (it then sends no "start" message: the
    child needs no pickled copy of what the fork gave it).
    The caller has reset the signal dispositions and mask and must `os._exit` with the
    result: the parent's stack below us is never unwound in the child."""
    from keepalived_py.core import startgc
    startgc.pause()             # a respawn too starts without the collector (core/startgc.py)
    chain = sys.modules.get("keepalived_py.obs.slogchain")
    if chain is not None:
        chain.forked()          # the log lines waiting are the parent's (obs/slogchain.py)
    return _main(role, parent_pid, fd, connector, start)


def _main(role: str, parent_pid: int, fd: int, conn: int | None,
          start: tuple[Any, Any] | None = None) -> int:
    set_name("keepalived")
    die_with_parent(parent_pid)
    from keepalived_py.core.deathwatch import to_high_fd
    fd = to_high_fd(fd)         # released first when we die: the parent knows at once
    sock = socket.socket(fileno=fd)
    # a proc connector the parent opened before entering a network namespace (-s)
    connector = socket.socket(fileno=conn) if conn is not None else None
    try:
        return asyncio.run(_run(role, sock, connector, start))
    except ConfigError as e:
        # keepalived's permanent errors end the whole daemon (no respawn loop): CONFIG ...
        slog.get_logger("keepalived_py.child").error("child.config_failed", role=role,
                                                          error=str(e), compat=str(e))
        return EXIT_CONFIG
    except PermissionError as e:
        # ... and MISSING_PERMISSION (keepalived: no CAP_NET_RAW for its VRRP/ARP sockets)
        slog.get_logger("keepalived_py.child").error("child.permission_failed", role=role,
                                                          error=str(e), compat=str(e))
        return EXIT_MISSING_PERMISSION
    except Exception:
        # a bug, not one of keepalived's permanent errors (1, 2, 4 end the whole daemon):
        # the supervisor respawns a child that exits 70 (EX_SOFTWARE)
        slog.get_logger("keepalived_py.child").exception("child.crashed", role=role)
        traceback.print_exc()
        return EXIT_PROGRAM_ERROR


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
