"""Start a coroutine now, in the caller's step (asyncio's eager tasks, which Python 3.11 lacks).

`asyncio.create_task` runs nothing until the loop's next iteration, behind every callback
already ready. `start_now(coro)` runs `coro` at once up to its first real suspension (a
netlink request is written to its socket before the call returns) and lets a task carry on
from there; the returned future is that task (or a done future if `coro` never suspended).
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


class _Rest:
    """The rest of a started coroutine, as an awaitable a Task can drive: each future the
    coroutine waits on is handed to the task, and the task's answer handed back."""

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coro, self.pending = coro, pending

    def __await__(self) -> Generator[Any, Any, Any]:
        pending = self.pending
        while True:
            try:
                value = yield pending
            except BaseException as e:
                try:
                    pending = self.coro.throw(e)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = self.coro.send(value)
                except StopIteration as stop:
                    return stop.value


def start_now(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    loop = asyncio.get_running_loop()
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except Exception as e:
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(e)
        return failed
    return asyncio.ensure_future(_Rest(coro, pending))
