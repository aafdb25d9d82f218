"""Garbage connections (tests/chaos/garbage.py's five kinds) to a running master's control
socket and Prometheus endpoint: real requests answered meanwhile, their worst time, what
happened to the garbage, the daemon's open files before / at the peak / after. Run as root:

    python bench/garbage.py [--count 1000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from chaoslab import Cluster
from test_chaos_garbage import PROM, garbage_run


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000, help="garbage connections per server")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kpgarbage-") as tmp, \
            Cluster(Path(tmp), advert=1.0, tag="garbage") as c:
        c.daemons["n1"].args = [f"--prometheus={PROM}"]
        c.start(("n1", "n2"))
        del c.daemons["n3"]
        c.elected()
        c.fault("garbage", {"n1"}, bound=0, nogap=True)
        for _ in range(args.rounds):
            print(garbage_run(c, args.count), flush=True)
        c.verify()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
