"""check/probe.py (scheduler heap, epoll TCP prober, the checker's socket options) and the
checker daemon driven by it: results reach the current real server after a reload, first
checks spread over delay_loop, failed applies retried with backoff, a missing nft is one
error. Loopback only, no root needed (bind_if needs it and is skipped without)."""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from keepalived_py.check import probe
from keepalived_py.check.daemon import CheckerDaemon
from keepalived_py.check.nft import NftDataplane
from keepalived_py.check.realserver import CheckState, Target
from keepalived_py.config import load_config
from keepalived_py.config.model import Config
from keepalived_py.config.model_lvs import Checker, VirtualServer
from keepalived_py.notify.scripts import Notifier
from keepalived_py.obs.slog import capture as capture_logs
from keepalived_py.options import Options


class Job:
    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True


def listener(backlog: int = 128) -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


async def probe_once(host: str, port: int, timeout: float = 1.0,
                     ch: Checker | None = None) -> int:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[int] = loop.create_future()
    prober = probe.TcpProber(loop, lambda job, err: got.set_result(err))
    try:
        prober.connect(Job("x"), host, port, timeout, ch)
        return await asyncio.wait_for(got, timeout + 2)
    finally:
        prober.close()


def test_probe_connected_refused_and_timeout() -> None:
    async def main() -> None:
        lst = listener()
        assert await probe_once("127.0.0.1", lst.getsockname()[1]) == 0
        assert await probe_once("127.0.0.1", closed_port()) == errno.ECONNREFUSED
        # a listener whose accept queue is full drops SYNs: the connect never completes
        full = listener(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        await asyncio.sleep(0.1)
        t0 = asyncio.get_running_loop().time()
        assert await probe_once("127.0.0.1", port, timeout=0.3) == errno.ETIMEDOUT
        assert 0.25 < asyncio.get_running_loop().time() - t0 < 1.5
        for s in (lst, full, *fillers):
            s.close()
    asyncio.run(main())
    assert probe.reason(0) == "connected"
    assert probe.reason(errno.ETIMEDOUT) == "connect timeout"
    assert probe.reason(errno.ECONNREFUSED) == "connect failed: Connection refused"


def test_probe_results_never_arrive_inside_connect() -> None:
    """An immediate result (refused, or a bad address) comes from the loop, later, so the
    scheduler is never re-entered from its own callback."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        prober = probe.TcpProber(loop, lambda job, err: got.append(err))
        prober.connect(Job("a"), "127.0.0.1", closed_port(), 1.0)
        prober.connect(Job("b"), "127.0.0.1", 99999, 1.0)       # Python refuses the port
        assert got == []
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(got) == 2:
                break
        assert sorted(got) == sorted([errno.ECONNREFUSED, errno.EINVAL])
        assert len(prober) == 0
        prober.close()
    asyncio.run(main())


def test_probe_sockets_are_reused_and_a_stale_deadline_spares_the_next_probe() -> None:
    """A finished probe's socket is aborted and reused: one socket for a run of probes,
    refused and connected in turn (the abort's pending ECONNRESET never reaches the next
    result). A probe that finished early leaves its deadline in the queue: the next probe on
    the same socket, still waiting, is not timed out by it but by its own."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        got: list[tuple[str, int, float]] = []
        prober = probe.TcpProber(loop, lambda job, err: got.append((job.name, err,
                                                                     loop.time())))

        async def result(n: int, limit: float = 3.0) -> None:
            end = loop.time() + limit
            while len(got) < n and loop.time() < end:
                await asyncio.sleep(0.005)
            assert len(got) >= n, got
        lst, refused = listener(), closed_port()
        port = lst.getsockname()[1]
        for i in range(12):
            prober.connect(Job(str(i)), "127.0.0.1", refused if i % 3 == 2 else port, 1.0)
            await result(i + 1)
        assert [e for _, e, _ in got] == [errno.ECONNREFUSED if i % 3 == 2 else 0
                                          for i in range(12)]
        assert prober.made == 1 and prober.idle() == 1 and len(prober) == 0
        # a listener whose accept queue is full drops SYNs: the next connect waits
        full = listener(0)
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", full.getsockname()[1]))
            fillers.append(c)
        await asyncio.sleep(0.1)
        got.clear()
        t0 = loop.time()
        prober.connect(Job("early"), "127.0.0.1", port, 0.2)       # deadline t0 + 0.2
        await result(1)
        prober.connect(Job("late"), "127.0.0.1", full.getsockname()[1], 0.6)
        await result(2)
        assert prober.made == 1, "the same socket"
        assert got[1][:2] == ("late", errno.ETIMEDOUT)
        assert got[1][2] - t0 >= 0.55, got          # its own deadline, not the early one's
        prober.trim(0)
        assert prober.idle() == 0
        prober.close()
        for x in (lst, full, *fillers):
            x.close()
    asyncio.run(main())


def test_probe_many_connects_share_one_epoll_descriptor() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        lst = listener(4096)
        lst.setblocking(False)
        accepted = 0

        def accept() -> None:
            nonlocal accepted
            while True:
                try:
                    c, _ = lst.accept()
                except BlockingIOError:
                    return
                c.close()
                accepted += 1
        loop.add_reader(lst.fileno(), accept)
        results: list[int] = []
        prober = probe.TcpProber(loop, lambda job, err: results.append(err))
        for i in range(500):
            prober.connect(Job(str(i)), "127.0.0.1", lst.getsockname()[1], 2.0)
        for _ in range(300):
            await asyncio.sleep(0.01)
            if len(results) == 500:
                break
        assert results == [0] * 500
        loop.remove_reader(lst.fileno())
        prober.close()
        lst.close()
    asyncio.run(main())


def test_scheduler_starts_due_jobs_in_order_and_drops_dead_ones() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        sched = probe.Scheduler(loop, lambda job, due, now: fired.append((job.name, now - due)))
        now = loop.time()
        jobs = {n: Job(n) for n in "abcd"}
        sched.schedule(jobs["c"], now + 0.06)
        sched.schedule(jobs["a"], now + 0.02)
        sched.schedule(jobs["d"], now + 0.08)
        sched.schedule(jobs["b"], now + 0.04)
        jobs["d"].alive = False
        await asyncio.sleep(0.2)
        assert [n for n, _ in fired] == ["a", "b", "c"]
        assert all(0 <= late < 1.0 for _, late in fired)      # (a loaded machine)
        assert sched.started == 3 and len(sched) == 0
        d = sched.drift()
        assert d["samples"] == 3 and 0 <= d["p50_ms"] <= d["p99_ms"] <= d["max_ms"]
        # an earlier job re-arms the timer
        sched.schedule(jobs["a"], loop.time() + 5)
        sched.schedule(jobs["b"], loop.time() + 0.01)
        await asyncio.sleep(0.1)
        assert fired[-1][0] == "b"
        sched.close()
    asyncio.run(main())


def test_check_state_fixed_rate_from_the_due_time() -> None:
    """A quick check's next one is due delay_loop after this one was due (no drift adding
    up); a check that outlasted delay_loop waits delay_loop from its end (keepalived)."""
    st = CheckState(delay_loop=1.0, retry=0, delay_before_retry=1.0, timeout=3.0)
    st.result(True, now=10.004, started=10.0)
    assert st.next_at == pytest.approx(11.0)
    st.result(False, now=14.0, started=11.0)
    assert st.next_at == pytest.approx(15.0)
    st.result(True, now=20.0)                       # no due time: from now
    assert st.next_at == pytest.approx(21.0)


def test_bind_socket_source_address_port_and_device() -> None:
    async def main() -> None:
        lst = listener()
        port = lst.getsockname()[1]
        src = closed_port()
        ch = Checker(kind="TCP_CHECK", bindto=ipaddress.ip_address("127.0.0.2"), bind_port=src)
        assert await probe_once("127.0.0.1", port, ch=ch) == 0
        conn, peer = lst.accept()
        assert peer == ("127.0.0.2", src)
        conn.close()
        # a source address this host does not have: a failed check, not an exception
        bad = Checker(kind="TCP_CHECK", bindto=ipaddress.ip_address("192.0.2.77"))
        assert await probe_once("127.0.0.1", port, ch=bad) == errno.EADDRNOTAVAIL
        if os.geteuid() == 0:
            ok = Checker(kind="TCP_CHECK", bind_if="lo")
            assert await probe_once("127.0.0.1", port, ch=ok) == 0
            nodev = Checker(kind="TCP_CHECK", bind_if="kpck-nodev0")
            assert await probe_once("127.0.0.1", port, ch=nodev) == errno.ENODEV
        lst.close()
    asyncio.run(main())


# -- the daemon on the scheduler ----------------------------------------------------------------

class FakeDataplane:
    """Records what the daemon applies; `fail` applies fail first."""

    def __init__(self, fail: int = 0) -> None:
        self.groups: dict[str, Any] = {}
        self.applied: list[tuple[str, tuple[Target, ...]]] = []
        self.attempts = 0
        self.fail = fail

    async def setup(self) -> bool:
        return True

    async def apply(self, vs: VirtualServer, targets: Sequence[Target]) -> bool:
        self.attempts += 1
        if self.fail:
            self.fail -= 1
            return False
        self.applied.append((str(vs.address), tuple(targets)))
        return True

    async def remove(self, vs: VirtualServer) -> bool:
        return True


def config(tmp: Path, ports: Sequence[int], weight: int = 1, delay: float = 0.2) -> Config:
    rs = "".join(f"  real_server 127.0.0.1 {p} {{\n    weight {weight}\n    TCP_CHECK {{\n"
                 "      connect_timeout 0.5\n      retry 0\n    }\n  }\n" for p in ports)
    path = tmp / f"k{weight}.conf"
    path.write_text(f"virtual_server 192.0.2.100 80 {{\n  delay_loop {delay}\n  lb_kind NAT\n"
                    f"  protocol TCP\n{rs}}}\n")
    res = load_config(str(path))
    assert res.config is not None, res.diagnostics
    return res.config


def daemon(dp: FakeDataplane) -> CheckerDaemon:
    """The checker daemon's checking side, without its control socket and kernel dataplane."""
    d = CheckerDaemon(Options())
    d.loop = asyncio.get_running_loop()
    d.scheduler = probe.Scheduler(d.loop, d._fire)
    d.prober = probe.TcpProber(d.loop, d._tcp_done)
    d.notifier = Notifier(script_security=False)
    d.dataplane = dp  # type: ignore[assignment]
    d.kind = "fake"
    return d


async def until(cond: Any, timeout: float = 5.0) -> bool:
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return bool(cond())


def test_results_go_to_the_current_real_server_after_a_reload(tmp_path: Path) -> None:
    async def main() -> None:
        lst = listener()
        port = lst.getsockname()[1]
        dp = FakeDataplane()
        d = daemon(dp)
        await d._sync(config(tmp_path, [port], weight=1))
        (vsrun,) = d.servers.values()
        (rr,) = vsrun.reals.values()
        (run,) = rr.checkers
        assert await until(lambda: run.state.checks >= 2)
        # reload: the real server's weight changes (a new RealServer), its checker does not
        await d._sync(config(tmp_path, [port], weight=3))
        (rr2,) = d.servers[next(iter(d.servers))].reals.values()
        assert rr2 is not rr and rr2.checkers == [run] and run.real is rr2 and run.alive
        assert dp.applied[-1][1] == (Target("127.0.0.1", port, 3),)
        checks = run.state.checks
        lst.close()                                   # the server dies after the reload
        assert await until(lambda: not rr2.up), run.state
        assert run.state.checks > checks              # the kept checker went on
        assert await until(lambda: dp.applied[-1][1] == ())   # and the table followed
        d.prober.close()  # type: ignore[union-attr]
        d.scheduler.close()  # type: ignore[union-attr]
    asyncio.run(main())


def test_removed_checker_results_are_dropped(tmp_path: Path) -> None:
    async def main() -> None:
        lst = listener()
        port, other = lst.getsockname()[1], closed_port()
        d = daemon(FakeDataplane())
        await d._sync(config(tmp_path, [port, other]))
        old = [c for r in d.servers.values() for rr in r.reals.values() for c in rr.checkers]
        await d._sync(config(tmp_path, [port], weight=2))
        assert [c.alive for c in old] == [True, False]
        before = old[1].state.checks
        await asyncio.sleep(0.5)
        assert old[1].state.checks == before
        lst.close()
        d.prober.close()  # type: ignore[union-attr]
        d.scheduler.close()  # type: ignore[union-attr]
    asyncio.run(main())


def test_first_checks_are_spread_over_the_first_delay_loop(tmp_path: Path) -> None:
    async def main() -> None:
        d = daemon(FakeDataplane())
        first: list[float] = []
        schedule = d.scheduler.schedule  # type: ignore[union-attr]

        def record(job: Any, at: float) -> None:
            first.append(at)
            schedule(job, at)
        d.scheduler.schedule = record  # type: ignore[method-assign, union-attr]
        cfg = config(tmp_path, range(20001, 20201), delay=2.0)
        now = asyncio.get_running_loop().time()
        await d._sync(cfg)
        due = sorted(at - now for at in first[:200])
        # keepalived's: 1 s (BOOTSTRAP_DELAY) + a random part of warmup (default delay_loop)
        assert len(due) == 200 and 0.95 < due[0] and due[-1] < 3.1
        buckets = [sum(1 for d in due if 1 + k * 0.2 <= d < 1.2 + k * 0.2) for k in range(10)]
        assert max(buckets) < 60, buckets              # spread, not all at once (20 each)
        d.prober.close()  # type: ignore[union-attr]
        d.scheduler.close()  # type: ignore[union-attr]
    asyncio.run(main())


def test_failed_apply_is_retried_with_backoff(tmp_path: Path) -> None:
    async def main() -> None:
        dp = FakeDataplane(fail=2)
        d = daemon(dp)
        lst = listener()                  # the server stays up: only the retries apply
        with capture_logs() as logs:
            await d._sync(config(tmp_path, [lst.getsockname()[1]], delay=30))
            assert dp.attempts == 1 and not dp.applied
            assert await until(lambda: dp.applied, 3.0)      # after 0.5 s, then 1 s
        assert dp.attempts == 3
        retries = [e["delay"] for e in logs if e["event"] == "check.dataplane.retry"]
        assert retries == [0.5, 1.0]
        assert d._backoff == 0.0                             # reset once it worked
        lst.close()
        d.prober.close()  # type: ignore[union-attr]
        d.scheduler.close()  # type: ignore[union-attr]
    asyncio.run(main())


def test_missing_nft_binary_is_one_error_not_an_exception(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))               # no nft there
    vs = config(tmp_path, [80]).virtual_servers[0]

    async def main() -> None:
        dp = NftDataplane()
        with capture_logs() as logs:
            assert not await dp.setup()
            assert not await dp.apply(vs, [Target("127.0.0.1", 80, 1)])
            assert not await dp.present()
            assert await dp.prune() == 0
        errors = [e for e in logs if e["log_level"] == "error"]
        assert len(errors) == 1 and "cannot run nft" in errors[0]["error"], logs
    asyncio.run(main())


def test_fd_limit_is_raised_for_every_checker_never_lowered() -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        low = min(hard, 1024) if hard != resource.RLIM_INFINITY else 1024
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        got = probe.ensure_fd_limit(4000)
        want = 5024 if hard == resource.RLIM_INFINITY else min(5024, hard)
        assert got == want == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert probe.ensure_fd_limit(10) == want            # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_failing_job_is_tried_again_and_the_others_still_run() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[str] = []

        def fire(job: Job, due: float, now: float) -> None:
            fired.append(job.name)
            if job.name == "bad" and fired.count("bad") == 1:
                raise RuntimeError("a bug")
        sched = probe.Scheduler(loop, fire)
        now = loop.time()
        sched.schedule(Job("bad"), now)
        sched.schedule(Job("good"), now)
        sched.schedule(Job("later"), now + 0.05)
        await asyncio.sleep(0.2)
        assert fired[:3] == ["bad", "good", "later"] or fired[:3] == ["good", "bad", "later"]
        assert len(sched) == 1                    # "bad" again, in 1 s
        sched.close()
    asyncio.run(main())


def test_probe_ipv6_loopback() -> None:
    async def main() -> None:
        s = socket.socket(socket.AF_INET6)
        try:
            s.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback")
        s.listen(8)
        assert await probe_once("::1", s.getsockname()[1]) == 0
        s.close()
        assert await probe_once("::1", closed_port()) == errno.ECONNREFUSED
    asyncio.run(main())


def test_an_unusable_dataplane_is_set_up_again_and_then_gets_everything(tmp_path: Path
                                                                        ) -> None:
    class Later(FakeDataplane):
        async def setup(self) -> bool:
            return True                          # usable from the first retry on

    async def main() -> None:
        dp = Later()
        d = daemon(dp)
        d.dataplane_ok = False                   # as start() leaves it when setup failed
        lst = listener()
        await d._sync(config(tmp_path, [lst.getsockname()[1]], delay=30))
        assert dp.attempts == 0                  # nothing applied while unusable
        with capture_logs() as logs:
            await asyncio.wait_for(d._setup_again(), 3)
            assert await until(lambda: dp.applied, 2)
        assert d.dataplane_ok
        assert [e["event"] for e in logs].count("check.dataplane.available") == 1
        lst.close()
        d.prober.close()  # type: ignore[union-attr]
        d.scheduler.close()  # type: ignore[union-attr]
    asyncio.run(main())


def test_probe_closes_with_a_fin_the_server_reads_an_end_of_file() -> None:
    """keepalived's TCP_CHECK closes with a FIN: the server reads an end of file. Ours sends
    the FIN, then at once a reset (no TIME_WAIT here, nothing tracked): the server still
    reads an end of file, never ECONNRESET (Python's http.server logs a traceback for that)."""
    async def main() -> None:
        lst = listener()
        for _ in range(5):
            assert await probe_once("127.0.0.1", lst.getsockname()[1]) == 0
        lst.settimeout(2)
        for _ in range(5):
            conn, _ = lst.accept()
            with conn:
                conn.settimeout(2)
                assert conn.recv(100) == b""
    asyncio.run(main())


def test_scheduler_stats_with_nothing_queued_nor_in_flight() -> None:
    """The `checks` totals while every check is in flight, or none is: the scheduler and the
    prober have a length (0 then), the totals are still theirs."""
    async def main() -> None:
        d = daemon(FakeDataplane())
        assert d.scheduler is not None and d.prober is not None
        d.scheduler.started, d.prober.made = 7, 3
        stats = d.scheduler_stats()
        assert stats["started"] == 7 and stats["sockets_made"] == 3
        assert stats["queued"] == 0 and stats["in_flight"] == 0
        assert stats["drift"]["samples"] == 0
        d.prober.close()
        d.scheduler.close()
    asyncio.run(main())
