"""`keepalived-py status`: the daemon's state without signals or dump files.

Reads the VRRP child's control socket (beside its pidfile) and prints a table for people,
or the JSON for programs (--json).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from keepalived_py.obs.control import query
from keepalived_py.options import Options, control_socket
from keepalived_py.vrrp.stats import EVENT_KEYS

EXIT_CODES = """exit status:
  0  every child asked for answered
  1  some child did not answer (named on stderr); what the others said is printed
  3  no child answered (the daemon is not running, or other pidfile options were used)
  2  bad arguments"""


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="keepalived-py status", epilog=EXIT_CODES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 description="Show the running daemon's VRRP instances and virtual"
                                             " servers. Give the same -p/-r/-c/-s options the"
                                             " daemon was started with.")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--socket", help="control socket path")
    ap.add_argument("-p", "--pid", dest="pid", help="the parent pidfile the daemon was started with")
    ap.add_argument("-r", "--vrrp_pid", help="the VRRP pidfile the daemon was started with")
    ap.add_argument("-c", "--checkers_pid", help="the checkers pidfile the daemon was started with")
    ap.add_argument("-s", "--namespace")
    ap.add_argument("--metrics", action="store_true", help="print the Prometheus metrics")
    args = ap.parse_args(argv)
    ap_opts = Options(pid_file=args.pid, vrrp_pid_file=args.vrrp_pid,
                      checkers_pid_file=args.checkers_pid, namespace=args.namespace)
    if args.socket:
        paths = [args.socket]
    elif args.vrrp_pid or args.checkers_pid:
        # only the children of *this* daemon: never another daemon's default socket
        paths = ([control_socket(ap_opts, "vrrp")] if args.vrrp_pid else []) + \
                ([control_socket(ap_opts, "checker")] if args.checkers_pid else [])
    else:
        paths = [control_socket(ap_opts, "vrrp"), control_socket(ap_opts, "checker")]
    answers = {}
    missing = []
    for path in paths:
        try:
            answers[path] = query(path, "metrics" if args.metrics else "status")
        except OSError:
            missing.append(path)
            continue
    if not answers:
        print(f"keepalived-py status: cannot reach {' or '.join(paths)}", file=sys.stderr)
        return 3
    code = 0
    # a child whose pidfile is there but whose socket does not answer is a problem; a child the
    # configuration does not need (no pidfile: no instance, or no virtual server) is not
    import os

    from keepalived_py.options import resolve_pidfiles
    pidfiles = resolve_pidfiles(ap_opts)
    expected = {control_socket(ap_opts, role): pidfiles[role] for role in ("vrrp", "checker")}
    unreachable = [p for p in missing if args.socket or os.path.exists(expected.get(p, ""))]
    if unreachable:
        print(f"keepalived-py status: cannot reach {', '.join(unreachable)}", file=sys.stderr)
        code = 1
    if args.metrics:
        from keepalived_py.obs.metrics import combine
        roles = {control_socket(ap_opts, role): role for role in ("vrrp", "checker")}
        parts: dict[str, str | None] = {roles.get(p, p): t for p, t in answers.items()}
        parts.update({roles.get(p, p): None for p in unreachable})
        sys.stdout.write(combine(parts))
        return code
    merged: dict[str, object] = {"instances": [], "virtual_servers": [], "sockets": []}
    for text in answers.values():
        part = json.loads(text)
        for key in ("instances", "virtual_servers", "sockets"):
            merged[key] += part.get(key, [])  # type: ignore[operator]
        if part.get("role") == "checker":
            merged["dataplane"] = part.get("dataplane")
    merged["parent"] = _parent(ap_opts)
    if args.json:
        sys.stdout.write(json.dumps(merged) + "\n")
        return code
    parent = merged["parent"]
    if isinstance(parent, dict):
        line = f"DAEMON pid {parent['pid']}, up {parent['uptime']:.0f} s"
        if parent.get("reloads"):
            last = parent.get("last_reload") or {}
            import time
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last.get("at", 0)))
            line += f", {parent['reloads']} reload(s), last {when}: {last.get('result')}"
        print(line)
    _print_virtual_servers(merged["virtual_servers"])  # type: ignore[arg-type]
    data = merged
    rows = [("INSTANCE", "STATE", "IFACE", "VRID", "PRIO", "EFF", "ADVERT", "SENT", "RCVD", "VIPs")]
    if not data["instances"]:
        return code
    for i in data["instances"]:  # type: ignore[attr-defined]
        st = i.get("stats", {})
        rows.append((i["name"], i["state"], i["interface"], str(i["vrid"]), str(i["priority"]),
                     str(i["effective_priority"]), f"{i['advert_int']:g}s",
                     str(st.get("advert_sent", 0)), str(st.get("advert_rcvd", 0)),
                     ", ".join(v.split()[0] for v in i["vips"])))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    for i in data["instances"]:  # type: ignore[attr-defined]
        drops = {k: v for k, v in i.get("stats", {}).items()
                 if v and k not in EVENT_KEYS}
        if drops:
            print(f"  {i['name']} dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(drops.items())))
    for sk in data["sockets"]:  # type: ignore[attr-defined]
        if sk.get("drops"):
            print(f"  socket {sk['interface']} IPv{sk['family']} dropped: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(sk["drops"].items())))
    return code


def _parent(options: Options) -> dict[str, Any] | None:
    """The parent's pid and uptime, from its pidfile and /proc."""
    import os
    import time

    from keepalived_py.options import control_socket, resolve_pidfiles
    told: dict[str, Any] = {}
    try:       # the parent's own control socket: its reloads too
        told = json.loads(query(control_socket(options, "parent"), "status", timeout=2.0))
    except (OSError, ValueError):
        pass
    try:
        with open(resolve_pidfiles(options)["parent"]) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/stat", "rb") as f:
            start_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            boot_uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    uptime = boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    out: dict[str, Any] = {"pid": pid, "uptime": max(0.0, uptime), "at": time.time()}
    if told.get("pid") == pid:
        out.update(reloads=told.get("reloads", 0), last_reload=told.get("last_reload"))
    return out


def _print_virtual_servers(servers: list[dict[str, object]]) -> None:
    for v in servers:
        print(f"VIRTUAL SERVER {v['address']}:{v['port']} {v.get('protocol', '')}"
              + (" (sorry server)" if v.get("sorry") else "")
              + f" -> {', '.join(v.get('backends', [])) or 'none'}")  # type: ignore[arg-type]
        for r in v["real_servers"]:  # type: ignore[attr-defined]
            state = "UP" if r["up"] else "DOWN"
            print(f"  {r['address']}:{r['port']}  {state}  weight {r['weight']}  "
                  f"{'; '.join(x for x in r['last_result'] if x)}")
    if servers:
        print()
