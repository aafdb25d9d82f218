"""obs/gate.py: a burst of connections over the cap is closed as it is accepted; the server's
sockets never exceed the cap, and a client over it reads the end of the stream."""
from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from keepalived_py.obs.gate import CappedServer, listen_tcp, listen_unix


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_burst_over_the_cap_holds_no_more_than_the_cap(tmp_path: Path) -> None:
    CAP, BURST = 8, 200
    held: list[asyncio.StreamWriter] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)                     # served: kept open until the test lets go
        await reader.read()
        writer.close()

    async def main() -> None:
        path = str(tmp_path / "g.sock")
        srv = CappedServer([listen_unix(path)], client, CAP)
        base = _fds()
        peers = []
        peak = 0
        for _ in range(BURST):                  # blocking connects: the backlog fills up
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.setblocking(False)
            peers.append(s)
            if len(peers) % 50 == 0:
                for _ in range(5):
                    await asyncio.sleep(0)
                    peak = max(peak, _fds() - base - len(peers))
        await asyncio.sleep(0.2)
        peak = max(peak, _fds() - base - len(peers))
        assert srv.active == CAP and srv.refused == BURST - CAP
        assert peak <= CAP, peak                # the server's side of the connections
        closed = 0
        for s in peers:
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
        assert closed == BURST - CAP            # the refused read the end of the stream
        for s in peers:
            s.close()
        await asyncio.sleep(0.2)
        assert srv.active == 0
        srv.close()
        await srv.wait_closed()
    asyncio.run(main())


def test_tcp_listen_serves_and_closes() -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    async def main() -> None:
        srv = CappedServer(listen_tcp("127.0.0.1", 0), client, 4)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"hello\n")
        assert await r.read() == b"hello\n"
        w.close()
        srv.close()
        try:
            await asyncio.open_connection("127.0.0.1", port)
            raise AssertionError("still listening")
        except OSError:
            pass
    asyncio.run(main())
