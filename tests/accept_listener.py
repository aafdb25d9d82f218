"""A TCP listener for the checker's scale tests and benches: it accepts every connection on
0.0.0.0:PORT and closes it at once (a TCP_CHECK's success), in a process of its own so that
only the checker's work is measured. Run it as a program where the real servers are:

    python tests/accept_listener.py PORT        # prints "ready" once it listens

PATH is this file, for the command line.
"""
from __future__ import annotations

import socket
import sys

PATH = __file__


def main(port: int) -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(65535)                 # (the kernel caps the backlog at net.core.somaxconn)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        c.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
