"""The supervisor's judgement of a child's progress (core/liveness.py), on a manual clock."""
from __future__ import annotations

import pytest

from keepalived_py.core.liveness import (
    READY_SILENCE_LIMIT,
    START_STALL_LIMIT,
    STOPPED_LIMIT,
    Liveness,
    Verdict,
)


def ticks(live: Liveness, start: float, end: float, state: str | None = "S", cpu: int | None = None,
          step: float = 0.5, beat: bool = False) -> list[Verdict]:
    """Watchdog looks every `step` s from start to end; with `beat`, a heartbeat before each."""
    out = []
    t = start
    n = 0
    while t <= end + 1e-9:
        if beat:
            live.message(t, n, 0.0)
        out.append(live.observe(t, state, cpu if cpu is not None else n))
        n += 1
        t += step
    return out


def test_liveness_starting_child_is_never_killed_while_it_uses_cpu() -> None:
    live = Liveness(started=0.0)
    # silent for ten minutes (imports on a starved VM), CPU time creeping up
    assert all(v is Verdict.OK for v in ticks(live, 0.5, 600.0, state="R"))


def test_liveness_starting_child_hung_without_cpu_is_killed_after_the_stall_limit() -> None:
    live = Liveness(started=0.0)
    verdicts = ticks(live, 0.5, START_STALL_LIMIT + 1, state="S", cpu=7)
    first_kill = next(i for i, v in enumerate(verdicts) if v.kill)
    assert verdicts[first_kill] is Verdict.HUNG
    assert (first_kill + 1) * 0.5 >= START_STALL_LIMIT


def test_liveness_ready_child_with_a_late_loop_is_reported_not_killed() -> None:
    live = Liveness(started=0.0)
    live.became_ready(1.0)
    live.message(1.5, 1, 4.0)                  # its 0.5 s timer fired 4 s late
    assert live.observe(1.6, "R", 10) is Verdict.SLOW
    assert live.observe(2.0, "R", 11) is Verdict.OK          # said once
    # beats every 5 s for ten minutes: slow, alive
    t = 2.0
    while t < 600:
        t += 5.0
        live.message(t, None, 4.5)
        assert not live.observe(t + 0.1, "R", int(t)).kill
    live.message(t + 1, None, 0.01)
    assert live.observe(t + 1.1, "S", int(t)) is Verdict.RECOVERED
    assert live.max_lag == pytest.approx(4.5)


def test_liveness_ready_child_silent_for_the_limit_is_killed() -> None:
    live = Liveness(started=0.0)
    live.became_ready(1.0)
    assert not live.observe(1.0 + READY_SILENCE_LIMIT - 0.5, "R", 100).kill
    assert live.observe(1.0 + READY_SILENCE_LIMIT, "R", 200) is Verdict.SILENT


@pytest.mark.parametrize("ready", [True, False])
@pytest.mark.parametrize("state", ["T", "t"])
def test_liveness_stopped_child_is_killed_within_two_seconds(ready: bool, state: str) -> None:
    live = Liveness(started=0.0)
    if ready:
        live.became_ready(0.5)
    verdicts = ticks(live, 1.0, 5.0, state=state, cpu=3)
    first_kill = next(i for i, v in enumerate(verdicts) if v.kill)
    assert verdicts[first_kill] is Verdict.STOPPED
    assert first_kill * 0.5 <= STOPPED_LIMIT + 0.5


def test_liveness_a_message_or_a_running_look_clears_stopped() -> None:
    live = Liveness(started=0.0)
    live.became_ready(0.0)
    assert live.observe(1.0, "T", 1) is Verdict.OK
    live.message(1.2, 5, 0.0)                  # it ran after all (SIGCONT, a tracer let go)
    assert live.observe(2.0, "T", 1) is Verdict.OK
    assert live.observe(2.5, "S", 1) is Verdict.OK
    assert live.observe(3.0, "T", 1) is Verdict.OK
    assert live.observe(3.0 + STOPPED_LIMIT, "T", 1) is Verdict.STOPPED


def test_liveness_restart_clocks_forgives_what_the_parent_did_not_see() -> None:
    live = Liveness(started=0.0)
    live.became_ready(0.0)
    live.observe(0.5, "T", 1)
    # the parent itself was stopped for two minutes; on waking it restarts every clock
    live.restart_clocks(120.0)
    assert live.observe(120.5, "S", 1) is Verdict.OK
    assert live.observe(121.0, "T", 1) is Verdict.OK
    assert not live.observe(120.0 + READY_SILENCE_LIMIT - 1, "S", 1).kill


def test_liveness_unreadable_proc_is_no_evidence() -> None:
    live = Liveness(started=0.0)
    live.became_ready(0.0)
    assert all(v is Verdict.OK for v in ticks(live, 0.5, 30.0, beat=True, state=None))


def test_liveness_thinned_heartbeats_give_the_same_verdicts_as_every_beat() -> None:
    """The child sends every BEAT_EVERY-th beat and each late one (beat_due, issue 16.2): the
    supervisor reports the same SLOW / RECOVERED at the same looks as with every beat sent."""
    from keepalived_py.core.liveness import BEAT_EVERY, LAG_TOLD, beat_due
    lags = [0.0] * 9 + [0.3, 1.5, 2.0, 0.1, 0.0, 0.0, 1.2, 0.6, 0.26, 0.2] + [0.0] * 20
    runs = []
    for thin in (False, True):
        live = Liveness(started=0.0)
        live.became_ready(0.1)
        told, verdicts, sent = 0.0, [], 0
        for seq, lag in enumerate(lags):
            t = 0.5 * (seq + 1)
            if not thin or beat_due(seq, lag, told):
                live.message(t, seq, lag)
                told, sent = lag, sent + 1
            verdicts.append(live.observe(t + 0.1, "S", seq))
        runs.append((verdicts, live.max_lag, sent))
    assert runs[0][:2] == runs[1][:2]
    assert [v for v in runs[0][0] if v is not Verdict.OK] == \
        [Verdict.SLOW, Verdict.RECOVERED, Verdict.SLOW, Verdict.RECOVERED]
    assert runs[1][2] < runs[0][2] / 2
    assert beat_due(0, 0.0, 0.0) and not beat_due(1, 0.0, 0.0) and beat_due(BEAT_EVERY, 0.0, 0.0)
    assert beat_due(3, LAG_TOLD, 0.0) and beat_due(3, 0.0, LAG_TOLD)


def test_liveness_thinned_heartbeats_keep_a_ready_child_alive() -> None:
    from keepalived_py.core.liveness import beat_due
    live = Liveness(started=0.0)
    live.became_ready(0.1)
    for seq in range(int(3 * READY_SILENCE_LIMIT / 0.5)):
        t = 0.5 * (seq + 1)
        if beat_due(seq, 0.0, 0.0):
            live.message(t, seq, 0.0)
        assert not live.observe(t + 0.1, "S", seq).kill
