"""core/startgc.py (no collector during start-up) and dccache.py (dataclasses' generated code
compiled once): issue 16's start-up path."""
from __future__ import annotations

import dataclasses
import gc
import marshal
import os
import subprocess
import sys

import pytest

from keepalived_py import dccache
from keepalived_py.core import startgc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    """A cache of this test's own, in a fresh state (an earlier save() released the real one)."""
    monkeypatch.setattr(dccache, "_codes", {})
    monkeypatch.setattr(dccache, "_index", {})
    monkeypatch.setattr(dccache, "_blob", b"")
    monkeypatch.setattr(dccache, "_new", 0)
    monkeypatch.setattr(dccache, "_released", False)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return tmp_path


def test_pause_resume_restores_the_collector():
    assert gc.isenabled()
    startgc.pause()
    try:
        assert not gc.isenabled() and startgc.paused()
        startgc.pause()                         # twice: still one pause
    finally:
        startgc.resume()
    assert gc.isenabled() and not startgc.paused()


def test_a_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    try:
        startgc.pause()
        startgc.resume()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cached_dataclass_behaves_as_a_compiled_one(prefix, monkeypatch):
    dccache.install()
    monkeypatch.setattr(dccache, "_new", 1)     # written even if Point's text was seen before

    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2

    p = Point(1)
    assert (p.x, p.y, repr(p).endswith("Point(x=1, y=2)")) == (1, 2, True)
    assert p == Point(1, 2) and hash(p) == hash(Point(1, 2)) and p != Point(2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3                                 # type: ignore[misc]
    assert dataclasses.replace(p, y=5) == Point(1, 5)
    dccache.save()
    saved = dccache.entries(dccache.cache_path())
    assert any("def __init__" in k for k in saved)
    assert all(type(v).__name__ == "code" for v in saved.values())
    # start-up is over: the cache is let go, a later class is compiled as dataclasses does
    assert dccache._codes == {} and dccache._blob == b"" and dccache._released

    @dataclasses.dataclass
    class Later:
        z: int

    assert Later(3).z == 3 and dccache._codes == {}


def test_nothing_written_when_byte_code_is_not(prefix, monkeypatch):
    dccache.install()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    @dataclasses.dataclass
    class Unwritten:
        name_only_here_7f3: int

    dccache.save()
    assert not os.path.exists(dccache.cache_path())


def test_a_damaged_cache_is_ignored_and_replaced(prefix):
    path = dccache.cache_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for junk in (b"", b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps({"x": 1}),
                 marshal.dumps((1, {5: [(0, 99)]}, b"short")), marshal.dumps((1, {5: 7}, b""))):
        with open(path, "wb") as f:
            f.write(junk)
        assert dccache.entries(path) == {}


def test_a_second_process_uses_the_file(tmp_path):
    """A process writes the cache at the end of start-up; the next one compiles nothing."""
    code = ("from keepalived_py import dccache; dccache.install();"
            "import keepalived_py.vrrp.machine; new, n = dccache._new, dccache._new + dccache._hits;"
            "dccache.save(); print(new, n)")
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path), PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", code],
                            env=env, capture_output=True, text=True, timeout=60,
                            check=True).stdout.split()
    assert int(first[0]) > 20                              # compiled here, then saved
    assert second == ["0", first[1]]                       # all from the file


def test_warm_writes_the_daemons_dataclasses(tmp_path):
    """install.sh's `python -m keepalived_py.dccache`: the state machine's events included."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(tmp_path), PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "keepalived_py.dccache"], env=env, timeout=120,
                   check=True, cwd=str(tmp_path))
    path = os.path.join(str(tmp_path), ROOT.lstrip(os.sep), "keepalived_py",
                        f"dataclass-code.{sys.implementation.cache_tag}.marshal")
    saved = dccache.entries(path)
    assert len(saved) > 150 and any("advert" in k for k in saved)
