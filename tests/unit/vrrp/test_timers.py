"""TimerQueue: one loop timer for every instance's deadline (vrrp/timers.py)."""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import pytest

from keepalived_py.vrrp.timers import TimerQueue


class _Handle:
    def __init__(self, loop: FakeLoop, when: float, cb: Callable[[], None]) -> None:
        self.loop, self.when, self.cb, self.cancelled = loop, when, cb, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """call_at/time with a manual clock: `advance(t)` runs what is due, in time order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[_Handle] = []
        self.armed = 0                      # how many loop timers were created

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, cb: Callable[[], None]) -> _Handle:
        h = _Handle(self, when, cb)
        self.handles.append(h)
        self.armed += 1
        return h

    def advance(self, to: float) -> None:
        while True:
            live = [h for h in self.handles if not h.cancelled and h.when <= to]
            if not live:
                break
            h = min(live, key=lambda x: x.when)
            self.handles.remove(h)
            self.now = max(self.now, h.when)
            h.cb()
        self.now = to


def make() -> tuple[FakeLoop, TimerQueue, list[tuple[float, Hashable]]]:
    loop = FakeLoop()
    fired: list[tuple[float, Hashable]] = []
    q = TimerQueue(loop, lambda k: fired.append((loop.now, k)))  # type: ignore[arg-type]
    return loop, q, fired


def test_timers_fire_in_deadline_order() -> None:
    loop, q, fired = make()
    q.set("b", 2.0)
    q.set("a", 1.0)
    q.set("c", 3.0)
    loop.advance(10)
    assert fired == [(1.0, "a"), (2.0, "b"), (3.0, "c")]


def test_timers_later_deadline_costs_no_loop_timer() -> None:
    """A backup hearing adverts moves its deadline later each time: no new loop timer."""
    loop, q, fired = make()
    q.set("vi", 3.6)
    armed = loop.armed
    for i in range(1, 100):
        loop.advance(i * 0.01)
        q.set("vi", 3.6 + i * 0.01)
    assert loop.armed == armed
    loop.advance(3.6)                       # the old entry surfaces and is pushed on
    assert fired == []
    loop.advance(10)
    assert fired == [(3.6 + 99 * 0.01, "vi")]


def test_timers_earlier_deadline_rearms() -> None:
    loop, q, fired = make()
    q.set("vi", 3.6)
    q.set("vi", 0.6)                        # priority 0 heard: Skew_Time
    loop.advance(1.0)
    assert fired == [(0.6, "vi")]
    loop.advance(10)
    assert fired == [(0.6, "vi")]           # the stale 3.6 entry does not fire


def test_timers_stopped_key_does_not_fire() -> None:
    loop, q, fired = make()
    q.set("vi", 1.0)
    q.set("vi", None)
    loop.advance(5)
    assert fired == []
    q.set("vi", 6.0)                        # and can be started again
    loop.advance(7)
    assert fired == [(6.0, "vi")]


def test_timers_fire_callback_may_set_new_deadlines() -> None:
    loop = FakeLoop()
    fired: list[tuple[float, Hashable]] = []
    state: dict[str, Any] = {"n": 0}

    def again(key: Hashable) -> None:
        fired.append((loop.now, key))
        state["n"] += 1
        if state["n"] < 3:
            q.set(key, loop.now + 1.0)        # a master's next advert
    q = TimerQueue(loop, again)  # type: ignore[arg-type]
    q.set("m", 1.0)
    loop.advance(10)
    assert fired == [(1.0, "m"), (2.0, "m"), (3.0, "m")]


def test_timers_many_keys_same_deadline_all_fire_once() -> None:
    loop, q, fired = make()
    for i in range(200):
        q.set(i, 1.0)
    loop.advance(2)
    assert sorted(k for _t, k in fired) == list(range(200))  # type: ignore[type-var]


def test_timers_slack_fires_early_keys_together_never_late() -> None:
    loop, q, fired = make()
    q.set("a", 1.0, slack=0.1)
    q.set("b", 1.05, slack=0.1)         # within its slack when "a" fires: the same wake-up
    q.set("c", 1.2, slack=0.1)          # not within: its own wake-up, on time
    q.set("d", 1.08)                    # no slack: never early
    loop.advance(10)
    assert fired == [(1.0, "a"), (1.0, "b"), (1.08, "d"), (1.2, "c")]


def test_timers_slack_never_makes_a_key_late() -> None:
    loop, q, fired = make()
    for i in range(50):
        q.set(i, 1.0 + i * 0.013, slack=0.05 if i % 2 else 0.0)
    loop.advance(10)
    when = {k: t for t, k in fired}
    assert sorted(when) == list(range(50))
    for i in range(50):
        deadline = 1.0 + i * 0.013
        assert when[i] <= deadline + 1e-9                     # never late
        assert when[i] >= deadline - (0.05 if i % 2 else 0.0) - 1e-9   # early within slack
    assert loop.armed < 50


def test_timers_slack_dropped_when_set_without() -> None:
    loop, q, fired = make()
    q.set("a", 1.0)
    q.set("b", 1.05, slack=0.1)
    q.set("b", 1.05)                    # now without slack: not early any more
    loop.advance(10)
    assert fired == [(1.0, "a"), (1.05, "b")]


def test_timers_stale_entries_go_in_one_wake_up() -> None:
    """Backups' deadlines all move later (adverts): when one stale entry surfaces, the other
    stale ones are re-pushed in the same wake-up, not one wake-up each; nothing fires early."""
    loop, q, fired = make()
    for i in range(100):
        q.set(i, 1.0 + i * 0.001)
    for i in range(100):
        q.set(i, 5.0 + i * 0.001)         # all moved later: every heap entry is stale
    before = loop.armed
    loop.advance(4.9)
    assert fired == []
    assert loop.armed - before <= 2
    loop.advance(10)
    assert [k for _t, k in fired] == list(range(100))
    assert all(t == 5.0 + k * 0.001 for t, k in fired)


def test_timers_real_loop_timerfd_fires_in_order_never_early() -> None:
    """On a real loop (Linux: a timerfd, nanoseconds, not epoll's rounded milliseconds)."""
    import asyncio

    async def main() -> list[tuple[float, Hashable, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[float, Hashable, float]] = []
        deadlines: dict[Hashable, float] = {}
        q = TimerQueue(loop, lambda k: fired.append((loop.time(), k, deadlines[k])))
        assert q._tfd is not None                     # Linux: the timerfd is in use
        now = loop.time()
        for k, dt in (("b", 0.06), ("a", 0.03), ("c", 0.09)):
            deadlines[k] = now + dt
            q.set(k, now + dt)
        deadlines["b"] = now + 0.1
        q.set("b", now + 0.1)                         # moved later
        deadlines["d"] = now + 0.02
        q.set("d", now + 0.02)                        # earlier than all: re-armed
        await asyncio.sleep(0.3)
        q.close()
        return fired

    fired = asyncio.run(main())
    assert [k for _t, k, _d in fired] == ["d", "a", "c", "b"]
    assert all(t >= d for t, _k, d in fired)


def test_timers_defer_runs_after_every_due_key() -> None:
    loop = FakeLoop()
    order: list[str] = []

    def fire(k: Hashable) -> None:
        order.append(f"send {k}")
        q.defer(lambda: order.append(f"log {k}"))

    q = TimerQueue(loop, fire)  # type: ignore[arg-type]
    for k in "abc":
        q.set(k, 1.0)
    loop.advance(2)
    assert order == ["send a", "send b", "send c", "log a", "log b", "log c"]
    q.defer(lambda: order.append("now"))          # outside a wake-up: at once
    assert order[-1] == "now"


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
_FIRES = """
import asyncio
from keepalived_py.vrrp import timers
async def main():
    loop = asyncio.get_running_loop()
    fired = []
    t = timers._TimerFd(loop, lambda: fired.append(loop.time()))
    start = loop.time()
    t.arm(start + 0.1)
    await asyncio.sleep(0.6)
    print(len(fired), round(fired[0] - start, 3) if fired else -1)
asyncio.run(main())
"""


@pytest.mark.parametrize("offset", ["-3600", "+3600"])
def test_timerfd_expiry_ignores_a_stepped_wall_clock(tmp_path, offset: str) -> None:
    """The wall clock stepped (libfaketime, CLOCK_MONOTONIC untouched, as `date -s`): the
    timer still fires after 0.1 s (armed absolute, libfaketime moved it by the offset)."""
    import os
    import subprocess
    import sys
    if not os.path.exists(FAKETIME):
        pytest.skip("libfaketime is not installed (tests/run.sh installs it)")
    (tmp_path / "ft").write_text(offset + "\n")
    env = dict(os.environ, LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=str(tmp_path / "ft"),
               FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
    out = subprocess.run([sys.executable, "-c", _FIRES], env=env, capture_output=True,
                         text=True, timeout=30).stdout.split()
    assert out and out[0] == "1" and 0.09 <= float(out[1]) < 0.5, out


def test_timers_next_due_is_no_later_than_the_next_firing() -> None:
    loop, q, fired = make()
    assert q.next_due() is None
    q.set("a", 2.0)
    q.set("b", 1.0)
    assert q.next_due() == 1.0
    q.set("b", 5.0)                     # moved later: its old entry still bounds it
    assert q.next_due() == 1.0
    loop.advance(1.5)                   # the stale entry surfaces and is pushed again
    assert fired == [] and q.next_due() == 2.0
    loop.advance(10)
    assert [k for _t, k in fired] == ["a", "b"] and q.next_due() is None


def test_timers_prewake_waits_out_a_no_slack_deadline_never_early() -> None:
    """The timerfd wakes PREWAKE before a deadline; one that may not come early (no slack:
    a backup's down timer) is waited for on the CPU and fires at or after it, one with
    slack fires at the early wake-up."""
    import asyncio
    import time

    from keepalived_py.vrrp.timers import PREWAKE

    async def main() -> list[tuple[float, Hashable, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[float, Hashable, float]] = []
        deadlines: dict[Hashable, float] = {}
        q = TimerQueue(loop, lambda k: fired.append((time.monotonic(), k, deadlines[k])))
        assert q._tfd is not None
        now = loop.time()
        for i in range(5):
            deadlines[i] = now + 0.02 + i * 0.0003    # closer together than PREWAKE
            q.set(i, deadlines[i])
        deadlines["m"] = now + 0.05
        q.set("m", deadlines["m"], slack=0.01)
        await asyncio.sleep(0.2)
        q.close()
        return fired

    fired = asyncio.run(main())
    assert [k for _t, k, _d in fired] == [0, 1, 2, 3, 4, "m"]
    assert all(t >= d for t, k, d in fired if k != "m")
    t, _k, d = fired[-1]
    assert d - 0.01 - 1e-6 <= t                       # early within its slack, at most
    assert PREWAKE < 0.01
