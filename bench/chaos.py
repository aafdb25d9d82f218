"""The chaos catalogue (tests/chaos/chaos_scenarios.py), each scenario repeated: figures per
window (seconds from the fault or heal to a correct VIP holder set) as min/median/max, and every
failed run with its reason. Run as root:

    python bench/chaos.py [--repeat 20] [--advert 1] [--mastership 30] [NAME...]

KP_NS_PREFIX names the namespaces as for the tests; KP_CHAOS_SLACK widens the bounds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from chaos_scenarios import CATALOGUE, Opts, _Skip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--advert", type=float, default=1.0)
    ap.add_argument("--mastership", type=float, default=30.0)
    args = ap.parse_args(argv)
    opts = Opts(advert=args.advert, mastership=args.mastership)
    names = args.names or list(CATALOGUE)
    bad = 0
    for name in names:
        figs: dict[str, list[float]] = {}
        fails: list[str] = []
        t0 = time.monotonic()
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"kpchaos-{name}-") as tmp:
                try:
                    for k, v in CATALOGUE[name](Path(tmp), opts).items():
                        figs.setdefault(k, []).append(v)
                except _Skip as e:
                    fails.append(f"run {i + 1}: skipped: {e}")
                    break
                except AssertionError as e:
                    fails.append(f"run {i + 1}: {str(e).splitlines()[0]}")
                    (Path(tempfile.gettempdir()) / f"kpchaos-{name}-{i + 1}.fail").write_text(str(e))
        print(f"{name}: {args.repeat - len(fails)}/{args.repeat} passed"
              f" ({time.monotonic() - t0:.0f}s)", flush=True)
        for k, vs in figs.items():
            print(f"  {k:45s} min {min(vs):.3f}  median {statistics.median(vs):.3f}  max {max(vs):.3f}")
        for f in fails:
            print("  FAIL " + f)
        bad += bool(fails)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
