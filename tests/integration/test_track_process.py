"""vrrp_track_process against the real kernel: the proc connector from the initial namespace,
the /proc polling fallback inside a network namespace (where the connector is refused), and
PIDs above 32767."""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepalived_py.config.model import VrrpTrackProcess
from keepalived_py.track.procmon import ProcessMonitor, open_connector

pytestmark = pytest.mark.netns


def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (proc connector, pid_max)")


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Path]:
    """A copy of sleep(1) with a unique name, so only our processes match."""
    exe = tmp_path / f"kpslp{secrets.token_hex(3)}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    yield exe


def _start(exe: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(exe), "60"])


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(5)


async def _wait(pred: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.01)
    return bool(pred())  # type: ignore[operator]


def test_track_process_connector_follows_start_and_exit(sleeper: Path) -> None:
    _root()
    try:
        open_connector().close()
    except OSError as e:
        pytest.skip(f"proc connector refused here ({e}): not the initial network namespace")
    changes: list[tuple[str, bool]] = []

    async def scenario() -> None:
        mon = ProcessMonitor([VrrpTrackProcess(name="p", process=sleeper.name, quorum=2)],
                             lambda n, up: changes.append((n, up)))
        await mon.start()
        assert mon.mode == "connector"
        assert changes == [("p", False)]
        a, b = _start(sleeper), _start(sleeper)
        try:
            assert await _wait(lambda: changes[-1] == ("p", True))
            _stop(a)
            assert await _wait(lambda: changes[-1] == ("p", False))
        finally:
            _stop(a)
            _stop(b)
            mon.stop()
        assert mon.events > 0

    asyncio.run(scenario())


def test_track_process_pid_above_32767(sleeper: Path) -> None:
    _root()
    pid_max = Path("/proc/sys/kernel/pid_max")
    last = Path("/proc/sys/kernel/ns_last_pid")
    old_max = pid_max.read_text().strip()
    changes: list[tuple[str, bool]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if int(old_max) < 4194304:
            pid_max.write_text("4194304")

        async def scenario() -> None:
            mon = ProcessMonitor([VrrpTrackProcess(name="big", process=sleeper.name)],
                                 lambda n, up: changes.append((n, up)))
            await mon.start()
            try:
                for _ in range(20):          # another process may take the pid: retry
                    target = 100000 + secrets.randbelow(3000000)
                    last.write_text(str(target - 1))
                    p = _start(sleeper)
                    procs.append(p)
                    if p.pid > 32767:
                        break
                assert procs[-1].pid > 32767
                assert await _wait(lambda: changes[-1:] == [("big", True)])
                assert procs[-1].pid in mon.quorums["big"].pids
                for p in procs:
                    _stop(p)
                assert await _wait(lambda: changes[-1] == ("big", False))
            finally:
                mon.stop()

        asyncio.run(scenario())
    finally:
        for p in procs:
            _stop(p)
        pid_max.write_text(old_max)


PROBE = r"""
import asyncio, json, sys, time
from keepalived_py.config.model import VrrpTrackProcess
from keepalived_py.track.procmon import ProcessMonitor
out = []
async def main():
    mon = ProcessMonitor([VrrpTrackProcess(name="p", process=sys.argv[1])],
                         lambda n, up: out.append(up), poll_interval=0.1)
    await mon.start()
    print(json.dumps({"mode": mon.mode, "state": out[-1]}), flush=True)
    t = time.monotonic()
    while len(out) < 2 and time.monotonic() - t < 10:
        await asyncio.sleep(0.05)
    print(json.dumps({"mode": mon.mode, "state": out[-1]}), flush=True)
asyncio.run(main())
"""


def _json_line(stream: object) -> str:
    while True:
        line = stream.readline().decode()  # type: ignore[attr-defined]
        if not line or line.startswith("{"):
            return line


def test_track_process_falls_back_to_polling_inside_a_namespace(lab: object, sleeper: Path) -> None:
    node = lab.node("trk")  # type: ignore[attr-defined]
    probe = node.popen([sys.executable, "-c", PROBE, sleeper.name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()})
    first = _json_line(probe.stdout)
    assert '"mode": "polling"' in first, first
    assert '"state": false' in first
    p = _start(sleeper)
    try:
        second = _json_line(probe.stdout)
        assert '"state": true' in second, second
    finally:
        _stop(p)
        probe.wait(10)
