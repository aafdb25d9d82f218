"""vrrp_script, vrrp_track_process and track_file blocks -> VrrpScript, VrrpTrackProcess,
VrrpTrackFile (keepalived 2.2.7's vrrp_parser.c and track_file.c handlers), and the checks
on scripts once every block is read: unused scripts, script security. Called by build.py's
BuildState, which holds the lists (b.scripts, b.processes, b.files)."""
from __future__ import annotations

from typing import Any

from keepalived_py.config import keywords as kw
from keepalived_py.config.build_state import BuildState
from keepalived_py.config.model import (
    GlobalDefs,
    Notify,
    Script,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackFile,
    VrrpTrackProcess,
)
from keepalived_py.config.model import evolve as replace  # dataclasses.replace, faster (issue 16)
from keepalived_py.config.tree import Node
from keepalived_py.config.values import (
    read_decimal,
    read_int,
    script_argv,
)
from keepalived_py.record import names


def vrrp_script(b: BuildState, node: Node) -> None:
    name = node.args[0] if node.args else ""
    if not name:
        b.d.error(node.pos, "vrrp_script requires a name")
    children = b.expect_block(node)
    if children is None or not name:
        return
    f: dict[str, Any] = {"name": name, "pos": node.pos}
    for c in children:
        k, args = c.keyword, c.args
        if k not in kw.VRRP_SCRIPT:
            b.unknown(c)
        elif k == "script":
            # lib/notify.c set_script_params_array: the first word, split again, is the
            # command line (the words after it are not read); none (or "") - no change
            if args and script_argv(args[:1]):
                f["script"] = b.script(c, args[:1])
        elif k == "interval":
            # vrrp_parser.c vrrp_vscript_interval_handler: [0, 4294] s, 0 taken as 1 (keepalived
            # reads whole seconds; keepalived-py also takes a fraction: the tests' fast scripts)
            if args and (v := read_decimal(args[0], 0, 4294, c.pos, b.d)) is not None:
                if v == 0:
                    b.d.error(c.pos, f"({name}): vrrp script interval must be greater than 0,"
                                     " setting to 1")
                f["interval"] = v or 1.0
            elif args:
                b.d.error(c.pos, f"({name}): vrrp script interval '{args[0]}' must be between 1"
                                 " and 4294 - ignoring")
        elif k == "timeout":
            # vrrp_parser.c vrrp_vscript_timeout_handler: whole seconds, 0 taken as 1
            if args and (v := read_int(args[0], 0, 4294, c.pos, b.d)) is not None:
                if v == 0:
                    b.d.error(c.pos, f"({name}): vrrp script timeout must be greater than 0,"
                                     " setting to 1")
                f["timeout"] = float(v or 1)
            elif args:
                b.d.error(c.pos, f"({name}): vrrp script timeout '{args[0]}' invalid - ignoring")
        elif k == "weight":
            if args and (v := read_int(args[0], -253, 253, c.pos, b.d)) is not None:
                f["weight"] = v
                f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
            if len(args) > 1 and args[1] != "reverse":
                b.d.error(c.pos, f"vrrp_script {name} unknown weight option {args[1]}")
        elif k in ("rise", "fall"):
            if args and (v := read_int(args[0], 1, 2**31 - 1, c.pos, b.d)) is not None:
                f[k] = v
        elif k == "user":
            if args:
                f["user"] = args[0]
                f["group"] = args[1] if len(args) > 1 else None
                if not b.user_group_exist(args):
                    # vrrp_parser.c vrrp_script_user_handler: the script is removed
                    b.d.error(c.pos, f"Unable to set uid/gid for script"
                                     f" {' '.join(f['script'].argv) if f.get('script') else ''}")
                    f["removed"] = True
        elif k == "init_fail":
            f["init_fail"] = True
    if f.pop("removed", False):
        return
    if f.get("script") is None:
        b.d.error(node.pos, f"No script set for vrrp_script {name} - ignoring")
        return
    s = f["script"]
    if f.get("user"):
        f["script"] = replace(s, user=f["user"], group=f.get("group"))
    b.scripts.append(VrrpScript(**f))


def _named_block(b: BuildState, node: Node) -> tuple[str, tuple[Node, ...]] | None:
    """A tracker's name and block lines; None (said) without either."""
    name = node.args[0] if node.args else ""
    children = b.expect_block(node)
    if not name:
        b.d.error(node.pos, f"{node.keyword} requires a name")
    return None if children is None or not name else (name, children)


def vrrp_track_process(b: BuildState, node: Node) -> None:
    if (named := _named_block(b, node)) is None:
        return
    name, children = named
    f: dict[str, Any] = {"name": name, "pos": node.pos}
    for c in children:
        k, args = c.keyword, c.args
        if k not in kw.VRRP_TRACK_PROCESS:
            b.unknown(c)
        elif k == "process" and "process" in f:
            b.d.error(c.pos, f"Process already set for track process {name} - ignoring"
                             f" {args[0] if args else ''}")
        elif k == "process":
            if args:
                f["process"] = args[0]
                f["parameters"] = tuple(args[1:])
            else:
                b.d.error(c.pos, "process requires a name")
        elif k == "param_match":
            if args and args[0] in ("initial", "partial"):
                f["param_match"] = args[0]
            else:
                b.d.error(c.pos, f"Invalid param_match '{' '.join(args)}'")
        elif k == "weight":
            # vrrp_parser.c vrrp_tprocess_weight_handler
            if not args:
                b.d.error(c.pos, f"No weight specified for track process {name} - ignoring")
            elif f.get("weight"):
                b.d.error(c.pos, f"Weight already set for track process {name} - ignoring"
                                 f" {args[0]}")
            elif (v := read_int(args[0], -254, 254, c.pos, b.d)) is not None:
                f["weight"] = v
                f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
                if len(args) > 1 and args[1] != "reverse":
                    b.d.error(c.pos, f"vrrp_track_process {name} unknown weight option"
                                     f" {args[1]}")
        elif k in ("quorum", "quorum_max"):
            if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, b.d)) is not None:
                f[k] = v
        elif k in ("delay", "fork_delay", "terminate_delay"):
            if args and (x := read_decimal(args[0], 0.000001, 3600, c.pos, b.d)) is not None:
                f[k] = x
            elif args:                  # vrrp_parser.c vrrp_tprocess_*delay_handler
                b.d.error(c.pos, f"{k} ({args[0]}) for vrrp_track_process {name} must be"
                                 " between [0.000001..3600] inclusive. Ignoring...")
        elif k == "full_command":
            f["full_command"] = True
    if "process" not in f:
        b.d.error(node.pos, f"vrrp_track_process {name} has no process specified - ignoring")
        return
    qmax = f.get("quorum_max")
    if qmax is not None and qmax < f.get("quorum", 1):
        b.d.error(node.pos, f"vrrp_track_process {name} quorum_max {qmax} < quorum - ignoring")
        return
    b.processes.append(VrrpTrackProcess(**f))


def track_file(b: BuildState, node: Node) -> None:
    if (named := _named_block(b, node)) is None:
        return
    name, children = named
    f: dict[str, Any] = {"name": name, "pos": node.pos}
    for c in children:
        k, args = c.keyword, c.args
        if k not in kw.TRACK_FILE:
            b.unknown(c)
        elif k == "file":
            # track_file.c track_file_file_handler
            if not args:
                b.d.error(c.pos, "track file file name missing")
            elif "file" in f:
                b.d.error(c.pos, f"File already set for track file {name} - ignoring"
                                 f" {args[0]}")
            else:
                f["file"] = args[0]
        elif k == "weight":
            # track_file.c track_file_weight_handler (1 is the default: "not set yet")
            if not args:
                b.d.error(c.pos, f"No weight specified for track file {name} - ignoring")
            elif f.get("weight", 1) != 1:
                b.d.error(c.pos, f"Weight already set for track file {name} - ignoring"
                                 f" {args[0]}")
            else:
                v = read_int(args[0], -254, 254, c.pos, b.d)
                f["weight"] = 1 if v is None else v
                f["weight_reverse"] = len(args) > 1 and args[1] == "reverse"
                if len(args) > 1 and args[1] != "reverse":
                    b.d.error(c.pos, f"track_file {name} unknown weight option {args[1]}")
        elif k == "init_file":
            # track_file.c track_file_init_handler
            value, over = 0, False
            for a in args:
                if a == "overwrite":
                    over = True
                elif a[:1].isdigit() or a[:1] == "-":
                    try:
                        v = int(a)
                    except ValueError:
                        v = None
                    if v is None or not -(2**31) <= v < 2**31:
                        b.d.error(c.pos, f"Track file {name} init value {a} is invalid")
                        v = 0
                    elif not -254 <= v <= 254:
                        b.d.error(c.pos, f"Track file {name} init value {v} is outside"
                                         " sensible range [-254, 254]")
                    value = v
                else:
                    b.d.error(c.pos, f"Unknown track file init option {a}")
            f["init_file"], f["init_file_overwrite"] = value, over
    if "file" not in f:
        b.d.error(node.pos, f"No file set for track_file {name}")
        return
    b.files.append(VrrpTrackFile(**f))


def unused_scripts(b: BuildState, groups: list[VrrpSyncGroup]) -> None:
    for grp in groups:
        for ref in grp.track_script:
            b.used_scripts.add(ref.name)
    for s in b.scripts:
        if s.name not in b.used_scripts:
            # keepalived says so when the VRRP process starts, not under -t
            b.d.notice(s.pos, f"Warning - script {s.name} is not used")


def script_security(b: BuildState, g: GlobalDefs, instances: list[VrrpInstance]) -> None:
    run: list[Script | None] = []
    if b._skipped_instances:
        # vrrp.c check_vrrp_script_security(): with any vrrp instance, every vrrp_script
        # (used or not) is checked; one that exists makes script security necessary
        for s in b.scripts:
            if not b.host.is_script(s.script):
                if not s.script.argv[0].startswith("<"):
                    b.d.error(s.pos, f"Disabling track script {s.name} since not"
                                     " found/accessible")
                continue
            run.append(s.script)
        # every instance parsed, also one vrrp_complete_instance drops later (no VRID...):
        # check_vrrp_script_security runs first
        run += [getattr(n, name) for n in [*(i.notify for i, _ in b.instances),
                                           *b._dropped_notify]
                for name in names(Notify) if name != "smtp_alert"]
        # every sync group read, also one vrrp_complete_init removes afterwards (no members)
        run += [getattr(grp.notify, name) for grp in b.groups for name in names(Notify)
                if name != "smtp_alert"]
        run += [g.notify_fifo_script, g.vrrp_notify_fifo_script]
    if b.default_user_fails:                   # dropped: they have no user to run as
        run = [s for s in run if s is not None and s.user is not None]
    if any(b.host.is_script(s) for s in run) and not g.enable_script_security \
         and not b.bad_interface:
        b.d.security(None, "SECURITY VIOLATION - scripts are being executed but"
                           " script_security not enabled.")


def start_stop_security(b: BuildState, g: GlobalDefs) -> None:
    """main.c: the parent checks the startup/shutdown scripts (whatever the VRRP process
    says of its own configuration, a missing interface included)."""
    if any(b.host.is_script(s) for s in b._start_stop) \
         and not g.enable_script_security:
        b.d.security(None, "SECURITY VIOLATION - start/shutdown scripts are being executed"
                           " but script_security not enabled.")
