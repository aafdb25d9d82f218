"""track_file against the kernel's inotify: a write, a rename-into-place and a delete are seen."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

from keepalived_py.config.model import VrrpTrackFile
from keepalived_py.track.file import FileMonitor


async def _until(pred: object, timeout: float = 2.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.01)
    return False


def test_track_file_follows_writes_renames_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "weight"
    seen: list[tuple[str, int]] = []

    async def scenario() -> None:
        mon = FileMonitor([VrrpTrackFile(name="f", file=str(path), init_file=3)],
                          lambda n, v: seen.append((n, v)))
        mon.start()
        try:
            assert path.read_text().strip() == "3" and seen == [("f", 3)]
            path.write_text("10\n")
            assert await _until(lambda: seen[-1] == ("f", 10))
            tmp = tmp_path / ".weight.new"
            tmp.write_text("-5")
            os.replace(tmp, path)
            assert await _until(lambda: seen[-1] == ("f", -5))
            path.unlink()
            assert await _until(lambda: seen[-1] == ("f", 0))
            os.mkdir(path)                      # a directory in its place reads as 0, no crash
            await asyncio.sleep(0.05)
            assert seen[-1] == ("f", 0)
        finally:
            mon.stop()

    asyncio.run(scenario())


def test_track_file_init_file_keeps_existing_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_text("7")
    seen: list[int] = []

    async def scenario() -> None:
        mon = FileMonitor([VrrpTrackFile(name="f", file=str(path), init_file=0)],
                          lambda n, v: seen.append(v))
        mon.start()
        mon.stop()
        mon2 = FileMonitor([VrrpTrackFile(name="f", file=str(path), init_file=0,
                                          init_file_overwrite=True)],
                           lambda n, v: seen.append(v))
        mon2.start()
        mon2.stop()

    asyncio.run(scenario())
    assert seen == [7, 0]
