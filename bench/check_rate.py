"""Checker throughput: sustained TCP checks per second on one core with 10,000 real servers,
and the p99 drift of the check schedule (how late a check starts after its due time).

The real servers are 10,000 loopback addresses (127.1.x.y) on one port, answered by a
listener in a separate process, so only the checker's work is measured. Every server has a
TCP_CHECK with delay_loop `--delay-loop`; the checker runs the same CheckState + tcp_check
loop as the healthcheck child. Loopback only.

`--mode probe` (the default) runs the checker daemon's way: one scheduler heap and the epoll
TCP prober (check/probe.py); `--mode tasks` the way before it: a task per checker sleeping
until its next check, each check an asyncio sock_connect (checkers.tcp_check). Both report
checks/s, the schedule drift and the CPU per check.

    python bench/check_rate.py [--servers 10000] [--delay-loop 2] [--seconds 20] [--mode probe]
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from keepalived_py.check import probe
from keepalived_py.check.checkers import tcp_check
from keepalived_py.check.realserver import CheckState

# the real servers' listener (accepts and closes every connection)
LISTENER = str(Path(__file__).resolve().parents[1] / "tests" / "accept_listener.py")


async def run(servers: int, delay_loop: float, seconds: float, port: int) -> None:
    loop = asyncio.get_running_loop()
    drift: list[float] = []
    done = 0
    stop_at = loop.time() + seconds
    warm = loop.time() + delay_loop           # measure after the first round is spread out

    async def one(i: int) -> None:
        nonlocal done
        host = f"127.1.{i // 250}.{i % 250 + 1}"
        st = CheckState(delay_loop=delay_loop, retry=1, delay_before_retry=1, timeout=3)
        st.next_at = loop.time() + delay_loop * i / servers
        while True:
            wait = st.next_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = loop.time()
            if now > stop_at:
                return
            if now > warm:
                drift.append(now - st.next_at)
            ok, _ = await tcp_check(host, port, st.timeout)
            st.result(ok, loop.time())
            if now > warm:
                done += 1

    t0 = time.process_time()
    await asyncio.gather(*(one(i) for i in range(servers)))
    cpu = time.process_time() - t0
    report("tasks", servers, delay_loop, seconds, done, cpu, drift)


class _Job:
    __slots__ = ("alive", "host", "state", "due")

    def __init__(self, host: str, state: CheckState) -> None:
        self.alive, self.host, self.state, self.due = True, host, state, 0.0


async def run_probe(servers: int, delay_loop: float, seconds: float, port: int) -> None:
    loop = asyncio.get_running_loop()
    drift: list[float] = []
    done = 0
    stop_at = loop.time() + seconds
    warm = loop.time() + delay_loop
    finished = loop.create_future()

    def fire(job: _Job, due: float, now: float) -> None:
        if now > stop_at:
            job.alive = False
            if not finished.done() and not len(prober):
                finished.set_result(None)
            return
        if now > warm:
            drift.append(now - due)
        job.due = due
        prober.connect(job, job.host, port, job.state.timeout, None, probe.PROBE_MARK)

    def result(job: _Job, err: int) -> None:
        nonlocal done
        now = loop.time()
        job.state.result(err == 0, now, probe.reason(err), job.due)
        if job.due > warm:
            done += 1
        sched.schedule(job, job.state.next_at)

    sched = probe.Scheduler(loop, fire)
    prober = probe.TcpProber(loop, result)
    t0 = time.process_time()
    for i in range(servers):
        st = CheckState(delay_loop=delay_loop, retry=1, delay_before_retry=1, timeout=3)
        st.next_at = loop.time() + delay_loop * i / servers
        sched.schedule(_Job(f"127.1.{i // 250}.{i % 250 + 1}", st), st.next_at)
    try:
        await asyncio.wait_for(finished, seconds + delay_loop + 5)
    except TimeoutError:
        pass
    cpu = time.process_time() - t0
    sched.close()
    prober.close()
    report("probe", servers, delay_loop, seconds, done, cpu, drift)


def report(mode: str, servers: int, delay_loop: float, seconds: float, done: int, cpu: float,
           drift: list[float]) -> None:
    span = seconds - delay_loop
    drift.sort()
    p99 = drift[int(len(drift) * 0.99)] if drift else float("nan")
    print(f"[{mode}] {servers} TCP real servers, delay_loop {delay_loop} s: {done / span:.0f}"
          f" checks/s sustained (target {servers / delay_loop:.0f}/s), checker CPU"
          f" {cpu / seconds * 100:.0f}% of one core, {cpu / max(1, done) * 1e6 * span / seconds:.0f}"
          f" us/check; schedule drift median {statistics.median(drift) * 1000:.1f} ms,"
          f" p99 {p99 * 1000:.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=10000)
    ap.add_argument("--delay-loop", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--mode", choices=("probe", "tasks"), default="probe")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 20), hard))
    listener = subprocess.Popen([sys.executable, LISTENER, str(args.port)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        how = run_probe if args.mode == "probe" else run
        asyncio.run(how(args.servers, args.delay_loop, args.seconds, args.port))
    finally:
        listener.kill()
        listener.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
