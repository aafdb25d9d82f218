"""Test LANs made of network namespaces: a bridge in its own namespace, veth pairs to nodes.

Every name starts with the run's prefix (KP_NS_PREFIX, else "kp" + pid + random), so two runs
never collide; `Lab.close()` ends the processes the lab started (by pid) and deletes every
namespace it made, also after a failure. Nothing here touches the host's interfaces: veth pairs
are created inside the LAN namespace with their peer moved straight into the node namespace.

    with Lab("vrrp") as lab:
        lan = lab.lan()
        a = lab.node("a", lan, "192.0.2.1/24", "2001:db8::1/64")
        a.run("ip", "-j", "addr")
        p = a.popen(["keepalived-py", "-n", "-f", conf])
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def run_prefix() -> str:
    """The per-run namespace-name prefix."""
    env = os.environ.get("KP_NS_PREFIX")
    if env:
        return env
    return f"kp{os.getpid() % 100000}{secrets.token_hex(2)}"


def have_netns() -> tuple[bool, str]:
    """Whether this process can make namespaces (root and ip(8)); the reason if not."""
    if os.geteuid() != 0:
        return False, "needs root to create network namespaces"
    if subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return False, "ip(8) from iproute2 is not installed"
    return True, ""


def wait_for(pred: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll `pred` until it is true or `timeout` seconds have passed (then a last look)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def seconds_until(pred: Callable[[], object], timeout: float = 10.0,
                  step: float = 0.05) -> float | None:
    """Poll `pred` until it is true: the seconds that took, or None after `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=timeout)


def delete_netns(ns: str) -> None:
    """End whatever still runs inside namespace `ns` (one of ours), then delete it."""
    for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    sh("ip", "netns", "del", ns, check=False)


@dataclass
class Node:
    lab: Lab
    ns: str
    ifname: str = "eth0"

    def run(self, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.ns, *cmd, check=check, timeout=timeout)

    def popen(self, cmd: list[str], **kw: object) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], **kw)  # type: ignore[call-overload]
        self.lab.procs.append(p)
        return p

    def addresses(self, ifname: str | None = None) -> list[str]:
        """Addresses on the interface as `ip -j addr` shows them (an independent view)."""
        import json
        out = self.run("ip", "-j", "addr", "show", "dev", ifname or self.ifname).stdout
        data = json.loads(out or "[]")
        return [f"{a['local']}/{a['prefixlen']}" for i in data for a in i.get("addr_info", [])]


@dataclass
class Lab:
    tag: str = "t"
    prefix: str = field(default_factory=run_prefix)
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _n: int = 0

    def name(self, what: str) -> str:
        return f"{self.prefix}-{self.tag}-{what}"

    def netns(self, what: str) -> str:
        ns = self.name(what)
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def lan(self, what: str = "lan") -> str:
        """A namespace holding bridge br0: the test LAN."""
        ns = self.netns(what)
        sh("ip", "-n", ns, "link", "add", "br0", "type", "bridge", "stp_state", "0",
           "forward_delay", "0", "mcast_snooping", "0")
        sh("ip", "-n", ns, "link", "set", "br0", "up")
        return ns

    def node(self, what: str, lan: str | None = None, *addrs: str, ifname: str = "eth0") -> Node:
        """A node namespace; with `lan`, its `ifname` is a veth whose peer is on the LAN bridge."""
        ns = self.netns(what)
        node = Node(self, ns, ifname)
        if lan is not None:
            self.attach(node, lan, ifname, *addrs)
        return node

    def attach(self, node: Node, lan: str, ifname: str, *addrs: str) -> str:
        self._n += 1
        port = f"p{self._n}"
        sh("ip", "-n", lan, "link", "add", port, "type", "veth", "peer", "name", ifname,
           "netns", node.ns)
        sh("ip", "-n", lan, "link", "set", port, "master", "br0", "up")
        for a in addrs:
            extra = ["nodad"] if ":" in a else []
            sh("ip", "-n", node.ns, "addr", "add", a, "dev", ifname, *extra)
        sh("ip", "-n", node.ns, "link", "set", ifname, "up")
        return port

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for ns in reversed(self.namespaces):
            delete_netns(ns)
        self.namespaces.clear()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
