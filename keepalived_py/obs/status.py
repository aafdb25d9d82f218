"""`keepalived-py status`: the daemon's state without signals or dump files.

Reads the VRRP child's control socket (beside its pidfile) and prints a table for people,
or the JSON for programs (--json).
"""
from __future__ import annotations

import argparse
import json
import sys

from keepalived_py.obs.control import query
from keepalived_py.options import Options, control_socket


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="keepalived-py status")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--socket", help="control socket path")
    ap.add_argument("-r", "--vrrp_pid", help="the VRRP pidfile the daemon was started with")
    ap.add_argument("-c", "--checkers_pid", help="the checkers pidfile the daemon was started with")
    ap.add_argument("-s", "--namespace")
    ap.add_argument("--metrics", action="store_true", help="print the Prometheus metrics")
    args = ap.parse_args(argv)
    ap_opts = Options(vrrp_pid_file=args.vrrp_pid, checkers_pid_file=args.checkers_pid,
                      namespace=args.namespace)
    paths = [args.socket] if args.socket else [control_socket(ap_opts, "vrrp"),
                                               control_socket(ap_opts, "checker")]
    answers = {}
    for path in paths:
        try:
            answers[path] = query(path, "metrics" if args.metrics else "status")
        except OSError:
            continue
    if not answers:
        print(f"keepalived-py status: cannot reach {' or '.join(paths)}", file=sys.stderr)
        return 3
    if args.metrics:
        sys.stdout.write("".join(answers.values()))
        return 0
    merged: dict[str, object] = {"instances": [], "virtual_servers": []}
    for text in answers.values():
        part = json.loads(text)
        for key in ("instances", "virtual_servers"):
            merged[key] += part.get(key, [])  # type: ignore[operator]
        if part.get("role") == "checker":
            merged["dataplane"] = part.get("dataplane")
    if args.json:
        sys.stdout.write(json.dumps(merged) + "\n")
        return 0
    _print_virtual_servers(merged["virtual_servers"])  # type: ignore[arg-type]
    data = merged
    rows = [("INSTANCE", "STATE", "IFACE", "VRID", "PRIO", "EFF", "ADVERT", "SENT", "RCVD", "VIPs")]
    if not data["instances"]:
        return 0
    for i in data["instances"]:  # type: ignore[attr-defined]
        st = i.get("stats", {})
        rows.append((i["name"], i["state"], i["interface"], str(i["vrid"]), str(i["priority"]),
                     str(i["effective_priority"]), f"{i['advert_int']:g}s",
                     str(st.get("advert_sent", 0)), str(st.get("advert_rcvd", 0)),
                     ", ".join(v.split()[0] for v in i["vips"])))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0


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
