from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepalived_py.config.model import VrrpTrackProcess
from keepalived_py.track.process import ProcessInfo, ProcessQuorum, ProcessSpec


def spec(process: str, *params: str, match: str | None = None, full: bool = False) -> ProcessSpec:
    return ProcessSpec("t", process, params, match, full)


MATCHES = [
    # spec, comm, cmdline, expected
    (spec("haproxy"), "haproxy", (), True),
    (spec("ssh"), "sshd", (), False),                               # exact, not pgrep-like
    (spec("averyveryverylongname"), "averyveryverylo", (), True),   # comm keeps 15 chars
    (spec("/usr/sbin/nginx", full=True), "nginx", ("/usr/sbin/nginx", "-g", "x"), True),
    (spec("/usr/sbin/nginx", full=True), "nginx", ("nginx",), False),
    (spec("/bin/app", "-c", "f"), "app", ("/bin/app", "-c", "f"), True),
    (spec("/bin/app", "-c", "f"), "app", ("/bin/app", "-c", "f", "x"), False),
    (spec("/bin/app", "-c", "f", match="partial"), "app", ("/bin/app", "-c", "f", "x"), True),
    (spec("/bin/app", "-c", "f", match="partial"), "app", ("/bin/app", "-c", "fg"), False),
    (spec("/bin/app", "-c", "f", match="initial"), "app", ("/bin/app", "-c", "fg"), True),
    (spec("/bin/app", match="partial"), "app", ("/bin/app",), True),
    (spec("/bin/app"), "app", (), False),
    (spec("/bin/app", "x"), "app", (), False),                     # kernel thread / unreadable
    (spec("/tmp/a b", "param 2"), "a b", ("/tmp/a b", "param 2"), True),
]


@pytest.mark.parametrize(("sp", "comm", "cmdline", "expected"), MATCHES)
def test_process_spec_matches_like_keepalived(sp: ProcessSpec, comm: str,
                                              cmdline: tuple[str, ...], expected: bool) -> None:
    assert sp.matches(ProcessInfo(4000000, comm, cmdline)) is expected


def quorum(**kw: object) -> ProcessQuorum:
    return ProcessQuorum.from_config(VrrpTrackProcess(name="t", process="p", **kw))  # type: ignore[arg-type]


def test_quorum_initial_scan_is_reported_at_once() -> None:
    q = quorum(quorum=2, delay=5.0)
    assert q.initial({1, 2}) is True
    assert q.next_deadline() is None


def test_quorum_max_zero_means_the_process_must_not_run() -> None:
    q = quorum(quorum=0, quorum_max=0)
    assert q.initial(set()) is True
    assert q.added(7, now=1.0) is False


def test_quorum_fork_delay_holds_back_up() -> None:
    q = quorum(fork_delay=0.5)
    assert q.initial(set()) is False
    assert q.added(10, now=1.0) is None
    assert q.next_deadline() == pytest.approx(1.5)
    assert q.expire(1.4) is None
    assert q.expire(1.5) is True
    assert q.reported is True


def test_quorum_terminate_then_restart_within_delay_never_reports_down() -> None:
    q = quorum(delay=1.0)
    q.initial({10})
    assert q.removed(10, now=2.0) is None
    assert q.added(11, now=2.3) is None          # restarted before terminate_delay ran out
    assert q.next_deadline() is None
    assert q.expire(3.5) is None
    assert q.reported is True


def test_quorum_pid_above_32767_counts() -> None:
    q = quorum()
    q.initial(set())
    assert q.added(4194303, now=0.0) is True
    assert q.removed(4194303, now=1.0) is False


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 4194304), st.floats(0, 100)), max_size=60),
       st.integers(0, 3), st.one_of(st.none(), st.integers(0, 5)), st.floats(0, 2))
def test_quorum_never_reports_against_the_count(events: list[tuple[bool, int, float]], qmin: int,
                                                qmax: int | None, delay: float) -> None:
    q = quorum(quorum=qmin, quorum_max=qmax, delay=delay)
    q.initial(set())
    now = 0.0
    for add, pid, dt in events:
        now += dt
        q.expire(now)
        (q.added if add else q.removed)(pid, now)
        d = q.next_deadline()
        assert d is None or d >= now
    q.expire(now + 10)
    n = len(q.pids)
    assert q.reported == (n >= qmin and (qmax is None or n <= qmax))
