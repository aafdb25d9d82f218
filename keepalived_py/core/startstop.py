"""What the parent does around its children, from global_defs (keepalived 2.2.7 main.c):

- `umask`: the parent's umask, keepalived's 0177 by default (the children and every file
  they create inherit it: core/umask.py); the command line's -u wins, as in keepalived
  ("umask command line option specified, ignoring config option").
- `use_pid_dir`: the pidfiles go to /run/keepalived/ (keepalived.pid, vrrp.pid...), unless
  given on the command line.
- `random_seed`: the seed of the parent's generator (the children inherit its state by fork).
- `startup_script` / `startup_script_timeout`: run before any child is started; the children
  start when it ends, fails or is killed at its timeout (SIGTERM, then SIGKILL to its group).
- `shutdown_script` / `shutdown_script_timeout`: run after the children have stopped.
- `child_wait_time`: how long the parent waits for stopping children before SIGKILL.
- `config_save_dir`: a copy of the configuration each time the parent reads it (at start and
  at every reload), `DIR/keepalived.conf.PID.N` as keepalived names it. keepalived saves its
  preprocessed copy (comments stripped, include markers); keepalived-py saves the files read,
  each after a `# PATH` line.

Difference kept on purpose: keepalived 2.2.7 running a start/stop script as a non-root user
(script_user, or `startup_script CMD USER`) was found by an earlier investigation of this
project to SIGTERM itself when the script times out (not re-measured here; its timeout
handling is main.c handle_child_timeout, kill(-pid, ...)). keepalived-py runs the script in
a session of its own and signals only that group (track/script.py run_command): a script
that overruns its timeout is killed, the daemon goes on.
"""
from __future__ import annotations

import os

from keepalived_py.config.model import Script
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.obs import slog
from keepalived_py.options import PID_DIR, Options
from keepalived_py.record import evolve as replace

log = slog.get_logger("keepalived_py.supervisor")


def apply_options(options: Options, p: ProcessDefs) -> Options:
    """The command line with what global_defs adds to it (pidfile directory)."""
    if p.use_pid_dir and not options.namespace:
        options = replace(
            options,
            pid_file=options.pid_file or f"{PID_DIR}/keepalived.pid",
            vrrp_pid_file=options.vrrp_pid_file or f"{PID_DIR}/vrrp.pid",
            checkers_pid_file=options.checkers_pid_file or f"{PID_DIR}/checkers.pid",
            bfd_pid_file=options.bfd_pid_file or f"{PID_DIR}/bfd.pid")
    return options


def apply_parent(options: Options, p: ProcessDefs) -> None:
    """umask and random_seed, in the parent before any child is forked."""
    from keepalived_py.core import scriptenv, umask
    scriptenv.configure(options.umask, p)       # the startup/shutdown scripts' umask
    if p.umask is not None and options.umask is not None:
        log.info("supervisor.umask", compat="umask command line option specified,"
                                            " ignoring config option")
    umask.apply(options.umask, p)               # keepalived's default 0177 too (core/umask.py)
    if p.random_seed is not None:
        import random
        random.seed(p.random_seed)
    if not p.max_auto_priority:
        log.info("supervisor.max_auto_priority", compat="NOTICE: setting config option"
                 " max_auto_priority should result in better keepalived performance")


async def run_script(kind: str, script: Script | None, timeout: int) -> None:
    """startup or shutdown script: waited for at most `timeout` seconds; never raises."""
    if script is None:
        return
    from keepalived_py.track.script import run_command
    log.info(f"supervisor.{kind}_script", script=script.text,
             compat=f"Running {kind} script {script.argv[0]}")
    out = await run_command(script, float(timeout or 10))
    if out.exit_type == "timed_out":
        log.warning(f"supervisor.{kind}_script.timeout", script=script.text, timeout=timeout,
                    compat=f"{kind} script timed out")
    elif not out.success:
        log.info(f"supervisor.{kind}_script.failed", script=script.text, detail=out.reason,
                 compat=f"{kind} script failed, status {out.code}" if out.code is not None
                 else f"Call of {kind} script {script.argv[0]} failed")


_saved = 0


def save_config(directory: str | None, files: tuple[str, ...]) -> str | None:
    """config_save_dir: the configuration just read, as one file; its path (None: none)."""
    global _saved
    if not directory or not files:
        return None
    try:
        os.mkdir(directory, 0o700)            # keepalived's parent makes it when missing
    except FileExistsError:
        pass
    except OSError as e:
        log.info("supervisor.config_save.failed", path=directory, error=e.strerror)
        return None
    path = f"{directory}/keepalived.conf.{os.getpid()}.{_saved}"
    _saved += 1
    parts = []
    for name in files:
        try:
            with open(name, errors="replace") as f:
                parts.append(f"# {name}\n{f.read()}")
        except OSError as e:
            parts.append(f"# {name}: {e.strerror}\n")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(p if p.endswith("\n") else p + "\n" for p in parts))
    except OSError as e:
        log.info("supervisor.config_save.failed", path=path, error=e.strerror)
        return None
    return path
