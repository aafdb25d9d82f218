"""The soak: an hour of adverts every 0.1 s on 200 instances, a failover every minute, a reload
every 30 s and 1,000 real servers TCP-checked (tests/chaos/test_chaos_soak.py's `soak`, full
size). Run as root:

    python bench/soak.py [--seconds 3600] [--instances 200] [--failover-every 60] [--reload-every 30]
                         [--servers 1000] [--delay-loop 6] [--warmup 120] [--json FILE]

It prints, as it goes, each failover's takeback time with the host stall inside it
(tests/stallwatch.py) and, every minute, the load, the VRRP and checker children's RSS and fds
and the host stalls so far; at the end the figures (adverts late and missed net of host stalls,
takebacks, RSS at warm-up and end, fd range, load) before the verdict.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from test_chaos_soak import soak


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--advert", type=float, default=0.1)
    ap.add_argument("--failover-every", type=float, default=60)
    ap.add_argument("--reload-every", type=float, default=30)
    ap.add_argument("--servers", type=int, default=1000,
                    help="real servers health-checked by the master (TCP_CHECK); 0: none")
    ap.add_argument("--delay-loop", type=float, default=6.0, help="their delay_loop (s)")
    ap.add_argument("--warmup", type=float, default=120,
                    help="seconds before the first RSS/fd sample (the warm-up figure)")
    ap.add_argument("--json", help="also write the figures to this file (JSON)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=os.environ.get("KP_NS_PREFIX", "kp") + "soak-") as tmp:
        os.chmod(tmp, 0o755)
        figures = soak(Path(tmp), args.seconds, args.instances, args.advert,
                       args.failover_every, args.reload_every, warmup=args.warmup,
                       servers=args.servers, delay_loop=args.delay_loop)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
