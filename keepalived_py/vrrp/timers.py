"""One timer structure for every instance: a heap of deadlines behind a single loop timer.

Theory of operation. Each instance has at most one deadline (machine.next_deadline()). A
backup moves its deadline later with every advert it hears — hundreds of times a second with
many instances — and a master moves it one interval on at every advert it sends. Cancelling
and re-creating a loop TimerHandle for each of those costs an allocation and a heap push
each time, and leaves the loop's heap full of cancelled handles. Here a later deadline
costs one dict store: the instance's heap entry stays where it is, and when that entry comes
due it is pushed again at the instance's current deadline (lazy rescheduling). Only an
earlier deadline pushes a new entry (and re-arms the one loop timer if it is the earliest).

Entries are (when, seq, key); `_entry[key]` names the one entry that counts for `key`, so
older entries of the same key are recognised as stale and dropped when they surface.

Slack (coalescing). `set(key, deadline, slack)` lets `key` fire up to `slack` seconds early,
never late: when the loop wakes for one deadline, every key whose deadline is within its own
slack of now fires in the same wake-up. 200 masters at 0.1 s, whose adverts are spread over
the interval, then cost a handful of wake-ups per interval instead of one per advert. The
edge gives slack only to deadlines that may come early (a master's adverts, 10% of the
interval), never to a backup's Master_Down timer.

Precision. asyncio's own timers wake through epoll_wait, whose timeout is whole milliseconds,
rounded up: every deadline would be up to a millisecond late (a failover's overhead). On
Linux the one timer is a timerfd instead (CLOCK_MONOTONIC, armed relative to now, nanoseconds: the clock
of loop.time()), read by the loop like a socket, as keepalived's scheduler does; elsewhere,
or if timerfd_create fails, loop.call_at.
"""
from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import os
import struct
import time
from collections.abc import Callable, Hashable

_EPS = 1e-6                  # a deadline this close to now is due (as machine._EPS)
GATHER_SECONDS = 0.01        # a socket's read wake-up reads its queue this long at most
# the timerfd wakes the loop this long before a deadline that may not come early (a backup's
# down timer), and the rest is waited out on the CPU: a process asleep takes 0.1 ms or more
# to be running again on a loaded host, and a takeover's advert should not wait for that
# (issue 16.4). Only a real expiry waits here: a backup hearing its master has its deadline
# moved on before that.
PREWAKE = 0.0005


_CLOCK_MONOTONIC = 1
_TFD_CLOEXEC, _TFD_NONBLOCK, _TFD_TIMER_ABSTIME = 0o2000000, 0o4000, 1


class _TimerFd:
    """One CLOCK_MONOTONIC timerfd on the loop: `arm(when)` (loop.time() seconds), `disarm()`;
    `fire()` runs from the loop when it expires."""

    _libc: ctypes.CDLL | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[], None]) -> None:
        if _TimerFd._libc is None:
            _TimerFd._libc = ctypes.CDLL(None, use_errno=True)
        self._lib = _TimerFd._libc
        fd = self._lib.timerfd_create(_CLOCK_MONOTONIC, _TFD_CLOEXEC | _TFD_NONBLOCK)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self.fd = fd
        self._loop = loop
        self._fire = fire
        self._spec = ctypes.create_string_buffer(32)      # struct itimerspec (two timespecs)
        loop.add_reader(fd, self._ready)

    def arm(self, when: float) -> None:
        # relative, not TFD_TIMER_ABSTIME: the same CLOCK_MONOTONIC expiry, and an interposed
        # libc (libfaketime, which shifts absolute deadlines by its wall-clock offset even for
        # CLOCK_MONOTONIC) cannot move it
        ns = max(1, int((when - time.monotonic()) * 1e9))  # 0 would disarm it
        struct.pack_into("qqqq", self._spec, 0, 0, 0, ns // 1_000_000_000, ns % 1_000_000_000)
        self._lib.timerfd_settime(self.fd, 0, self._spec, None)

    def disarm(self) -> None:
        struct.pack_into("qqqq", self._spec, 0, 0, 0, 0, 0)
        self._lib.timerfd_settime(self.fd, 0, self._spec, None)

    def _ready(self) -> None:
        try:
            os.read(self.fd, 8)
        except (BlockingIOError, InterruptedError):
            return                                       # re-armed meanwhile: not yet
        self._fire()

    def close(self) -> None:
        self._loop.remove_reader(self.fd)
        os.close(self.fd)


class TimerQueue:
    """Deadlines by key; `fire(key)` runs when a key's deadline has come."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[Hashable], None],
                 timerfd: bool = True) -> None:
        self._loop = loop
        self._fire = fire
        self._heap: list[tuple[float, int, Hashable]] = []
        self._when: dict[Hashable, float] = {}             # the current deadline per key
        self._entry: dict[Hashable, tuple[float, int]] = {}  # its live heap entry
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed: float | None = None
        self._slack: dict[Hashable, float] = {}            # keys that may fire early, by how much
        self._max_slack = 0.0
        self._tfd: _TimerFd | None = None
        self._deferred: list[Callable[[], None]] | None = None     # during _run's fires
        if timerfd and hasattr(loop, "add_reader"):
            try:
                self._tfd = _TimerFd(loop, self._run)
            except (OSError, AttributeError, NotImplementedError):
                self._tfd = None                # not Linux, or no timerfd: loop.call_at

    def set(self, key: Hashable, deadline: float | None, slack: float = 0.0) -> None:
        """`key`'s deadline is now `deadline` (None: no timer); it may fire up to `slack`
        seconds early (never late)."""
        if deadline is None:
            self._when.pop(key, None)
            return                              # its entry, if any, is dropped when it surfaces
        self._when[key] = deadline
        if slack > 0.0:
            self._slack[key] = slack
            if slack > self._max_slack:
                self._max_slack = slack
        elif self._slack:
            self._slack.pop(key, None)
        entry = self._entry.get(key)
        if entry is not None and entry[0] <= deadline:
            return                              # re-pushed at the new deadline when it surfaces
        self._push(key, deadline)

    def defer(self, fn: Callable[[], None]) -> None:
        """Run `fn` after every key due in this wake-up has fired (their packets first, then
        logs and scripts: 50 instances taking over together send 50 adverts before the
        first log line); outside a wake-up, now."""
        if self._deferred is None:
            fn()
        else:
            self._deferred.append(fn)

    def gather(self, read: Callable[[bool], object], arg: bool = False) -> None:
        """`read(arg)` (a socket's read of its queued packets, True while more may be queued)
        as one timer wake-up (issue 15). The keys already due fire first: after a stall (the
        process frozen, the loop held) epoll may hand the socket over before the timer, and a
        master's overdue adverts must not wait behind a backlog of stale packets. The queue is
        read until it is empty (for GATHER_SECONDS at most), the keys coming due meanwhile
        firing between two reads, and what the reads defer (`defer`: the transitions' logs,
        scripts, state file) runs after the last one: 200 instances demoted by one burst of a
        better master's adverts drop their addresses back to back."""
        if self._deferred is not None:
            read(arg)
            return
        self._deferred = []
        time_of, heap = self._loop.time, self._heap
        try:
            end = time_of() + GATHER_SECONDS
            while True:
                if heap and heap[0][0] <= time_of() + _EPS:
                    self._run()
                if not read(arg) or time_of() >= end:
                    break
        finally:
            deferred, self._deferred = self._deferred, None
            for fn in deferred:
                fn()

    def deadline(self, key: Hashable) -> float | None:
        return self._when.get(key)

    def next_due(self) -> float | None:
        """No key fires before this (the earliest heap entry; it may be a stale one, so the
        next firing may be later); None: nothing is pending."""
        return self._heap[0][0] if self._heap else None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        if self._tfd is not None:
            self._tfd.close()
            self._tfd = None
        self._armed = None
        self._heap.clear()
        self._when.clear()
        self._entry.clear()
        self._slack.clear()
        self._max_slack = 0.0

    def _push(self, key: Hashable, when: float) -> None:
        seq = next(self._seq)
        self._entry[key] = (when, seq)
        heapq.heappush(self._heap, (when, seq, key))
        if self._armed is None or when < self._armed:
            self._arm(when)

    def _arm(self, when: float) -> None:
        self._armed = when
        if self._tfd is not None:
            self._tfd.arm(when - PREWAKE)       # replaces the previous expiry (_run waits)
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._run)

    def _run(self) -> None:
        self._handle = None
        self._armed = None
        heap, entry, when_of, slack_of = self._heap, self._entry, self._when, self._slack
        due: list[Hashable] = []
        later: list[tuple[Hashable, float]] = []
        now = self._loop.time()
        if heap and self._tfd is not None:      # woken PREWAKE early: a live deadline that
            when, seq, key = heap[0]            # may not fire early is waited for here
            if now + _EPS < when <= now + PREWAKE and entry.get(key) == (when, seq) and \
                    when_of.get(key) == when and slack_of.get(key, 0.0) < when - now:
                while time.monotonic() < when:
                    pass
                now = self._loop.time()
        horizon = now + _EPS + self._max_slack  # nothing beyond can fire now, even early
        while heap:
            when, seq, key = heap[0]
            if when > horizon and entry.get(key) == (when, seq) and \
                    when_of.get(key, when + 1.0) <= when:
                break                           # the first live entry not due yet: wait
            # due, or stale (superseded, stopped, or its deadline moved later): a backup's
            # entries all go stale as adverts move the down timers, and re-pushing them all
            # in this one wake-up saves a wake-up per instance per Master_Down_Interval
            heapq.heappop(heap)
            if entry.get(key) != (when, seq):
                continue                        # a stale entry of a key pushed again since
            del entry[key]
            current = when_of.get(key)
            if current is None:
                continue                        # its timer was stopped
            if current > now + _EPS + (slack_of.get(key, 0.0) if slack_of else 0.0):
                later.append((key, current))    # not due (moved later, or no slack that far)
                continue
            del when_of[key]
            due.append(key)
        for key, current in later:              # pushed after the loop: popped only once
            self._push_quiet(key, current)
        mine = self._deferred is None           # (else a socket's read gathers: its list)
        if mine:
            self._deferred = []
        try:
            for key in due:
                self._fire(key)                 # may set() new deadlines (and arm)
        finally:
            if mine:
                deferred, self._deferred = self._deferred, None
                for fn in deferred or ():
                    fn()
        if heap and self._armed is None:
            self._arm(heap[0][0])
        elif heap and self._armed is not None and heap[0][0] < self._armed:
            self._arm(heap[0][0])

    def _push_quiet(self, key: Hashable, when: float) -> None:
        """A push during _run: the timer is re-armed once at the end."""
        seq = next(self._seq)
        self._entry[key] = (when, seq)
        heapq.heappush(self._heap, (when, seq, key))
