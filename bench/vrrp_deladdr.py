"""RTM_DELADDR handling cost at N instances (issue 11): the VRRP child looks at every instance
for each deleted address. Before, that was two or more if_nametoindex calls per instance per
message; vrrp/links.py takes the indexes from the Netlink cache. In-process, on `lo`, no root.

    python3 bench/vrrp_deladdr.py [N]     (default 200)

Measured (2 loaded cores, 200 instances): 2.5-3.0 ms per message with if_nametoindex per
instance, 0.14-0.24 ms cached; a master releasing 200 VIPs is 200 messages: ~0.55 s -> ~0.04 s.
"""
from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import sys
import tempfile
import time
from typing import Any

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.options import Options
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.addresses import Netlink
from keepalived_py.vrrp.daemon import Runner, VrrpDaemon, params_of


class Msg:
    """A netlink RTM_DELADDR for an address that is none of ours (every instance is looked at)."""

    def __init__(self, addr: str, index: int) -> None:
        self.addr, self.index = addr, index

    def get_attr(self, key: str) -> str | None:
        return self.addr if key == "IFA_LOCAL" else None

    def get(self, key: str, default: Any = None) -> Any:
        return {"index": self.index, "event": "RTM_DELADDR"}.get(key, default)


def uncached(d: VrrpDaemon, msg: Msg) -> None:
    """The instance filter as it was: if_nametoindex for every instance, every message."""
    def index_of(name: str) -> int | None:
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return None
    index = msg.get("index")
    ipaddress.ip_address(msg.get_attr("IFA_LOCAL"))
    for r in list(d.runners.values()):
        if not r.cfg.interface or index not in (index_of(r.cfg.interface), index_of(r.ifname)) \
                and not any(a.dev and index_of(a.dev) == index for a in r.cfg.virtual_ipaddress):
            continue


async def main(n: int) -> None:
    text = "".join(f"vrrp_instance VI_{i} {{\n interface eth0\n virtual_router_id {i % 255 + 1}\n"
                   f" priority 100\n virtual_ipaddress {{ 198.51.100.{i % 250 + 1}/32 }}\n}}\n"
                   for i in range(n))
    diags = Diagnostics()
    cfg = build_config(read_tree_text(text, path="k.conf", diagnostics=diags), diags)
    with tempfile.TemporaryDirectory(prefix="kp-bench-") as tmp:
        d = VrrpDaemon(Options(vrrp_pid_file=f"{tmp}/vrrp.pid"))
        d.loop = asyncio.get_running_loop()
        d.netlink = Netlink()
        for inst in cfg.vrrp_instances:
            inst = dataclasses.replace(inst, interface="lo")
            d.runners[inst.name] = Runner(inst, m.Instance(params_of(inst)), src=None)
        msg = Msg("203.0.113.7", socket.if_nametoindex("lo"))
        rounds = 200
        t = time.perf_counter()
        for _ in range(rounds):
            uncached(d, msg)
        before = (time.perf_counter() - t) / rounds
        t = time.perf_counter()
        for _ in range(rounds):
            d.links.address_deleted(msg)
        after = (time.perf_counter() - t) / rounds
    print(f"{n} instances, one RTM_DELADDR: if_nametoindex per instance {before * 1e3:.2f} ms,"
          f" cached ifindex {after * 1e3:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
