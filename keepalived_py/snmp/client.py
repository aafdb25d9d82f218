"""The AgentX edge: one connection to the master agent, kept up for as long as we run.

The socket is keepalived's `snmp_socket` (default unix:/var/agentx/master; also tcp:HOST:PORT,
or HOST:PORT, as net-snmp's agentXSocket takes them). A master that is absent or goes away
(snmpd restarted) is retried every few seconds, logged once per outage; nothing here blocks the
loop, so VRRP timing does not depend on the master. Notifications raised before the first
session opens (the instances' first transitions, which keepalived sends because its subagent
connects before VRRP starts) wait for it, at most BACKLOG of them; later, while the master is
away, they are dropped (as keepalived's are).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable

from keepalived_py.obs import slog
from keepalived_py.snmp import agentx as ax
from keepalived_py.snmp.mib import View
from keepalived_py.snmp.session import Phase, Session

log = slog.get_logger("keepalived_py.snmp")

DEFAULT_SOCKET = "unix:/var/agentx/master"
RETRY = (0.5, 1.0, 2.0, 5.0)        # seconds between attempts (then every 5 s)
PING_EVERY = 15.0
BACKLOG = 64


def parse_socket(spec: str | None) -> tuple[str, str, int]:
    """("unix", path, 0) or ("tcp", host, port). Raises ValueError."""
    s = spec or DEFAULT_SOCKET
    if s.startswith("unix:"):
        return "unix", s[5:], 0
    if s.startswith("/"):
        return "unix", s, 0
    if s.startswith("tcp:"):
        s = s[4:]
    elif s.startswith(("udp:", "tcp6:", "udp6:")):
        raise ValueError(f"AgentX over {s.split(':')[0]} is not supported")
    host, _, port = s.rpartition(":")
    return "tcp", host or "localhost", int(port or 705)


class AgentxClient:
    def __init__(self, socket_spec: str | None, ident: ax.OID, descr: str,
                 subtrees: Iterable[ax.OID], view: Callable[[], Awaitable[View]]) -> None:
        self.spec = socket_spec or DEFAULT_SOCKET
        self.session = Session(ident, descr, subtrees)
        self.view = view
        self.started = time.monotonic()
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self.connects = 0
        self.opened = asyncio.Event()
        self.backlog: list[tuple[int, ax.OID, list[ax.VarBind]]] | None = []
        self.closing = False

    def uptime(self) -> int:
        return int((time.monotonic() - self.started) * 100)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.closing = True
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None and self.session.phase is Phase.OPEN:
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write(self.session.close())
                await asyncio.wait_for(self.writer.drain(), 1.0)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self._drop()

    def notify(self, trap: ax.OID, varbinds: Iterable[ax.VarBind]) -> bool:
        if self.backlog is not None:
            if len(self.backlog) < BACKLOG:
                self.backlog.append((self.uptime(), trap, list(varbinds)))
            return True
        data = self.session.notify(self.uptime(), trap, varbinds)
        if data is None or self.writer is None:
            return False
        self.writer.write(data)
        return True

    def _drop(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.session.phase = Phase.CLOSED
        self.opened.clear()

    async def _run(self) -> None:
        attempt, warned = 0, False
        while True:
            try:
                kind, where, port = parse_socket(self.spec)
                if kind == "unix":
                    reader, writer = await asyncio.open_unix_connection(where)
                else:
                    reader, writer = await asyncio.open_connection(where, port)
            except (OSError, ValueError) as e:
                self.backlog = None           # no master at start: nothing waits for one
                if not warned:
                    log.warning("snmp.master.unavailable", socket=self.spec, error=str(e),
                                compat=f"AgentX master agent {self.spec} unavailable: {e}"
                                       " - retrying")
                    warned = True
                await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
                attempt += 1
                continue
            self.writer = writer
            self.connects += 1
            try:
                await self._serve(reader, writer)
            except (OSError, ax.DecodeError, asyncio.IncompleteReadError) as e:
                log.warning("snmp.master.lost", socket=self.spec, error=str(e))
            self._drop()
            if self.closing:
                return
            attempt, warned = 0, False
            log.info("snmp.master.disconnected", socket=self.spec,
                     compat="AgentX master agent disconnected - reconnecting")
            await asyncio.sleep(RETRY[0])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.session.start())
        loop = asyncio.get_running_loop()
        buf = b""
        last_ping = loop.time()
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), PING_EVERY)
            except TimeoutError:
                chunk = None
            if chunk == b"":
                return
            if chunk:
                pdus, buf = ax.split(buf + chunk)
                for raw in pdus:
                    try:
                        p = ax.decode_pdu(raw)
                    except ax.DecodeError as e:
                        log.warning("snmp.pdu.rejected", reason=e.reason.value)
                        continue
                    was = self.session.phase
                    view: View | None = None
                    if p.type in (ax.PduType.GET, ax.PduType.GET_NEXT, ax.PduType.GET_BULK):
                        view = await self.view()          # built off the loop (see vrrp.py)
                    for out in self.session.receive(p, _const(view or View()),
                                                    self.uptime()):
                        writer.write(out)
                    if self.session.phase is Phase.OPEN and was is not Phase.OPEN:
                        log.info("snmp.master.connected", socket=self.spec,
                                 session=self.session.session_id,
                                 compat="AgentX subagent connected")
                        self.opened.set()
                        for uptime, trap, vbs in self.backlog or ():
                            data = self.session.notify(uptime, trap, vbs)
                            if data is not None:
                                writer.write(data)
                        self.backlog = None
                    if self.session.phase is Phase.CLOSED:
                        return
            if loop.time() - last_ping >= PING_EVERY:
                last_ping = loop.time()
                ping = self.session.ping()
                if ping is not None:
                    writer.write(ping)
            await writer.drain()


def _const(view: View) -> Callable[[], View]:
    return lambda: view
