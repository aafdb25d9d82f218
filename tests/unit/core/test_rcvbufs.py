"""core/rcvbufs.py: SO_RCVBUF, or SO_RCVBUFFORCE past net.core.rmem_max when forced."""
from __future__ import annotations

import os
import socket

import pytest

from keepalived_py.config.model_process import RcvBufs
from keepalived_py.core.rcvbufs import apply_rcvbuf


def test_unset_leaves_the_socket_alone() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        before = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert not apply_rcvbuf(s, RcvBufs(), "t")
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == before


def test_size_is_set_and_doubled_by_the_kernel() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        assert apply_rcvbuf(s, RcvBufs(size=65536), "t")
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 131072


@pytest.mark.skipif(os.geteuid() != 0, reason="SO_RCVBUFFORCE needs CAP_NET_ADMIN")
def test_force_passes_rmem_max() -> None:
    with open("/proc/sys/net/core/rmem_max") as f:
        big = int(f.read()) + 1_000_000
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        assert apply_rcvbuf(s, RcvBufs(size=big, force=True), "t")
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2 * big
