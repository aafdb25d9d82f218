"""The control socket: a signal-free way to read the daemon's state.

A unix stream socket (mode 0600, owner root) per child. A client sends one command line —
`status` (JSON), `metrics` (Prometheus text) or `ping` — and reads the answer until the
server closes. A request must arrive within 2 s and fit in 1 KiB; an answer that the client
does not read within 5 s is abandoned (the connection aborted). At most MAX_CLIENTS (32)
connections are served at once; one more is closed at once, unread, as it is accepted
(obs/gate.py: a burst of connections never holds more sockets than that). A misbehaving client only
ever loses its own connection: the handlers are synchronous snapshots that never wait on the
network.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator

from keepalived_py.obs import slog
from keepalived_py.obs.gate import CappedServer, listen_unix

log = slog.get_logger("keepalived_py.obs.control")

Handler = Callable[[], str]
MAX_REQUEST = 1024
MAX_CLIENTS = 32
SUN_PATH_MAX = 107          # sockaddr_un.sun_path holds 108 bytes with the terminating NUL


@contextlib.contextmanager
def reachable(path: str) -> Iterator[str]:
    """A name for `path` that fits in a unix socket address. A pidfile in a deep directory
    puts its control socket beyond 107 bytes, where bind/connect fail with "AF_UNIX path too
    long"; there the directory is opened and reached through /proc/self/fd/N/ instead."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield path
        return
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


class ControlServer:
    def __init__(self, path: str, handlers: dict[str, Handler]) -> None:
        self.path = path
        self.handlers = {"ping": lambda: "pong\n", **handlers}
        self.served = 0
        self.rejected = 0
        self.refused = 0            # connections beyond MAX_CLIENTS, closed unread
        self.clients = 0
        self._server: CappedServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            st = os.lstat(self.path)
            if not stat.S_ISSOCK(st.st_mode):
                raise FileExistsError(f"{self.path} exists and is not a socket")
            os.unlink(self.path)
        old = os.umask(0o177)
        try:
            with reachable(self.path) as where:
                self._server = CappedServer([listen_unix(where)], self._client, MAX_CLIENTS,
                                            on_refused=self._refused)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _refused(self) -> None:
        self.refused += 1

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.clients >= MAX_CLIENTS:
            self.refused += 1
            writer.transport.abort()
            return
        self.clients += 1
        try:
            line = await asyncio.wait_for(reader.readline(), 2.0)
            if len(line) > MAX_REQUEST or not line.endswith(b"\n"):
                raise ValueError("request too long or incomplete")
            cmd = line.decode("ascii", "replace").strip()
            handler = self.handlers.get(cmd)
            if handler is None:
                body = json.dumps({"error": f"unknown command {cmd[:40]!r}",
                                   "commands": sorted(self.handlers)}) + "\n"
                self.rejected += 1
            else:
                body = handler()
                self.served += 1
            writer.write(body.encode())
            await asyncio.wait_for(writer.drain(), 5.0)
        except (TimeoutError, ValueError, UnicodeDecodeError, ConnectionError,
                asyncio.LimitOverrunError) as e:
            self.rejected += 1
            log.debug("obs.control.client_dropped", reason=type(e).__name__)
        finally:
            self.clients -= 1
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()          # the client is not reading: drop it
            else:
                writer.close()


def query(path: str, command: str, timeout: float = 5.0) -> str:
    """Client side (used by `keepalived-py status`). Raises OSError when nobody answers."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        with reachable(path) as where:
            s.connect(where)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


async def aquery(path: str, command: str, timeout: float = 2.0) -> str:
    """`query` for an event loop (the parent's Prometheus endpoint asks its children). Raises
    OSError (or TimeoutError) when nobody answers in time."""
    async def ask() -> str:
        with reachable(path) as where:
            reader, writer = await asyncio.open_unix_connection(where)
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()
    return await asyncio.wait_for(ask(), timeout)
