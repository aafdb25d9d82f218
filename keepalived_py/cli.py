"""The command line: keepalived(8) 2.2.x's options, spellings, outputs and exit codes.

Where keepalived's manual and its binary disagree, this follows Debian's 2.2.7 binary:
`-v` and `-h` print to stderr and exit 0; an unknown option prints "Unknown option ..." and
exits 1; `-t` exits 0 (clean), 4 (only fatal problems: missing interface), 5 (any error or
warning) or 6 (scripts without enable_script_security); `--signum=NAME` prints the number.
Subcommands that keepalived lacks: `demo`, `status`, `genhash` (also `-T`).
"""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from keepalived_py import KEEPALIVED_COMPAT_VERSION, __version__
from keepalived_py.errors import UsageError
from keepalived_py.options import Options
from keepalived_py.record import evolve as replace

SIGNUMS = {
    "STOP": int(signal.SIGTERM),
    "RELOAD": int(signal.SIGHUP),
    "DATA": int(signal.SIGUSR1),
    "STATS": int(signal.SIGUSR2),
    "STATS_CLEAR": int(signal.SIGRTMIN) + 29,     # 63 on Linux, as keepalived
    "JSON": int(signal.SIGRTMIN) + 2,             # 36 on Linux, as keepalived
}

USAGE = """Usage: keepalived-py [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -g, --log-file=FILE          Also log to FILE (default /tmp/keepalived.log)
      --flush-log-file         Flush log file on write
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
      --dump-format=text|json  keepalived-py: format of -d (default text)
      --log-format=text|json   keepalived-py: key=value lines (default) or JSON lines
      --prometheus=ADDR        keepalived-py: serve Prometheus metrics on HOST:PORT or unix:PATH
      --dataplane=auto|ipvs|nftables
                               keepalived-py: the load-balancing dataplane (overrides the
                                global_defs keyword; default auto: IPVS when the kernel has it)
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --perf[=all|run|end]     Collect perf data
      --debug[=...]            Enable debug options
      --no-mem-check           Disable malloc() etc mem-checks
      --ignore-sigint          Ignore SIGINT (default on with --dont-fork)
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
  -v, --version                Display the version number
  -h, --help                   Display this help message

Subcommands (keepalived-py): demo | status [--json] | genhash ...
"""

# option -> (long name, takes argument: "no" | "yes" | "optional", Options field)
SHORT = {
    "f": ("use-file", "yes"), "P": ("vrrp", "no"), "C": ("check", "no"), "B": ("no_bfd", "no"),
    "l": ("log-console", "no"), "D": ("log-detail", "no"), "S": ("log-facility", "yes"),
    "g": ("log-file", "optional"), "G": ("no-syslog", "no"), "u": ("umask", "yes"),
    "X": ("release-vips", "no"), "V": ("dont-release-vrrp", "no"),
    "I": ("dont-release-ipvs", "no"), "R": ("dont-respawn", "no"), "n": ("dont-fork", "no"),
    "d": ("dump-conf", "no"), "p": ("pid", "yes"), "r": ("vrrp_pid", "yes"),
    "T": ("genhash", "no"), "c": ("checkers_pid", "yes"), "a": ("address-monitoring", "no"),
    "b": ("bfd_pid", "yes"), "x": ("snmp", "no"), "A": ("snmp-agent-socket", "yes"),
    "s": ("namespace", "yes"), "m": ("core-dump", "no"), "M": ("core-dump-pattern", "optional"),
    "e": ("all-config", "no"), "i": ("config-id", "yes"), "t": ("config-test", "optional"),
    "v": ("version", "no"), "h": ("help", "no"),
}
LONG = {name: (short, arg) for short, (name, arg) in SHORT.items()}
LONG.update({
    "all": ("", "no"), "flush-log-file": ("", "no"), "signum": ("", "yes"),
    "perf": ("", "optional"), "debug": ("", "optional"), "no-mem-check": ("", "no"),
    "ignore-sigint": ("", "no"), "dump-format": ("", "yes"), "prometheus": ("", "yes"),
    "log-format": ("", "yes"), "config-fd": ("", "yes"), "dataplane": ("", "yes"),
})
# the long options of Debian's keepalived 2.2.7 binary (its getopt_long table): abbreviations
# are unique prefixes of these (--vers, --dont-f, --log-con); --dont and --no are ambiguous
KEEPALIVED_LONG = (
    "use-file", "vrrp", "check", "no_bfd", "all", "log-console", "log-detail", "log-facility",
    "log-file", "all-config", "no-syslog", "umask", "release-vips", "dont-release-vrrp",
    "dont-release-ipvs", "dont-respawn", "dont-fork", "dump-conf", "pid", "vrrp_pid", "genhash",
    "checkers_pid", "address-monitoring", "bfd_pid", "snmp", "snmp-agent-socket", "core-dump",
    "core-dump-pattern", "namespace", "config-id", "signum", "config-test", "config-fd",
    "version", "help",
)
# accepted, but the subsystem behind them is not built: said once, never silently ignored
NOT_BUILT = {
    "core-dump": "core dumps are not produced by keepalived-py (Python tracebacks are logged)",
    "core-dump-pattern": "core dumps are not produced by keepalived-py",
    "perf": "--perf (perf data collection) is not supported by keepalived-py",
    "no-mem-check": "--no-mem-check has no effect: keepalived-py has no malloc checker",
    "address-monitoring": "-a (address monitoring report) is not implemented yet",
    "release-vips": "-X (release VIPs on signal) is not implemented yet",
}


def _resolve_long(given: str) -> str | None:
    """getopt_long's rule: an exact name, else a prefix naming one option; None if unknown or
    ambiguous. Prefixes are resolved against keepalived's own options first, so that our
    additions never make a keepalived abbreviation ambiguous (`--dump` is --dump-conf)."""
    if given in LONG:
        return given
    theirs = [n for n in KEEPALIVED_LONG if n.startswith(given)]
    if theirs:
        return theirs[0] if len(theirs) == 1 else None
    ours = [n for n in LONG if n.startswith(given)]
    return ours[0] if len(ours) == 1 else None


def parse_args(argv: Sequence[str]) -> tuple[Options, list[str]]:
    """getopt_long-compatible parsing. Returns (options, notes about unbuilt subsystems).

    Raises UsageError with keepalived's messages (one per line) when an option is unknown,
    ambiguous or lacks its parameter — unless -v or -h came first, which win as in keepalived.
    """
    options, notes, errors, _ = parse(argv)
    if errors and not ({"version", "help", "signum"} & options.extra.keys()):
        raise UsageError("\n".join(errors))
    return options, notes


def parse(argv: Sequence[str]) -> tuple[Options, list[str], list[str], list[str]]:
    """(options, notes, errors, unexpected arguments), keepalived's way: an error is reported
    and parsing goes on; -v / -h end it at once; non-option words are set aside."""
    o: dict[str, object] = {}
    notes: list[str] = []
    errors: list[str] = []
    unexpected: list[str] = []
    extra: dict[str, object] = {}
    args = list(argv)
    i = 0

    def apply(name: str, value: str | None) -> None:
        if name in NOT_BUILT and NOT_BUILT[name] not in notes:
            notes.append(NOT_BUILT[name])
        if name == "use-file":
            o["config_file"] = value
        elif name == "vrrp":
            o["use_vrrp"] = True
        elif name == "check":
            o["use_checker"] = True
        elif name == "no_bfd":
            o["no_bfd"] = True
        elif name == "all":
            o["all_children"] = True
        elif name == "log-console":
            o["log_console"] = True
        elif name == "log-detail":
            o["log_detail"] = True
        elif name == "log-facility":
            o["log_facility"] = _facility(value or "")
        elif name == "log-file":
            o["log_file"] = value or "/tmp/keepalived.log"
        elif name == "flush-log-file":
            o["flush_log_file"] = True
        elif name == "no-syslog":
            o["no_syslog"] = True
        elif name == "umask":
            v = value or ""
            try:                            # strtol(..., 0): 0x hex, leading 0 octal
                o["umask"] = int(v, 16) if v.lower().startswith("0x") else \
                    int(v, 8) if v.startswith("0") else int(v, 10)
            except ValueError:
                raise UsageError(f"Invalid umask '{value}'") from None
        elif name == "dont-release-vrrp":
            o["dont_release_vrrp"] = True
        elif name == "dont-release-ipvs":
            o["dont_release_ipvs"] = True
        elif name == "dont-respawn":
            o["dont_respawn"] = True
        elif name == "dont-fork":
            o["dont_fork"] = True
        elif name == "dump-conf":
            o["dump_conf"] = True
        elif name == "dump-format":
            if value not in ("text", "json"):
                raise UsageError(f"Invalid dump format '{value}'")
            o["dump_json"] = value == "json"
        elif name == "pid":
            o["pid_file"] = value
        elif name == "vrrp_pid":
            o["vrrp_pid_file"] = value
        elif name == "checkers_pid":
            o["checkers_pid_file"] = value
        elif name == "bfd_pid":
            o["bfd_pid_file"] = value
        elif name == "namespace":
            o["namespace"] = value
        elif name == "config-id":
            o["config_id"] = value
        elif name == "config-test":
            o["config_test"] = True
            o["config_test_file"] = value
        elif name == "log-format":
            if value not in ("text", "json"):
                raise UsageError(f"Invalid log format '{value}'")
            o["log_json"] = value == "json"
        elif name == "prometheus":
            o["prometheus"] = value
        elif name == "dataplane":
            if value not in ("auto", "ipvs", "nftables"):
                raise UsageError(f"Invalid dataplane '{value}' (auto, ipvs or nftables)")
            o["dataplane"] = value
        elif name == "all-config":
            o["all_config"] = True
        elif name == "ignore-sigint":
            o["ignore_sigint"] = True
        elif name == "debug":
            o["debug"] = tuple((value or "").split(",")) if value else ("all",)
        else:
            extra[name] = value if value is not None else True

    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            unexpected.extend(args[i:])
            break
        if a.startswith("--"):
            given, eq, value = a[2:].partition("=")
            name = _resolve_long(given)
            if name is None:
                errors.append(f"Unknown option {a}")
                continue
            _, kind = LONG[name]
            if kind == "no" and eq:
                errors.append(f"Unknown option {a}")        # getopt: takes no argument
                continue
            if kind == "yes" and not eq:
                if i >= len(args):
                    errors.append(f"Missing parameter for option --{name}")
                    continue
                value = args[i]
                i += 1
            if kind == "yes" and value == "":
                errors.append(f"Missing parameter for option --{name}")
                continue
            apply(name, value if (eq or kind == "yes") else None)
            if name in ("version", "help", "signum"):
                break                               # keepalived acts on these at once
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            stop = False
            while j < len(a):
                ch = a[j]
                if ch not in SHORT:
                    errors.append(f"Unknown option -{ch}")
                    j += 1
                    continue
                name, kind = SHORT[ch]
                rest = a[j + 1:]
                if kind == "no":
                    apply(name, None)
                    j += 1
                    if name in ("version", "help"):
                        stop = True
                        break
                    continue
                if kind == "optional":
                    apply(name, rest.lstrip("=") or None)
                elif rest:
                    apply(name, rest)
                elif i < len(args):
                    apply(name, args[i])
                    i += 1
                else:
                    errors.append(f"Missing parameter for option -{ch}")
                break
            if stop:
                break
            continue
        unexpected.append(a)                        # getopt moves these to the end
    if extra:
        o["extra"] = extra
    return Options(**o), notes, errors, unexpected  # type: ignore[arg-type]


def _facility(value: str) -> int:
    v = value.lower()
    if v.isdigit() and 0 <= int(v) <= 7:
        return 16 + int(v)                 # LOG_LOCALn as facility codes 16..23
    if v.startswith("local") and v[5:].isdigit() and 0 <= int(v[5:]) <= 7:
        return 16 + int(v[5:])
    if v == "user":
        return 1
    if v == "daemon":
        return 3
    raise UsageError(f"Invalid log facility '{value}'")


KEEPALIVED_VERSION_LINE = "Keepalived v2.2.7 (01/16,2022)"
# what keepalived's "Config options:" line names, limited to what keepalived-py really does
CONFIG_OPTIONS = "NFTABLES LVS REGEX VRRP VRRP_AUTH JSON INIT=systemd SYSTEMD_NOTIFY"


def _distro() -> str | None:
    """PRETTY_NAME from os-release, as keepalived's `Distro:` line."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    key, _, value = line.strip().partition("=")
                    if key == "PRETTY_NAME":
                        return value.strip().strip('"')
        except OSError:
            continue
    return None


def version_text() -> str:
    """keepalived -v's layout (tools read its first line and the option lines), naming us."""
    import platform
    u = os.uname()
    distro = _distro()
    return (f"{KEEPALIVED_VERSION_LINE}\n\n"
            f"keepalived-py v{__version__} (Python {platform.python_version()}), a Python"
            f" reimplementation of Keepalived v{KEEPALIVED_COMPAT_VERSION}; GPL-2.0-or-later\n\n"
            f"Running on {u.sysname} {u.release} {u.version}\n"
            + (f"Distro: {distro}\n" if distro else "")
            + "\n"
            f"configure options: keepalived-py {__version__}\n\n"
            f"Config options:  {CONFIG_OPTIONS}\n\n"
            f"System options:  PYTHON={platform.python_version()}\n")


def config_test(options: Options) -> int:
    from keepalived_py.config import load_config
    from keepalived_py.config.tree import Severity

    result = load_config(options.config_file, config_id=options.config_id,
                         check_interfaces=True)
    out = sys.stderr
    close = None
    if options.config_test_file:
        try:
            close = out = open(options.config_test_file, "w", encoding="utf-8")
        except OSError as e:
            print(f"Unable to open {options.config_test_file}: {e.strerror}", file=sys.stderr)
            return 1
    try:
        for d in result.diagnostics.items:
            if d.severity is not Severity.NOTICE:
                out.write(f"{d}\n")
        notices = [d for d in result.diagnostics.items if d.severity is Severity.NOTICE]
        for d in notices:
            out.write(f"{d}\n")
        if options.dump_conf and result.config is not None:
            from keepalived_py.config.dump import to_json, to_text
            sys.stdout.write(to_json(result.config) if options.dump_json else to_text(result.config))
    finally:
        if close is not None:
            close.close()
    missing = any("Config files missing" in d.message for d in result.diagnostics.items)
    if options.all_config and missing:
        return 6                  # keepalived 2.2.7 -e: a missing file ends the test with 6
    if result.diagnostics.aborted is not None:
        return result.diagnostics.aborted
    if result.config is None and not result.files:
        # keepalived 2.2.7 reports a missing main file and still exits 0 under -t
        return 0
    return result.diagnostics.exit_code


def _subcommand(name: str, argv: list[str]) -> int:
    import importlib
    target = {"demo": "keepalived_py.demo", "status": "keepalived_py.obs.status",
              "genhash": "keepalived_py.check.genhash"}[name]
    try:
        module = importlib.import_module(target)
    except ImportError:
        print(f"keepalived-py {name}: not available in this build yet", file=sys.stderr)
        return 1
    return int(module.main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    from keepalived_py.core import startgc
    startgc.pause()                 # no collector during start-up (issue 16, core/startgc.py)
    try:
        return _main(argv)
    finally:
        startgc.resume()


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("demo", "status", "genhash"):
        return _subcommand(args[0], args[1:])
    if args and args[0] in ("-T", "--genhash"):
        return _subcommand("genhash", args[1:])
    options, notes, errors, unexpected = parse(args)
    for line in errors:
        print(line, file=sys.stderr)
    extra = options.extra
    if "help" in extra:
        sys.stderr.write(USAGE)
        return 0
    if "version" in extra:
        sys.stderr.write(version_text())
        return 0
    if "signum" in extra:
        name = str(extra["signum"])
        if name not in SIGNUMS:
            print(f"Unknown sigfunc {name}", file=sys.stderr)
            return 1
        print(SIGNUMS[name])
        return 0
    if unexpected:
        # keepalived says so on stdout and carries on
        print("Unexpected argument(s): " + "".join(f"{u} " for u in unexpected))
    if errors:
        return 1
    if "genhash" in extra:
        return _subcommand("genhash", [])
    for note in notes:
        print(f"keepalived-py: {note}", file=sys.stderr)
    if options.config_test:
        return config_test(options)
    options = replace(options, command_line=tuple(args))
    if not os.path.isabs(options.config_file):
        options = replace(options, config_file=os.path.abspath(options.config_file))
    from keepalived_py.core import prefork
    prefork.fork(options)       # the VRRP child's imports beside the parent's (issue 16)
    try:
        from keepalived_py.core.supervisor import run
        return run(options)
    finally:
        prefork.discard()       # one that was not started (an early exit): killed, reaped
