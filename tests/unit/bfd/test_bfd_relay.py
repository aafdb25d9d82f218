"""The supervisor's part of BFD: which children run, and the relay of session states from the
BFD child to the VRRP and checker children (bfd_instance's `vrrp` / `checker`), repeated to a
child that starts after the event."""
from __future__ import annotations

import pickle
import struct

from keepalived_py.config import LoadResult
from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.core.supervisor import Child, Supervisor, needed_roles
from keepalived_py.options import Options

CONF = ("bfd_instance both {\n neighbor_ip 192.0.2.2\n}\n"
        "bfd_instance vonly {\n neighbor_ip 192.0.2.3\n vrrp\n}\n"
        "bfd_instance conly {\n neighbor_ip 192.0.2.4\n checker\n}\n"
        "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n"
        " virtual_ipaddress { 192.0.2.100 }\n}\n")


def config(text: str = CONF):  # type: ignore[no-untyped-def]
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)


class Pipe:
    """A child's end of the control link as the supervisor sees it: what was written."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, b: bytes) -> None:
        self.data += b

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def messages(self) -> list[tuple[object, ...]]:
        out, buf = [], self.data
        while buf:
            (n,) = struct.unpack("!I", buf[:4])
            out.append(pickle.loads(buf[4:4 + n]))
            buf = buf[4 + n:]
        return out


def test_relay_children_run_only_for_bfd_configurations() -> None:
    assert "bfd" in needed_roles(Options(), config())
    assert "bfd" not in needed_roles(Options(no_bfd=True), config())
    assert "bfd" not in needed_roles(Options(use_vrrp=True), config())
    plain = config("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n}\n")
    assert needed_roles(Options(), plain) == {"vrrp"}
    assert "bfd" in needed_roles(Options(all_children=True), plain)
    assert "bfd" not in needed_roles(Options(all_children=True, no_bfd=True), plain)


def test_relay_sends_each_session_to_the_children_it_names() -> None:
    c = config()
    sup = Supervisor(Options(), LoadResult(c, Diagnostics(), ()))
    pipes = {}
    for role in ("vrrp", "checker"):
        child = Child(role, f"/nonexistent/{role}.pid", pid=1000 + len(pipes))
        pipes[role] = Pipe()
        child.writer = pipes[role]  # type: ignore[assignment]
        sup.children[role] = child
    for name, up in (("both", True), ("vonly", True), ("conly", True), ("both", False),
                     ("gone", True)):
        sup._relay_bfd(name, up)
    assert pipes["vrrp"].messages() == [("bfd", {"both": True}), ("bfd", {"vonly": True}),
                                        ("bfd", {"both": False})]
    assert pipes["checker"].messages() == [("bfd", {"both": True}), ("bfd", {"conly": True}),
                                           ("bfd", {"both": False})]
    # a child started later gets the last state of its sessions right after "start"
    assert sup._bfd_for("vrrp", sup.bfd_up) == {"both": False, "vonly": True}
    assert sup._bfd_for("checker", sup.bfd_up) == {"both": False, "conly": True}
