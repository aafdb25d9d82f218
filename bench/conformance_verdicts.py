"""Differential -t verdicts at scale: N generated configurations, keepalived 2.2.7 vs keepalived-py.

    sudo python3 bench/conformance_verdicts.py [-n 10000] [--seed S] [--out DIR] [--no-minimize]

Prints the agreement rate (cases where keepalived crashed or hung are not counted) and writes
every disagreement as a minimized file DIR/<seed>.conf with both verdicts in a header comment.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "conformance"))
sys.path.insert(0, str(ROOT))

import verdicts  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/keepalived-py-verdicts")
    ap.add_argument("--no-minimize", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    judged = agreed = skipped = tracebacks = 0
    by_kind: Counter[str] = Counter()
    pairs: Counter[tuple[int | None, int]] = Counter()
    t0 = time.monotonic()
    with verdicts.Judge() as judge:
        for case, v in verdicts.run(list(range(a.seed, a.seed + a.n)), judge):
            if v.theirs is None:
                skipped += 1
                continue
            judged += 1
            if v.agrees:
                agreed += 1
                continue
            tracebacks += bool(v.traceback)
            by_kind[case.kind] += 1
            pairs[(v.theirs, v.ours)] += 1
            small = case if a.no_minimize else verdicts.minimize(case, judge)
            body = small.files["main.conf"]
            head = (f"# seed {case.seed} kind {case.kind}: keepalived {v.theirs},"
                    f" keepalived-py {v.ours}{' TRACEBACK' if v.traceback else ''}\n").encode()
            (out / f"{case.seed}.conf").write_bytes(head + body)
            for name, data in small.files.items():
                if name != "main.conf":
                    p = out / f"{case.seed}.{name.replace('/', '_')}"
                    p.write_bytes(data)
    dt = time.monotonic() - t0
    rate = agreed / judged if judged else 1.0
    print(f"cases {a.n}  judged {judged}  agreed {agreed}  rate {rate:.4f}  skipped (keepalived"
          f" crashed/hung) {skipped}  tracebacks {tracebacks}  {dt:.0f}s")
    print(f"disagreements by kind {dict(by_kind)}  by (keepalived, ours) {dict(pairs)}")
    print(f"written to {os.path.abspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
