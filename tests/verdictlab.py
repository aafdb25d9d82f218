"""`-t` of keepalived 2.2.7 and of keepalived-py on the same file, in the same namespace (so that
both see the same interfaces): the shared set-up of the verdict tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from netlab import Lab

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"


@contextmanager
def verdict_host(tag: str, addresses: tuple[str, ...],
                 more: tuple[tuple[str, str], ...] = ()) -> Iterator[Any]:
    """A namespace "h" with eth0 holding `addresses` and one more interface per (name, address)
    in `more`; skips where the test cannot run (not root, no keepalived)."""
    if os.geteuid() != 0:
        pytest.skip("needs root for the namespace")
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")
    with Lab(tag=tag) as lab:
        lan = lab.lan()
        node = lab.node("h", lan, *addresses)
        for ifname, address in more:
            lab.attach(node, lan, ifname, address)
        yield node


def config_test_both(node: Any, path: str) -> tuple[subprocess.CompletedProcess[str],
                                                     subprocess.CompletedProcess[str]]:
    """(keepalived's, ours) `-t -f path`, run in `node`; neither raises on a non-zero exit."""
    theirs = node.run(KEEPALIVED, "-t", "-f", path, check=False)
    ours = node.run(sys.executable, "-m", "keepalived_py", "-t", "-f", path, check=False)
    return theirs, ours
