"""core/eager.py: a coroutine started now runs up to its first suspension in the caller's step."""
from __future__ import annotations

import asyncio

import pytest

from keepalived_py.core.eager import start_now


def test_runs_up_to_its_first_suspension_before_returning_then_on_as_a_task() -> None:
    async def run() -> None:
        seen: list[str] = []
        gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def step() -> int:
            seen.append("written")
            got = await gate
            seen.append("acknowledged")
            await asyncio.sleep(0)
            return got + 1
        f = start_now(step())
        assert seen == ["written"] and not f.done()
        gate.set_result(41)
        assert await f == 42 and seen == ["written", "acknowledged"]
    asyncio.run(run())


def test_a_coroutine_that_never_suspends_and_one_that_fails() -> None:
    async def run() -> None:
        async def quick() -> str:
            return "done"

        async def broken() -> None:
            raise ValueError("no")

        async def later() -> None:
            await asyncio.sleep(0)
            raise KeyError("late")
        assert await start_now(quick()) == "done"
        with pytest.raises(ValueError):
            await start_now(broken())
        with pytest.raises(KeyError):
            await start_now(later())
    asyncio.run(run())


def test_cancelling_reaches_the_coroutine() -> None:
    async def run() -> None:
        cleaned: list[bool] = []

        async def waits() -> None:
            try:
                await asyncio.sleep(60)
            finally:
                cleaned.append(True)
        f = start_now(waits())
        await asyncio.sleep(0)
        f.cancel()
        with pytest.raises(asyncio.CancelledError):
            await f
        assert cleaned == [True]
    asyncio.run(run())
