"""track_file / vrrp_track_file: a number read from a file whenever the file changes.

Theory of operation. keepalived reads at most 127 bytes and converts them as strtol(..., 0)
does (leading blanks, a sign, 0x hex and 0 octal prefixes, stopping at the first other
character; no digits is 0); a value outside 32 bits is logged and ignored; a missing, empty or
unreadable file (or a directory) is 0. Changes are found with inotify on the file's directory
(IN_CLOSE_WRITE, IN_MOVED_TO: read again; IN_DELETE, IN_MOVED_FROM: the value becomes 0), so a
file that is replaced by rename is followed too. Nothing polls. `init_file` writes the value
at start when the file does not exist (or always, with `overwrite`).
"""
from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import re
from collections.abc import Callable, Sequence

from keepalived_py.config.model import VrrpTrackFile
from keepalived_py.core.process import libc as _libc
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.track.file")

_STRTOL = re.compile(rb"[ \t\n\r\f\v]*([+-]?)(0[xX](?=[0-9a-fA-F])|0|)([0-9a-fA-F]*)")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def parse_value(data: bytes) -> int | None:
    """strtol(data, NULL, 0) on the first 127 bytes; None when keepalived would ignore it."""
    m = _STRTOL.match(data[:127])
    if m is None:  # pragma: no cover - the pattern always matches (possibly empty)
        return 0
    sign, prefix, digits = m.groups()
    base = 16 if prefix.lower() == b"0x" else 8 if prefix == b"0" else 10
    allowed = b"0123456789abcdefABCDEF"[: {16: 22, 8: 8, 10: 10}[base]]
    n = 0
    while n < len(digits) and digits[n] in allowed:
        n += 1
    if n == 0:
        return 0
    value = int(digits[:n], base)
    if sign == b"-":
        value = -value
    if value < INT32_MIN or value > INT32_MAX + 1:
        return None
    return value


def read_value(path: str) -> int | None:
    """The value of `path` now (0 when missing/unreadable); None when it must be ignored."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        data = os.read(fd, 127)
    except OSError:       # a directory, a FIFO with no writer...
        return 0
    finally:
        os.close(fd)
    return parse_value(data) if data else 0


def init_file(t: VrrpTrackFile) -> None:
    """Apply `init_file [VALUE] [overwrite]` at start. Raises OSError if it cannot write."""
    if t.init_file is None:
        return
    if os.path.exists(t.file) and not t.init_file_overwrite:
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(t.file, flags, 0o644)
    try:
        os.write(fd, f"{t.init_file}\n".encode())
    finally:
        os.close(fd)


# inotify constants (linux/inotify.h)
IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_DELETE = 0x8, 0x40, 0x80, 0x200
IN_ISDIR, IN_NONBLOCK, IN_CLOEXEC = 0x40000000, 0o4000, 0o2000000
_WATCH_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE

ValueCallback = Callable[[str, int], None]


class FileMonitor:
    """All tracked files of the child; reports (tracker name, value) when a value changes."""

    def __init__(self, files: Sequence[VrrpTrackFile], on_change: ValueCallback,
                 reload: bool = False) -> None:
        """`reload`: started again by a reload or a child restart; init_file is applied only
        at the daemon's first start, as keepalived does."""
        self.files = list(files)
        self.reload = reload
        self.on_change = on_change
        self.values: dict[str, int] = {}
        self.events = 0
        self._fd = -1
        self._wd_dirs: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Read every file once, report the values, then follow changes."""
        self._loop = asyncio.get_running_loop()
        for t in self.files:
            try:
                if not self.reload:
                    init_file(t)
            except OSError as e:
                log.warning("track.file.init_failed", tracker=t.name, file=t.file,
                            error=os.strerror(e.errno or 0))
            value = read_value(t.file)
            self.values[t.name] = 0 if value is None else value
            self.on_change(t.name, self.values[t.name])
        if not self.files:
            return
        libc = _libc()       # loaded once per process, not at every reload
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            log.error("track.file.inotify_unavailable", error=os.strerror(err))
            return
        self._fd = fd
        for d in sorted({os.path.dirname(os.path.abspath(t.file)) for t in self.files}):
            wd = libc.inotify_add_watch(fd, os.fsencode(d), _WATCH_MASK)
            if wd < 0:
                log.warning("track.file.watch_failed", directory=d,
                            error=os.strerror(ctypes.get_errno()))
                continue
            self._wd_dirs[wd] = d
        self._loop.add_reader(fd, self._readable)

    def stop(self) -> None:
        if self._fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _readable(self) -> None:
        from keepalived_py.pyroute2_parts import pyroute2_without_its_init
        pyroute2_without_its_init()
        from pyroute2.inotify.inotify_msg import inotify_msg

        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                log.error("track.file.inotify_read_failed", error=os.strerror(e.errno or 0))
                return
            offset = 0
            while offset + 16 <= len(data):
                msg = inotify_msg(data, offset=offset)
                msg.decode()
                offset += msg.length
                self.events += 1
                self._event(msg["wd"], msg["mask"], msg["name"])

    def _event(self, wd: int, mask: int, name: str) -> None:
        directory = self._wd_dirs.get(wd)
        if directory is None or mask & IN_ISDIR:
            return
        path = os.path.join(directory, name)
        for t in self.files:
            if os.path.abspath(t.file) != path:
                continue
            if mask & (IN_DELETE | IN_MOVED_FROM):
                value = 0
            else:
                read = read_value(t.file)
                if read is None:
                    log.info("track.file.invalid_number", tracker=t.name, file=t.file)
                    continue
                value = read
            if self.values.get(t.name) != value:
                self.values[t.name] = value
                log.info("track.file.changed", tracker=t.name, file=t.file, value=value)
                self.on_change(t.name, value)
