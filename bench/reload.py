"""Reload endurance: 1,000 reloads alternating between two configurations (instances, addresses
and a tracker added, removed, changed); the VRRP child's RSS and fds every 100. Run as root:

    python bench/reload.py [--reloads 1000] [--every 100]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from chaoslab import Cluster
from test_chaos_reload import endurance


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reloads", type=int, default=1000)
    ap.add_argument("--every", type=int, default=100)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kpreload-") as tmp, \
            Cluster(Path(tmp), tag="reload") as c:
        print(endurance(c, args.reloads, args.every))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
