"""The D-Bus edge of the VRRP child: keepalived's org.keepalived.Vrrp1 on the system bus.

jeepney (pure Python, no C bindings, no GLib main loop) speaks the wire protocol; this module
owns one connection: it asks for the service name, answers method calls from objects.ObjectTree
and emits keepalived's signals in the order they happen (one writer task drains a queue).
The bus address is the system bus's (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).

A bus that is absent or refuses the name costs one warning and nothing else: VRRP runs on.
A bus that goes away later is logged once and not retried (keepalived does not either).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, Message, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.asyncio import DBusConnection, open_dbus_connection

from keepalived_py.dbus import objects as o
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.dbus")

#: RequestName flags and answers (D-Bus specification, org.freedesktop.DBus.RequestName)
_PRIMARY_OWNER, _IN_QUEUE = 1, 2


def _machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            return Path(p).read_text().strip()
    return ""


class DbusService:
    """The service for one VRRP child. `instances` gives the current instances' views;
    `perform(request, instance)` carries out what a method asks (print, reload, GARP)."""

    def __init__(self, service_name: str | None, namespace: str | None,
                 instances: Callable[[], list[o.InstanceView]],
                 perform: Callable[[o.Request, str | None], None]) -> None:
        self.name = service_name or o.SERVICE_NAME
        self.namespace = namespace
        self.instances = instances
        self.perform = perform
        self.conn: DBusConnection | None = None
        self.outbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.machine_id = _machine_id()

    async def start(self) -> bool:
        """Connect and own the name; False (after one warning) when the bus is not there."""
        try:
            conn = await asyncio.wait_for(open_dbus_connection("SYSTEM"), 5)
        except (OSError, EOFError, KeyError, ValueError, TimeoutError, RuntimeError) as e:
            log.warning("dbus.bus.unavailable", error=str(e) or type(e).__name__,
                        compat=f"Unable to connect to the D-Bus system bus: {e} - D-Bus disabled")
            return False
        try:
            reply = await self._call(conn, message_bus.RequestName(self.name, 0))
        except (OSError, EOFError, TimeoutError) as e:
            log.warning("dbus.bus.unavailable", error=str(e) or type(e).__name__)
            await _close(conn)
            return False
        if reply.header.message_type is MessageType.error or \
                reply.body[:1] not in ((_PRIMARY_OWNER,), (_IN_QUEUE,)):
            log.warning("dbus.name.refused", name=self.name, error=str(reply.body[:1]),
                        compat=f"Unable to own the D-Bus name {self.name} - D-Bus disabled")
            await _close(conn)
            return False
        self.conn = conn
        log.info("dbus.name.acquired", name=self.name,
                 compat=f"Acquired the name {self.name} on the session bus")
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run_receive()), loop.create_task(self._run_send())]
        self._signal(o.vrrp_path(self.namespace), o.VRRP_INTERFACE, "VrrpStarted")
        for inst in self.instances():
            self.state_changed(inst)
        return True

    async def _call(self, conn: DBusConnection, msg: Message) -> Message:
        """A method call to the bus before the receiver runs: its reply, by serial."""
        serial = next(conn.outgoing_serial)
        await conn.send(msg, serial=serial)

        async def reply() -> Message:
            while True:
                m = await conn.receive()
                if m.header.fields.get(HeaderFields.reply_serial) == serial:
                    return m
        return await asyncio.wait_for(reply(), 5)

    # -- what the VRRP child tells us -----------------------------------------------------------
    def state_changed(self, inst: o.InstanceView) -> None:
        self._signal(o.instance_path(inst, self.namespace), o.INSTANCE_INTERFACE,
                     "VrrpStatusChange", "u", (o.state_code(inst.state),))

    def reloaded(self) -> None:
        self._signal(o.vrrp_path(self.namespace), o.VRRP_INTERFACE, "VrrpReloaded")

    async def stop(self) -> None:
        if self.conn is None:
            return
        self._signal(o.vrrp_path(self.namespace), o.VRRP_INTERFACE, "VrrpStopped")
        self.outbox.put_nowait(None)
        sender = self.tasks[1]
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, OSError):
            await asyncio.wait_for(asyncio.shield(sender), 1.0)
        for t in self.tasks:
            t.cancel()
        await _close(self.conn)
        self.conn = None
        log.info("dbus.released", compat="Released DBus")

    def _signal(self, path: str, interface: str, member: str, signature: str | None = None,
                body: tuple[Any, ...] = ()) -> None:
        if self.conn is not None:
            self.outbox.put_nowait(new_signal(DBusAddress(path, interface=interface), member,
                                              signature, body))

    # -- the two tasks --------------------------------------------------------------------------
    async def _run_send(self) -> None:
        assert self.conn is not None
        while (msg := await self.outbox.get()) is not None:
            try:
                await self.conn.send(msg)
            except OSError as e:
                log.warning("dbus.bus.lost", error=str(e))
                return

    async def _run_receive(self) -> None:
        assert self.conn is not None
        try:
            while True:
                msg = await self.conn.receive()
                if msg.header.message_type is MessageType.method_call:
                    self._dispatch(msg)
        except (OSError, EOFError) as e:
            log.warning("dbus.bus.lost", error=str(e) or type(e).__name__,
                        compat=f"Lost the name {self.name} on the session bus")
            self.conn = None

    def _dispatch(self, msg: Message) -> None:
        f = msg.header.fields
        tree = o.ObjectTree.of(self.instances(), self.namespace)
        reply = tree.answer(f.get(HeaderFields.path, "/"), f.get(HeaderFields.interface),
                            f.get(HeaderFields.member, ""), tuple(msg.body), self.machine_id)
        if reply.error is not None:
            out = new_error(msg, reply.error, reply.signature, reply.body)
        else:
            out = new_method_return(msg, reply.signature or None, reply.body)
        if not msg.header.flags & 1:                     # NO_REPLY_EXPECTED
            self.outbox.put_nowait(out)
        if reply.request is not None:
            log.info("dbus.method.called", method=f.get(HeaderFields.member),
                     instance=reply.instance)
            self.perform(reply.request, reply.instance)


async def _close(conn: DBusConnection) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await conn.close()
