"""The parent <-> child link: length-prefixed pickled tuples over a unix stream socketpair.

Messages are tuples whose first item names them: parent -> child ("start", options, config),
("reload", config), ("dump", kind), ("stop", release), ("bfd", {session: up}) to the VRRP and
checker children; child -> parent ("ready",), ("hb",), ("reloaded", ok), ("bfd", session, up)
from the BFD child. ("reload", None): reload the configuration you hold — the parent's load
found nothing changed (config/reuse.py gave the same frozen object it started or last reloaded
its children with), so it is not pickled and unpickled again (issue 16). Only the parent and
its own children hold the socketpair, so unpickling is between trusted ends of one program.
"""
from __future__ import annotations

import pickle
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

_LEN = struct.Struct("!I")
MAX_MESSAGE = 256 << 20


_last_reload: tuple[Any, bytes] | None = None
_last_read: tuple[bytes, tuple[Any, ...]] | None = None      # the last ("reload", config) read


def encode(msg: tuple[Any, ...]) -> bytes:
    """The message framed. ("reload", config) of the configuration encoded last is not pickled
    again: both children get the same bytes, and so does a reload whose configuration
    config/reuse.py found unchanged (the same frozen object; kept here, so its id is not reused)."""
    global _last_reload
    if len(msg) == 2 and msg[0] == "reload":
        last = _last_reload
        if last is not None and last[0] is msg[1]:
            return last[1]
        framed = _frame(msg)
        _last_reload = (msg[1], framed)
        return framed
    return _frame(msg)


def _frame(msg: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(body)) + body


async def read_message(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """The next message, or None at end of stream."""
    # (imported here: the parent imports asyncio after its first child's start, prefork.py)
    import asyncio
    try:
        head = await reader.readexactly(_LEN.size)
        (n,) = _LEN.unpack(head)
        if n > MAX_MESSAGE:
            return None
        body = await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return decode(body)


def decode(body: bytes) -> tuple[Any, ...] | None:
    """A message's body unpickled. A ("reload", config) whose bytes are those of the last one
    read is that message again (its frozen configuration unchanged: the parent reused its
    load, config/reuse.py): not unpickled again, ~15,000 fields for 200 instances (issue 16)."""
    global _last_read
    last = _last_read
    if last is not None and body == last[0]:
        return last[1]
    msg = pickle.loads(body)
    if not isinstance(msg, tuple):
        return None
    if len(msg) == 2 and msg[0] == "reload":
        _last_read = (body, msg)
    return msg
