"""A million hostile VRRP packets (tests/chaos/hostile.py's categories) at a running master and
backup: counters per category, the master's worst advert gap and the CPU the VRRP children used
while flooded. Run as root:

    python bench/hostile.py [--per-category 47620] [--rate 20000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from chaoslab import Cluster
from test_chaos_hostile import flood


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-category", type=int, default=47620)     # x 21 categories ~ 1,000,000
    ap.add_argument("--rate", type=float, default=20000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kphostile-") as tmp, \
            Cluster(Path(tmp), advert=1.0, tag="hostile") as c:
        print(flood(c, args.per_category, args.rate, advert_gap_bound=1.005))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
