"""BFD sessions (RFC 5880 §6.8) on a fake wire with a manual clock: the three-way handshake,
the Poll Sequence to the fast rate, detection of a silent peer, AdminDown, passive mode,
jitter, reload, and the receive checks of the session table (drops counted, sessions
untouched)."""
from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepalived_py.bfd.packet import Control, Diag, Reason, State, encode
from keepalived_py.bfd.session import (
    Dropped,
    SendControl,
    SessionTable,
    StateChanged,
)
from keepalived_py.config.bfd import BfdInstance

A = ipaddress.ip_address("192.0.2.1")
B = ipaddress.ip_address("192.0.2.2")


def bfd(name: str, nbr: ipaddress.IPv4Address | ipaddress.IPv6Address, **kw: object) -> BfdInstance:
    return BfdInstance(name=name, neighbor_ip=nbr, **kw)  # type: ignore[arg-type]


class Wire:
    """Two session tables joined by a lossless, instant link (unless `cut`)."""

    def __init__(self, a: BfdInstance, b: BfdInstance, seed: int = 1) -> None:
        self.now = 0.0
        self.tables = {A: SessionTable((a,), random.Random(seed)),
                       B: SessionTable((b,), random.Random(seed + 1))}
        self.silent: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self.lose: object = None          # a callable (who) -> bool: drop this packet
        self.changes: list[tuple[float, ipaddress.IPv4Address | ipaddress.IPv6Address,
                                 StateChanged]] = []
        self.sent: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, list[tuple[float, Control]]] \
            = {A: [], B: []}
        for who, t in self.tables.items():
            self._apply(who, t.start(self.now))

    def _apply(self, who: ipaddress.IPv4Address | ipaddress.IPv6Address, actions: list) -> None:
        other = B if who == A else A
        for act in actions:
            if isinstance(act, StateChanged):
                self.changes.append((self.now, who, act))
            elif isinstance(act, SendControl):
                self.sent[who].append((self.now, act.packet))
                if who not in self.silent and not (self.lose and self.lose(who)):  # type: ignore[operator]
                    self._apply(other, self.tables[other].receive(encode(act.packet), who, other,
                                                                  255, self.now))

    def run_until(self, t: float) -> None:
        while True:
            due = [d for x in self.tables.values() if (d := x.next_deadline()) is not None]
            nxt = min(due) if due else None
            if nxt is None or nxt > t:
                self.now = t
                return
            self.now = nxt
            for who, table in self.tables.items():
                self._apply(who, table.expire(self.now))

    def session(self, who: ipaddress.IPv4Address | ipaddress.IPv6Address):  # type: ignore[no-untyped-def]
        return next(iter(self.tables[who].sessions.values()))


def fast(name: str, nbr: ipaddress.IPv4Address | ipaddress.IPv6Address, ms: int = 10,
         mult: int = 3, **kw: object) -> BfdInstance:
    return bfd(name, nbr, min_rx=ms, min_tx=ms, multiplier=mult, **kw)


def _up_pair() -> Wire:
    w = Wire(fast("a", B), fast("b", A))
    w.run_until(3.0)
    assert w.session(A).state is State.UP and w.session(B).state is State.UP
    return w


def test_session_handshake_comes_up_both_ways() -> None:
    w = Wire(fast("a", B), fast("b", A))
    w.run_until(3.0)            # packets go at the idle rate (1 s, jittered) until Up
    assert w.session(A).state is State.UP and w.session(B).state is State.UP
    ups = [c for _, _, c in w.changes if c.new is State.UP]
    assert len(ups) == 2 and all(c.report for c in ups)
    inits = [c for _, _, c in w.changes if c.new is State.INIT]
    assert all(not c.report for c in inits)


def test_session_poll_sequence_reaches_the_fast_rate() -> None:
    w = Wire(fast("a", B), fast("b", A))
    w.run_until(3.0)
    for who in (A, B):
        s = w.session(who)
        assert s.tx_interval == 10_000 and s.detect_time == 30_000
        assert not s.poll
    late = [t for t, _ in w.sent[A] if t > 2.5]
    gaps = [b - a for a, b in zip(late, late[1:], strict=False)]
    # §6.8.7: 75..100 % of the interval (a Final answer may come in between)
    assert max(gaps) <= 0.010 + 1e-9 and sum(gaps) / len(gaps) > 0.0075 * 0.9


def test_session_silent_peer_is_down_within_detection_time() -> None:
    w = Wire(fast("a", B), fast("b", A))
    w.run_until(3.0)
    last_heard = max(t for t, _ in w.sent[B])
    w.silent.add(B)
    w.run_until(3.2)
    downs = [(t, c) for t, who, c in w.changes if who == A and c.new is State.DOWN]
    assert len(downs) == 1
    t, c = downs[0]
    assert c.diag is Diag.EXPIRED and c.report and c.old is State.UP
    assert t - last_heard == pytest.approx(0.030, abs=1e-6)      # mult x interval
    assert w.session(A).remote_discr == 0


def test_session_comes_back_up_after_the_peer_returns() -> None:
    w = Wire(fast("a", B), fast("b", A))
    w.run_until(3.0)
    w.silent.add(B)
    w.run_until(3.5)
    w.silent.clear()
    w.run_until(8.0)
    assert w.session(A).state is State.UP and w.session(B).state is State.UP


def test_session_peer_admin_down_is_not_reported_as_a_failure() -> None:
    w = _up_pair()
    sb = w.session(B)
    p = Control(State.ADMINDOWN, my_discr=sb.local_discr, your_discr=w.session(A).local_discr,
                diag=Diag.ADMIN_DOWN, detect_mult=3, desired_min_tx=10_000, required_min_rx=10_000)
    actions = w.tables[A].receive(encode(p), B, A, 255, w.now)
    change = [a for a in actions if isinstance(a, StateChanged)]
    assert change and change[0].new is State.DOWN and change[0].diag is Diag.NBR_SIGNALLED_DOWN
    assert not change[0].report


def test_session_passive_sends_nothing_until_the_peer_speaks() -> None:
    w = Wire(fast("a", B, passive=True), fast("b", A, passive=True))
    w.run_until(3.0)
    assert w.sent[A] == [] and w.sent[B] == []
    w2 = Wire(fast("a", B, passive=True), fast("b", A))
    w2.run_until(3.0)
    assert w2.session(A).state is State.UP and w2.sent[A]


def test_session_down_uses_the_idle_rate() -> None:
    w = Wire(fast("a", B), fast("b", A))
    w.silent.add(B)
    w.run_until(5.0)
    times = [t for t, _ in w.sent[A]]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(0.75 - 1e-9 <= g <= 1.0 for g in gaps)             # idle_tx 1 s, jittered
    assert all(p.desired_min_tx == 1_000_000 for _, p in w.sent[A])


BAD: list[tuple[str, bytes | None, Reason]] = [
    ("truncated", None, Reason.TOO_SHORT),
    ("wrong version", None, Reason.BAD_VERSION),
    ("malformed length", None, Reason.BAD_LENGTH),
    ("wrong discriminator", None, Reason.UNKNOWN_SESSION),
    ("wrong ttl", None, Reason.BAD_TTL),
    ("auth bit", None, Reason.AUTH),
]


@pytest.mark.parametrize("case", [b[0] for b in BAD])
def test_session_table_drops_and_counts_bad_packets_without_touching_the_session(case: str) -> None:
    w = _up_pair()
    ta, sa, sb = w.tables[A], w.session(A), w.session(B)
    good = Control(State.DOWN, my_discr=sb.local_discr, your_discr=sa.local_discr,
                   detect_mult=3, desired_min_tx=10_000, required_min_rx=10_000)
    ttl = 255
    data = encode(good)
    reason = dict((b[0], b[2]) for b in BAD)[case]
    if case == "truncated":
        data = data[:20]
    elif case == "wrong version":
        data = bytes([0x40 | data[0] & 0x1F]) + data[1:]
    elif case == "malformed length":
        data = data + b"\0"
    elif case == "wrong discriminator":
        data = encode(Control(State.DOWN, my_discr=sb.local_discr, your_discr=sa.local_discr ^ 1))
    elif case == "wrong ttl":
        ttl = 254
    elif case == "auth bit":
        data = encode(Control(State.DOWN, my_discr=sb.local_discr, your_discr=sa.local_discr,
                              auth=True))
    before = (sa.state, sa.detect_due, sa.remote_state, sa.remote_discr)
    actions = ta.receive(data, B, A, ttl, w.now)
    assert actions == [Dropped(reason, actions[0].detail, str(B))]    # type: ignore[union-attr]
    assert ta.drops[reason] == 1 and sum(ta.drops.values()) == 1
    assert (sa.state, sa.detect_due, sa.remote_state, sa.remote_discr) == before
    w.run_until(w.now + 1.0)
    assert sa.state is State.UP                    # a Down packet dropped: the session stays Up


def test_session_table_max_hops_accepts_routed_packets() -> None:
    t = SessionTable((bfd("m", B, max_hops=3),), random.Random(3))
    p = Control(State.DOWN, my_discr=9)
    assert t.receive(encode(p), B, A, 252, 0.0)
    assert t.drops[Reason.BAD_TTL] == 0
    t.receive(encode(p), B, A, 251, 0.0)
    assert t.drops[Reason.BAD_TTL] == 1


def test_session_table_demultiplexes_by_address_before_discriminators() -> None:
    t = SessionTable((bfd("x", A, source_ip=B), bfd("y", ipaddress.ip_address("192.0.2.3"))),
                     random.Random(5))
    p = Control(State.DOWN, my_discr=77)
    t.receive(encode(p), ipaddress.ip_address("192.0.2.3"), B, 255, 0.0)
    assert t.sessions["y"].state is State.INIT and t.sessions["x"].state is State.DOWN
    t.receive(encode(p), A, ipaddress.ip_address("192.0.2.9"), 255, 0.0)    # wrong local addr
    assert t.drops[Reason.UNKNOWN_SESSION] == 1


def test_session_reload_keeps_unchanged_sessions_and_polls_on_new_timers() -> None:
    w = _up_pair()
    ta = w.tables[A]
    sa = w.session(A)
    assert ta.reconfigure((fast("a", B),), w.now) == []
    assert ta.sessions["a"] is sa and not sa.poll
    ta.reconfigure((fast("a", B, passive=True),), w.now)      # not a timer: no Poll
    assert ta.sessions["a"] is sa and not sa.poll
    ta.reconfigure((fast("a", B),), w.now)
    ta.reconfigure((fast("a", B, ms=50),), w.now)
    assert ta.sessions["a"] is sa and sa.poll and sa.state is State.UP
    before = len(w.changes)
    w.run_until(w.now + 2.0)
    assert not sa.poll and sa.state is State.UP
    assert len(w.changes) == before                       # no flap on either side
    w.tables[B].reconfigure((fast("b", A, ms=5),), w.now)   # the other way: faster
    w.run_until(w.now + 2.0)
    assert len(w.changes) == before and w.session(B).tx_interval == 50_000
    assert w.session(B).detect_time == 150_000            # the peer now expects us every 50 ms
    ta.reconfigure((), w.now)
    assert ta.sessions == {}


def test_session_discriminators_are_unique_and_non_zero() -> None:
    cfgs = tuple(bfd(f"s{i}", ipaddress.ip_address(f"192.0.2.{i + 1}")) for i in range(50))
    t = SessionTable(cfgs, random.Random(0))
    discrs = [s.local_discr for s in t.sessions.values()]
    assert len(set(discrs)) == 50 and 0 not in discrs


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), max_size=30))
def test_session_garbage_never_breaks_an_up_session(junk: list[bytes]) -> None:
    w = _up_pair()
    for data in junk:
        w.tables[A].receive(data, B, A, 255, w.now)
    # junk can only be dropped or be a well-formed packet for an unknown session here
    w.run_until(w.now + 0.5)
    assert w.session(A).state is State.UP


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=400), st.sampled_from([10, 50]),
       st.booleans(), st.integers(0, 2**16))
def test_session_random_loss_never_breaks_the_handshake_once_the_link_heals(
        losses: list[bool], ms: int, passive: bool, seed: int) -> None:
    """Whatever packets a lossy stretch drops (any order of states, Polls, Finals lost), both
    ends are Up soon after the link is clean, and a session reports Up/Down alternately."""
    w = Wire(fast("a", B, ms=ms, passive=passive), fast("b", A, ms=ms), seed=seed)
    it = iter(losses)
    w.lose = lambda who: next(it, False)
    w.run_until(5.0)
    w.lose = None
    w.run_until(10.0)
    assert w.session(A).state is State.UP and w.session(B).state is State.UP
    for who in (A, B):
        reported = [c.new for _, x, c in w.changes if x == who and c.report]
        assert all(a is not b for a, b in zip(reported, reported[1:], strict=False))
        assert reported[0] is State.UP
