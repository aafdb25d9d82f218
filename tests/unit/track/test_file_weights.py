from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepalived_py.track.file import parse_value
from keepalived_py.track.weights import (
    Contribution,
    binary_contribution,
    file_contribution,
    file_status,
)


@pytest.mark.parametrize(("data", "value"), [
    (b"", 0), (b"5", 5), (b"  -12\n", -12), (b"+7", 7), (b"0x1f", 31), (b"010", 8),
    (b"09", 0), (b"abc", 0), (b"12abc", 12), (b"0x", 0), (b"2147483648", 2147483648),
    (b"2147483649", None), (b"-2147483649", None), (b"\x00\xff", 0), (b"1" + b"0" * 200, None),
])
def test_track_file_value_parses_like_strtol(data: bytes, value: int | None) -> None:
    assert parse_value(data) == value


@given(st.binary(max_size=300))
def test_track_file_value_never_raises(data: bytes) -> None:
    v = parse_value(data)
    assert v is None or -(2**31) <= v <= 2**31


@pytest.mark.parametrize(("up", "weight", "reverse", "expected"), [
    (True, 0, False, Contribution()), (False, 0, False, Contribution(fault=True)),
    (True, 0, True, Contribution(fault=True)), (False, 0, True, Contribution()),
    (True, 10, False, Contribution(delta=10)), (False, 10, False, Contribution()),
    (False, -10, False, Contribution(delta=-10)), (True, -10, False, Contribution()),
    (True, 10, True, Contribution(delta=-10)), (False, -10, True, Contribution(delta=10)),
])
def test_binary_tracker_contribution_as_keepalived(up: bool, weight: int, reverse: bool,
                                                   expected: Contribution) -> None:
    assert binary_contribution(up, weight, reverse) == expected


def test_track_file_weight_zero_nonzero_value_is_fault() -> None:
    assert file_contribution(3, 0, False).fault
    assert not file_contribution(0, 0, False).fault
    assert file_contribution(0, 0, True).fault


def test_track_file_status_is_clamped() -> None:
    assert file_status(1000, 1, False) == 253
    assert file_contribution(-300, 1, False).fault
    assert file_contribution(-253, 1, False) == Contribution(delta=-253)
    assert file_contribution(5, -2, True) == Contribution(delta=10)


def test_file_monitor_loads_libc_once_across_reloads(tmp_path, monkeypatch) -> None:
    """Each reload starts a new FileMonitor: the C library is not dlopen'ed again each time
    (issue 15: a CDLL per reload)."""
    import asyncio
    import ctypes

    from keepalived_py.config.model import VrrpTrackFile
    from keepalived_py.track.file import FileMonitor

    loads: list[object] = []
    real = ctypes.CDLL

    def counting(*a: object, **kw: object) -> object:
        loads.append(a)
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ctypes, "CDLL", counting)
    f = tmp_path / "weight"
    f.write_text("3\n")
    seen: list[tuple[str, int]] = []

    async def cycle() -> None:
        for i in range(20):
            mon = FileMonitor([VrrpTrackFile(name="tf", file=str(f))],
                              lambda n, v: seen.append((n, v)), reload=i > 0)
            mon.start()
            assert mon._fd >= 0
            mon.stop()

    asyncio.run(cycle())
    assert loads == []
    assert seen == [("tf", 3)] * 20
