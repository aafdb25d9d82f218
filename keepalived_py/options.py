"""Options: the parsed command line (keepalived(8) flags), shared by the parent and the children.

cli.py fills it; nothing else parses argv.
"""
from __future__ import annotations

from keepalived_py.record import Record, field


class Options(Record):
    config_file: str = "/etc/keepalived/keepalived.conf"
    use_vrrp: bool = False           # -P/--vrrp
    use_checker: bool = False        # -C/--check
    use_bfd: bool = False            # -B/--no_bfd inverted? see cli.py
    no_bfd: bool = False             # -B/--no_bfd: no BFD child even with bfd_instance blocks
    all_children: bool = False       # --all
    log_console: bool = False        # -l
    log_detail: bool = False         # -D
    log_facility: int = 0            # -S 0..7 -> LOG_LOCALn
    no_syslog: bool = False          # -G
    log_file: str | None = None      # -g[FILE]
    flush_log_file: bool = False
    dont_release_vrrp: bool = False  # -V
    dont_release_ipvs: bool = False  # -I
    dont_respawn: bool = False       # -R
    dont_fork: bool = False          # -n
    dump_conf: bool = False          # -d
    dump_json: bool = False          # keepalived-py: -d in JSON
    log_json: bool = False           # keepalived-py: --log-format=json
    prometheus: str | None = None    # keepalived-py: --prometheus=HOST:PORT|unix:PATH (off)
    dataplane: str | None = None     # keepalived-py: --dataplane=auto|ipvs|nftables
    pid_file: str | None = None      # -p ; None: default from namespace/instance
    vrrp_pid_file: str | None = None     # -r
    checkers_pid_file: str | None = None  # -c
    bfd_pid_file: str | None = None       # -b
    namespace: str | None = None     # -s
    instance: str | None = None      # -i config id
    execute: str | None = None       # -e ... see cli
    config_id: str | None = None     # -i
    umask: int | None = None         # -u
    config_test: bool = False        # -t
    all_config: bool = False         # -e: a missing configuration file is an error
    config_test_file: str | None = None
    ignore_sigint: bool = False
    debug: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)  # flags accepted, not yet acted on
    command_line: tuple[str, ...] = ()  # the arguments as given (every process shows them)


RUN_DIR = "/run"
PID_DIR = "/run/keepalived"


def resolve_pidfiles(options: Options, instance: str | None = None) -> dict[str, str]:
    """Pidfile paths as keepalived 2.2.7's binary chooses them.

    Default: /run/keepalived.pid, /run/vrrp.pid, /run/checkers.pid, /run/bfd.pid. With a
    config `instance` name: /run/keepalived/keepalived_NAME.pid etc. With -s NAMESPACE,
    keepalived bind-mounts /run/keepalived/NAMESPACE over /run/keepalived, so seen from the
    host the files are /run/keepalived/NAMESPACE/keepalived.pid etc. -p/-r/-c/-b win.
    """
    if options.namespace or instance:
        base = PID_DIR if not options.namespace else f"{PID_DIR}/{options.namespace}"
        suffix = f"_{instance}" if instance else ""
        names = {role: f"{base}/{stem}{suffix}.pid" for role, stem in
                 (("parent", "keepalived"), ("vrrp", "vrrp"), ("checker", "checkers"),
                  ("bfd", "bfd"))}
    else:
        names = {"parent": f"{RUN_DIR}/keepalived.pid", "vrrp": f"{RUN_DIR}/vrrp.pid",
                 "checker": f"{RUN_DIR}/checkers.pid", "bfd": f"{RUN_DIR}/bfd.pid"}
    for role, given in (("parent", options.pid_file), ("vrrp", options.vrrp_pid_file),
                        ("checker", options.checkers_pid_file), ("bfd", options.bfd_pid_file)):
        if given:
            names[role] = given
    return names


def control_socket(options: Options, role: str = "vrrp") -> str:
    """A process's control socket: beside its pidfile (keepalived-py-vrrp.ctl,
    keepalived-py-parent.ctl ...)."""
    import os
    pid = resolve_pidfiles(options)[role]
    return os.path.join(os.path.dirname(pid) or "/run", f"keepalived-py-{role}.ctl")
