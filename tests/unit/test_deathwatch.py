"""core/deathwatch.py: the control channel moved to a high descriptor is released first by a
dying child, and the exit code of a death by a signal is read at that moment."""
from __future__ import annotations

import os
import select
import signal
import socket
import time

from keepalived_py.core.deathwatch import HIGH_FD, death_by_signal, to_high_fd


def test_to_high_fd_moves_the_descriptor_and_keeps_it_working() -> None:
    a, b = socket.socketpair()
    try:
        fd = b.detach()
        high = to_high_fd(fd)
        assert high > fd and high <= HIGH_FD
        os.write(high, b"x")
        assert a.recv(1) == b"x"
        assert not os.get_inheritable(high)
        os.close(high)
    finally:
        a.close()


def test_a_killed_childs_channel_closes_first_and_its_signal_is_known_then() -> None:
    a, b = socket.socketpair()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: a channel at a high number
        try:
            a.close()
            to_high_fd(b.detach())
            os.write(w, b"x")
            time.sleep(30)
        finally:
            os._exit(0)
    b.close()
    os.close(w)
    try:
        assert os.read(r, 1) == b"x"
        assert death_by_signal(pid) is None        # alive
        os.kill(pid, signal.SIGKILL)
        assert select.select([a], [], [], 10)[0]
        assert a.recv(1) == b""                    # EOF
        # at EOF (or a moment later, once do_exit has begun) the death is known
        deadline = time.monotonic() + 5
        status = death_by_signal(pid)
        while status is None and time.monotonic() < deadline:
            time.sleep(0.001)
            status = death_by_signal(pid)
        assert status is not None and os.WTERMSIG(status) == signal.SIGKILL
    finally:
        os.waitpid(pid, 0)
        a.close()
        os.close(r)
    assert death_by_signal(pid) is None            # reaped: gone


def test_an_exit_with_a_status_is_left_to_sigchld() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(78)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        time.sleep(0.005)
    assert death_by_signal(pid) is None
    os.waitpid(pid, 0)
