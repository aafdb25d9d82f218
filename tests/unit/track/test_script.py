from __future__ import annotations

import asyncio
import time
from pathlib import Path

from stallwatch import StallWatch

from keepalived_py.config.model import Script, VrrpScript
from keepalived_py.core.childwatch import use_pidfd_child_watcher
from keepalived_py.track.script import ScriptCounter, ScriptRunner, run_command


def test_script_counter_first_success_reports_ok_when_rise_is_one() -> None:
    c = ScriptCounter.start(rise=1, fall=1, init_fail=False)
    assert c.reported is None
    assert c.record(True) is True
    assert c.record(True) is None
    assert c.record(False) is False
    assert c.record(False) is None


def test_script_counter_rise_and_fall_as_keepalived() -> None:
    c = ScriptCounter.start(rise=3, fall=2, init_fail=False)
    assert c.record(True) is True            # INIT: one success is enough
    assert c.record(False) is None           # 4 -> 3
    assert c.record(False) is False          # reaches rise: reported failed
    assert c.record(True) is None
    assert c.record(True) is None
    assert c.record(True) is True            # rise successes


def test_script_counter_first_failure_reports_from_init() -> None:
    c = ScriptCounter.start(rise=2, fall=3, init_fail=False)
    assert c.record(False) is False


def test_script_counter_init_fail_starts_failed() -> None:
    c = ScriptCounter.start(rise=2, fall=2, init_fail=True)
    assert c.reported is False
    assert c.record(True) is None
    assert c.record(True) is True


def _sh(text: str) -> Script:
    return Script(argv=("/bin/sh", "-c", text), text=text)


def test_script_counter_carried_over_a_reload_keeps_its_result() -> None:
    # keepalived's SCRIPT_INIT_STATE_INIT_RELOAD: a good script stays good, with full credit
    c = ScriptCounter.resumed(rise=3, fall=2, ok=True)
    assert c.reported is True and c.record(False) is None and c.record(False) is False
    c = ScriptCounter.resumed(rise=3, fall=2, ok=False)
    assert c.reported is False and c.record(True) is None


def test_script_runner_carried_scripts_report_nothing_at_start() -> None:
    async def scenario() -> None:
        states: list[tuple[str, bool]] = []
        scripts = [VrrpScript(name="a", script=Script(argv=("/bin/true",), text="/bin/true"), interval=5,
                              init_fail=True),
                   VrrpScript(name="b", script=Script(argv=("/bin/true",), text="/bin/true"), interval=5,
                              init_fail=True)]
        runner = ScriptRunner(scripts, lambda n, ok: states.append((n, ok)), known={"a": True})
        runner.start()
        await runner.stop()
        assert states == []        # nothing before a first run (init_fail included, as keepalived)
        assert runner.state("a") is True
    asyncio.run(scenario())


def test_run_command_outcomes() -> None:
    async def scenario() -> None:
        assert (await run_command(_sh("exit 0"), 5)).success
        r = await run_command(_sh("exit 3"), 5)
        assert not r.success and r.reason == "exited with status 3"
        r = await run_command(Script(argv=("/nonexistent/x",), text="x"), 5)
        assert not r.success and "cannot execute" in r.reason
        assert (await run_command(Script(argv=("</etc/hostname",), text=""), 5)).success
        assert not (await run_command(Script(argv=("</nonexistent",), text=""), 5)).success
    asyncio.run(scenario())


def test_run_command_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"

    async def scenario() -> None:
        t = time.monotonic()
        r = await run_command(_sh(f"sleep 30 & echo $! > {marker}; sleep 30"), 0.3)
        assert r.exit_type == "timed_out"
        assert time.monotonic() - t < 3
    asyncio.run(scenario())
    pid = int(marker.read_text())
    assert _gone_soon(pid)


def _gone_soon(pid: int, timeout: float = 3.0) -> bool:
    """Dead or a zombie waiting for init to reap it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_run_command_megabytes_of_output_do_not_block() -> None:
    async def scenario() -> None:
        r = await run_command(_sh("head -c 20000000 /dev/zero"), 10)
        assert r.success
    asyncio.run(scenario())


def test_script_runner_does_not_block_the_loop() -> None:
    """100 scripts running at once: the loop is never held while a script runs."""
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        use_pidfd_child_watcher(loop)            # as in the daemon's children (core/childrun.py)
        states: list[tuple[str, bool]] = []
        # each script runs once in the test (interval 10 s), for 1 s; their starts are spread
        # over the first second. A runner that waited for a script would hold the loop for
        # 1 s at a time, and would need 100 s for the 100 results.
        run = 1.0
        scripts = [VrrpScript(name=f"s{i}", script=_sh(f"sleep {run}; exit 1"), interval=10)
                   for i in range(100)]
        runner = ScriptRunner(scripts, lambda n, ok: states.append((n, ok)))
        watch = StallWatch().start()             # the host's own stalls (tests/stallwatch.py)
        try:
            t0 = loop.time()                     # loop.time() is time.monotonic(): the same clock
            runner.start()
            ticks: list[tuple[float, float]] = []
            while len(states) < 100 and loop.time() - t0 < 10:
                t = loop.time()
                await asyncio.sleep(0.02)
                ticks.append((t, loop.time()))
            t1 = loop.time()
            await runner.stop()
            took = t1 - t0 - watch.stalled(t0, t1)
            late = sorted(b - a - 0.02 - watch.stalled(a, b) for a, b in ticks)
        finally:
            watch.stop()
        assert len({n for n, ok in states if not ok}) == 100
        # the scripts ran at once, not in turn (less the time the host ran nobody)
        assert took < 1.0 + run + 2.0, (took, watch.figures())
        # Forking 100 children costs the loop CPU of its own (a few ms each while other
        # processes load the machine: single ticks 0.18 s late were measured with three CPU
        # hogs on 2 cores), but it is never held for as long as a script runs.
        assert late[len(late) // 2] < 0.05 and late[-1] < run / 2, (late[-5:], watch.figures())
    try:
        asyncio.run(scenario())
    finally:
        asyncio.set_child_watcher(None)          # the next test's loops get asyncio's default
