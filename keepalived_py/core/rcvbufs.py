"""`<name>_rcv_bufs SIZE` / `<name>_rcv_bufs_force`: a socket's receive buffer, as keepalived
2.2.7 sets its netlink sockets' (SO_RCVBUF, or SO_RCVBUFFORCE past net.core.rmem_max when
forced; the kernel doubles the value it is given). A failure is logged, never fatal."""
from __future__ import annotations

import socket
from typing import Any

from keepalived_py.config.model_process import RcvBufs
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.rcvbufs")
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def apply_rcvbuf(sock: Any, bufs: RcvBufs, what: str) -> bool:
    """Set `sock`'s receive buffer (anything with setsockopt); False when nothing was set."""
    if not bufs.size:
        return False
    opt = SO_RCVBUFFORCE if bufs.force else socket.SO_RCVBUF
    try:
        sock.setsockopt(socket.SOL_SOCKET, opt, bufs.size)
    except OSError as e:
        log.warning("rcvbufs.failed", socket=what, size=bufs.size, force=bufs.force,
                    error=e.strerror,
                    compat=f"Cannot set {what} receive buffer size to {bufs.size} - {e.strerror}")
        return False
    return True
