"""notify_fifo / vrrp_notify_fifo / lvs_notify_fifo: one line per event, keepalived's format.

    INSTANCE "VI_1" MASTER 100
    GROUP "G1" BACKUP 0
    INSTANCE "VI_1" MASTER_PRIORITY 90

The FIFO is opened read-write and non-blocking (so opening never waits for a reader and a
reader that goes away does not raise SIGPIPE); a full pipe (nobody reading) drops the line and
counts it, it never blocks the daemon. If a *_fifo_script is configured it is started with the
FIFO's path as its argument and reads the lines, as in keepalived. A path that exists and is
not a FIFO is refused, never replaced; a missing one is created with mode 0600.
"""
from __future__ import annotations

import errno
import os
import stat

import structlog

log = structlog.get_logger("keepalived_py.notify.fifo")


def vrrp_fifo_line(kind: str, name: str, state: str, priority: int) -> bytes:
    return f'{kind} "{name}" {state} {priority}\n'.encode()


class NotifyFifo:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.written = 0
        self.dropped = 0

    def open(self) -> bool:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            try:
                os.mkfifo(self.path, 0o600)
            except OSError as e:
                log.error("notify.fifo.create_failed", path=self.path, error=os.strerror(e.errno or 0))
                return False
        else:
            if not stat.S_ISFIFO(st.st_mode):
                log.error("notify.fifo.not_a_fifo", path=self.path)
                return False
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            log.error("notify.fifo.open_failed", path=self.path, error=os.strerror(e.errno or 0))
            return False
        return True

    def write(self, line: bytes) -> bool:
        if self.fd < 0:
            return False
        try:
            os.write(self.fd, line)
        except OSError as e:
            self.dropped += 1
            if e.errno not in (errno.EAGAIN, errno.EPIPE):
                log.warning("notify.fifo.write_failed", path=self.path, error=os.strerror(e.errno or 0))
            return False
        self.written += 1
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
