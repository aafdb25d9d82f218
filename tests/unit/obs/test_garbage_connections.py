"""The control socket and the Prometheus endpoint under garbage connections (issue 15): each
serves at most its cap of connections at once (32 / 64; more are closed unread), a request head
over 8 KiB is refused, a burst of scrapes costs one render, and a real client still gets its
answer while the garbage is connected."""
from __future__ import annotations

import asyncio
from pathlib import Path

from keepalived_py.obs import control, metrics


async def _closed(reader: asyncio.StreamReader, timeout: float = 2.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionError:
        return True


def test_control_socket_caps_connections_and_still_answers(tmp_path: Path) -> None:
    async def main() -> None:
        path = str(tmp_path / "c.ctl")
        srv = control.ControlServer(path, {"status": lambda: "{}\n"})
        await srv.start()
        try:
            silent = [await asyncio.open_unix_connection(path) for _ in range(control.MAX_CLIENTS)]
            await asyncio.sleep(0.1)
            assert srv.clients == control.MAX_CLIENTS
            r, w = await asyncio.open_unix_connection(path)       # one too many
            assert await _closed(r)
            w.close()
            assert srv.refused == 1
            for _, sw in silent:
                sw.close()
            await asyncio.sleep(0.1)
            assert srv.clients == 0
            assert await control.aquery(path, "status") == "{}\n"
            # a request line longer than 1 KiB is refused, the server lives on
            r, w = await asyncio.open_unix_connection(path)
            w.write(b"x" * 5000 + b"\n")
            assert await _closed(r)
            w.close()
            assert await control.aquery(path, "ping") == "pong\n"
        finally:
            await srv.stop()
    asyncio.run(main())


def test_metrics_endpoint_caps_limits_heads_and_shares_renders() -> None:
    calls = 0

    async def render() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)               # the children being asked
        return "keepalived_up 1\n"

    async def get(port: int, head: bytes = b"GET /metrics HTTP/1.0\r\n\r\n") -> bytes:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(head)
        try:
            return await asyncio.wait_for(r.read(), 5)
        except ConnectionError:
            return b""
        finally:
            w.close()

    async def main() -> None:
        server = await metrics.serve("127.0.0.1:0", render)
        port = server.sockets[0].getsockname()[1]
        try:
            # 50 scrapes at once: one render
            answers = await asyncio.gather(*(get(port) for _ in range(50)))
            assert all(a.startswith(b"HTTP/1.0 200 OK") and a.endswith(b"keepalived_up 1\n")
                       for a in answers)
            assert calls == 1
            # a head over 8 KiB: no answer, connection closed
            big = b"GET /metrics HTTP/1.0\r\nX-Junk: " + b"a" * 9000 + b"\r\n\r\n"
            assert await get(port, big) == b""
            # 64 silent connections fill the cap; the 65th is closed unread
            silent = [await asyncio.open_connection("127.0.0.1", port)
                      for _ in range(metrics.MAX_CLIENTS)]
            await asyncio.sleep(0.1)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            assert await _closed(r)
            w.close()
            for _, sw in silent:
                sw.close()
            await asyncio.sleep(0.1)
            assert (await get(port)).startswith(b"HTTP/1.0 200 OK")
            assert calls == 2
        finally:
            server.close()
            await server.wait_closed()
    asyncio.run(main())


def test_shared_render_failure_reaches_every_waiter() -> None:
    async def boom() -> str:
        await asyncio.sleep(0.05)
        raise OSError("child gone")

    async def main() -> None:
        shared = metrics.SharedRender(boom)
        got = await asyncio.gather(shared(), shared(), return_exceptions=True)
        assert all(isinstance(g, OSError) for g in got) and shared.renders == 1
    asyncio.run(main())


