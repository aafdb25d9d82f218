"""Where the VRRP child's steady-state CPU goes: a master and a backup node (bench/compare.py's
lab and configurations), the chosen side's VRRP child under cProfile (KP_BENCH_PROFILE, a hook
in core/childrun.py) for `--window` seconds after both settled, then the top functions.

    python bench/vrrp_profile.py [--side backup] [--advert 0.1] [--instances 200] [--top 30]
                                 [--v6] [--tree DIR]

Run as root; namespaces carry KP_NS_PREFIX (tests/netlab.py) and are removed. Without
--profile it only prints the CPU of both daemon trees (no profiler overhead), each process's
share (parent, VRRP child: schedstat ns) and its wake-ups (voluntary context switches, each a
sleep in epoll_wait or the like) per second. `--v6`: IPv6 instances (bench/compare.py's
cpu01v6); `--tree DIR`: keepalived-py from another checkout (before/after).
"""
from __future__ import annotations

import argparse
import glob
import os
import pstats
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare


def gaps(packets: list[tuple[float, str, int, int]], t0: float, t1: float, advert: float
         ) -> None:
    """The master's advert gaps per VRID in the window, and the backup's adverts there."""
    last: dict[int, float] = {}
    worst: list[tuple[float, float, int]] = []
    backup = 0
    for t, _src, vrid, prio in sorted(packets):
        if not t0 <= t <= t1:
            continue
        if prio == 150:
            if vrid in last:
                worst.append((t - last[vrid], t, vrid))
            last[vrid] = t
        else:
            backup += 1
    worst.sort(reverse=True)
    print(f"master adverts {len(worst)}, backup adverts {backup}; largest gaps (ms): "
          + ", ".join(f"{g * 1000:.0f}@{t - t0:.2f}s/vrid{v}" for g, t, v in worst[:8]))


def per_process(pid: int) -> tuple[int, int]:
    """(CPU ns of the process's threads, their voluntary context switches)."""
    ns = switches = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        switches += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return ns, switches


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", choices=("master", "backup"), default="backup")
    ap.add_argument("--advert", type=float, default=0.1)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--profile", action="store_true", help="profile the chosen side")
    ap.add_argument("--debug", action="store_true", help="-D")
    ap.add_argument("--v6", action="store_true", help="IPv6 instances")
    ap.add_argument("--tree", default="", help="keepalived-py's source tree (default: this one)")
    args = ap.parse_args()
    compare.exit_on_signals()
    which = "keepalived-py"
    if args.tree:
        which = compare.BASE
        compare.TREES[which] = os.path.abspath(args.tree)
    bench = compare.Bench(argparse.Namespace(window=args.window))
    n, version = args.instances, 3 if args.advert < 1 else 2
    out = os.path.join(bench.tmp, "prof")
    try:
        vip = compare._vip6 if args.v6 else None
        version = 3 if args.v6 else version
        conf_a = compare.instances(n, 150, args.advert, version, vip=vip)
        conf_b = compare.instances(n, 100, args.advert, version, vip=vip)
        da = bench.daemon(which, bench.a.ns, conf_a, "pA", debug=args.debug)
        db = bench.daemon(which, bench.b.ns, conf_b, "pB", debug=args.debug)
        watch = compare.AddressWatch(bench.a.ns)
        cap = compare.VrrpCapture(bench.lan, bench.port_b)
        for d, side in ((da, "master"), (db, "backup")):
            if args.profile and args.side == side:
                os.environ["KP_BENCH_PROFILE"] = out
                os.environ["KP_BENCH_PROFILE_AFTER"] = str(4 + args.advert * 4)
            d.start()
            os.environ.pop("KP_BENCH_PROFILE", None)
        want = {compare._vip6(i).split("/")[0] for i in range(n)} if args.v6 else \
            compare.vip_set(n)
        if watch.wait(want, da.started, 30) is None:
            raise RuntimeError(f"A did not become master ({da.dir}/log)")
        watch.close()
        time.sleep(2 + args.advert * 4)
        ca, cb = compare.cpu_ticks(da.pids()), compare.cpu_ticks(db.pids())
        procs = {(side, i): pid for d, side in ((da, "master"), (db, "backup"))
                 for i, pid in enumerate(d.pids())}
        before = {k: per_process(pid) for k, pid in procs.items()}
        t0 = time.monotonic()
        time.sleep(args.window)
        el = time.monotonic() - t0
        for k, pid in procs.items():
            ns1, sw1 = per_process(pid)
            ns0, sw0 = before[k]
            print(f"{k[0]} {'parent' if k[1] == 0 else 'child ' + str(k[1])} (pid {pid}): "
                  f"{(ns1 - ns0) / 1e9 / el * 100:.3f} % CPU, {(sw1 - sw0) / el:.1f} "
                  f"wake-ups/s")
        t1 = time.time()
        cap.close()
        gaps(cap.packets, t1 - el, t1, args.advert)
        print(f"CPU master {(compare.cpu_ticks(da.pids()) - ca) / compare.TICK / el * 100:.2f} %"
              f"  backup {(compare.cpu_ticks(db.pids()) - cb) / compare.TICK / el * 100:.2f} %")
        bench.done(da, db)
        for d, side in ((da, "master"), (db, "backup")):
            with open(os.path.join(d.dir, "log"), errors="replace") as f:
                text = f.read()
            print(f"{side}: {text.count('Entering MASTER STATE')} x MASTER, "
                  f"{text.count('Entering BACKUP STATE')} x BACKUP in its log")
            if os.environ.get("KP_PROFILE_KEEP"):
                shutil.copy(os.path.join(d.dir, "log"), f"{os.environ['KP_PROFILE_KEEP']}.{side}")
        if args.profile:
            files = glob.glob(out + ".vrrp.*")
            if not files:
                print("no profile written", file=sys.stderr)
                return 1
            pstats.Stats(*files).sort_stats(args.sort).print_stats(args.top)
    finally:
        bench.close()
        shutil.rmtree(compare.PYCACHE, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
