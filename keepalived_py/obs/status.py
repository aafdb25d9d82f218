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
    ap.add_argument("-s", "--namespace")
    ap.add_argument("--metrics", action="store_true", help="print the Prometheus metrics")
    args = ap.parse_args(argv)
    path = args.socket or control_socket(Options(vrrp_pid_file=args.vrrp_pid,
                                                 namespace=args.namespace), "vrrp")
    try:
        text = query(path, "metrics" if args.metrics else "status")
    except OSError as e:
        print(f"keepalived-py status: cannot reach {path}: {e.strerror or e}", file=sys.stderr)
        return 3
    if args.metrics or args.json:
        sys.stdout.write(text)
        return 0
    data = json.loads(text)
    rows = [("INSTANCE", "STATE", "IFACE", "VRID", "PRIO", "EFF", "ADVERT", "SENT", "RCVD", "VIPs")]
    for i in data["instances"]:
        st = i.get("stats", {})
        rows.append((i["name"], i["state"], i["interface"], str(i["vrid"]), str(i["priority"]),
                     str(i["effective_priority"]), f"{i['advert_int']:g}s",
                     str(st.get("advert_sent", 0)), str(st.get("advert_rcvd", 0)),
                     ", ".join(v.split()[0] for v in i["vips"])))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0
