"""keepalived.data / keepalived.stats / keepalived.json: written safely, off the advert path.

Theory of operation. The VRRP child hands a *snapshot* (plain dicts, see `InstanceSnapshot`)
to `DumpWriter.request(kind)`; formatting is cheap string work, and the file is written on a
worker thread: to a new temporary file in the target directory (O_EXCL|O_NOFOLLOW, mode
0644 — readable by exporters, never world-writable, no passwords in it), fsynced, then renamed
over the target. rename(2) replaces a planted symlink instead of following it, and a reader
always sees a whole file. Requests that arrive while a write is under way are coalesced into
one more write, so a monitor signalling 100 times a second costs at most one write at a time.
The VRRP child's keepalived.data is rendered by obs/vrrp_data.py (keepalived 2.2.7's whole
layout, from the resolved model plus this snapshot); `format_data` is the short form kept for
callers without a Config. Exporters (mehdy/keepalived-exporter, gen2brain/keepalived_exporter)
read " VRRP Instance = NAME", "   State = MASTER", "   Virtual Router ID = 51",
"   Interface = eth0", "   Virtual IP (N):" + addresses, the " VRRP Script = NAME" entries,
and the stats file's "VRRP Instance: NAME" sections.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import structlog

from keepalived_py.core import umask
from keepalived_py.obs import memtrace

log = structlog.get_logger("keepalived_py.obs.dumps")

FILE_NAMES = {"data": "keepalived.data", "stats": "keepalived.stats", "json": "keepalived.json",
              "check": "keepalived_check.data"}


class InstanceStats(TypedDict, total=False):
    advert_rcvd: int
    advert_sent: int
    become_master: int
    release_master: int
    packet_len_err: int
    ip_ttl_err: int
    invalid_type_rcvd: int
    advert_interval_err: int
    addr_list_err: int
    invalid_authtype: int
    authtype_mismatch: int
    auth_failure: int
    pri_zero_rcvd: int
    pri_zero_sent: int


class InstanceSnapshot(TypedDict, total=False):
    name: str
    state: str                  # INIT BACKUP MASTER FAULT STOP
    wantstate: str
    version: int
    interface: str
    src_ip: str
    mcast_dst: str
    vrid: int
    priority: int               # configured (base)
    effective_priority: int
    total_priority: int
    advert_int: float           # seconds
    accept: bool
    preempt: bool
    vips: list[str]             # "192.0.2.10/24 dev eth0 scope global"
    excluded_vips: list[str]
    last_transition: float      # wall clock (time.time())
    master_down_interval: float
    garp_delay: float
    garp_repeat: int
    garp_refresh: float
    garp_refresh_repeat: int
    tracked_scripts: list[str]
    stats: InstanceStats


STATS_LAYOUT: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Advertisements", (("Received", "advert_rcvd"), ("Sent", "advert_sent"))),
    ("", (("Became master", "become_master"), ("Released master", "release_master"))),
    ("Packet Errors", (("Length", "packet_len_err"), ("TTL", "ip_ttl_err"),
                       ("Invalid Type", "invalid_type_rcvd"),
                       ("Advertisement Interval", "advert_interval_err"),
                       ("Address List", "addr_list_err"))),
    ("Authentication Errors", (("Invalid Type", "invalid_authtype"),
                               ("Type Mismatch", "authtype_mismatch"),
                               ("Failure", "auth_failure"))),
    ("Priority Zero", (("Received", "pri_zero_rcvd"), ("Sent", "pri_zero_sent"))),
)


def _when(t: float) -> str:
    tm = time.localtime(t)
    frac = f"{t % 1:.6f}"[2:]
    return f"{t:.6f} ({time.strftime('%a %b %d %H:%M:%S', tm)}.{frac} {tm.tm_year})"


def format_data(instances: Sequence[InstanceSnapshot], scripts: Sequence[Mapping[str, Any]] = ()
                ) -> str:
    out = ["------< VRRP Topology >------"]
    for i in instances:
        on = "enabled"
        vips = i.get("vips", [])
        out += [
            f" VRRP Instance = {i['name']}",
            f"   VRRP Version = {i.get('version', 2)}",
            f"   State = {i.get('state', 'INIT')}",
            "   Flags: none",
            f"   Wantstate = {i.get('wantstate', i.get('state', 'INIT'))}",
            f"   Last transition = {_when(i.get('last_transition', 0.0))}",
            f"   Master down timer = {int(i.get('master_down_interval', 0) * 1e6)} usecs",
            f"   Interface = {i.get('interface', '')}",
            f"   Using src_ip = {i.get('src_ip', '')}",
            f"   Multicast address {i.get('mcast_dst', '')}",
            f"   Gratuitous ARP delay = {i.get('garp_delay', 5):g}",
            f"   Gratuitous ARP repeat = {i.get('garp_repeat', 5)}",
            f"   Gratuitous ARP refresh = {i.get('garp_refresh', 0):g}",
            f"   Gratuitous ARP refresh repeat = {i.get('garp_refresh_repeat', 1)}",
            f"   Virtual Router ID = {i.get('vrid', 0)}",
            f"   Priority = {i.get('priority', 0)}",
            f"   Effective priority = {i.get('effective_priority', i.get('priority', 0))}",
            f"   Total priority = {i.get('total_priority', i.get('priority', 0))}",
            f"   Advert interval = {round(i.get('advert_int', 1.0) * 1000)} milli-sec",
            f"   Accept = {on if i.get('accept', True) else 'disabled'}",
            f"   Preempt = {on if i.get('preempt', True) else 'disabled'}",
            f"   Virtual IP ({len(vips)}):",
            *(f"     {v}" for v in vips),
        ]
        if i.get("excluded_vips"):
            out.append("   Virtual IP Excluded :")
            out += [f"     {v}" for v in i["excluded_vips"]]
        if i.get("tracked_scripts"):
            out.append("   Tracked scripts :")
            out += [f"     {s}" for s in i["tracked_scripts"]]
    if scripts:
        out.append("------< VRRP Scripts >------")
        for s in scripts:
            out += [f" VRRP Script = {s['name']}",
                    f"   Command = '{s.get('command', '')}'",
                    f"   Interval = {s.get('interval', 1):g} sec",
                    f"   Timeout = {s.get('timeout', 0):g} sec",
                    f"   Weight = {s.get('weight', 0)}",
                    f"   Rise = {s.get('rise', 1)}",
                    f"   Fall = {s.get('fall', 1)}",
                    f"   Status = {s.get('status', 'INIT')}",
                    f"   State = {s.get('state', 'idle')}"]
    return "\n".join(out) + "\n"


def format_check_data(servers: Sequence[Mapping[str, Any]]) -> str:
    """The checker child's keepalived_check.data, in keepalived's layout."""
    out = ["------< Health checkers >------"]
    for v in servers:
        alive = sum(1 for r in v["real_servers"] if r["up"])
        out += [" ------< Virtual server >------",
                f" VS VIP = {v['address']}, VPORT = {v['port']}",
                f"   protocol = {v.get('protocol') or 'TCP'}",
                f"   alive = {int(alive > 0)}",
                f"   sorry server in use = {'yes' if v.get('sorry') else 'no'}"]
        for r in v["real_servers"]:
            out += ["   ------< Real server >------",
                    f"   RIP = {r['address']}, RPORT = {r['port']}, WEIGHT = {r['weight']}"
                    f" EFF WEIGHT = {r['weight'] if r['up'] else 0}",
                    f"   alive = {int(r['up'])}"]
    return "\n".join(out) + "\n"


def format_stats(instances: Sequence[InstanceSnapshot]) -> str:
    out: list[str] = []
    for i in instances:
        st = i.get("stats", {})
        out.append(f"VRRP Instance: {i['name']}")
        for section, fields in STATS_LAYOUT:
            if section:
                out.append(f"  {section}:")
                out += [f"    {label}: {st.get(key, 0)}" for label, key in fields]  # type: ignore[misc]
            else:
                out += [f"  {label}: {st.get(key, 0)}" for label, key in fields]  # type: ignore[misc]
    return "\n".join(out) + "\n"


def format_json(instances: Sequence[InstanceSnapshot]) -> str:
    """keepalived's JSON dump: a list of {"data": {...}, "stats": {...}} per instance."""
    rows = []
    for i in instances:
        data = {
            "iname": i["name"], "state": _STATE_NUM.get(i.get("state", "INIT"), 0),
            "wantstate": _STATE_NUM.get(i.get("wantstate", i.get("state", "INIT")), 0),
            "ifp_ifname": i.get("interface", ""), "vrid": i.get("vrid", 0),
            "base_priority": i.get("priority", 0),
            "effective_priority": i.get("effective_priority", i.get("priority", 0)),
            "version": i.get("version", 2), "adver_int": i.get("advert_int", 1.0),
            "accept": int(i.get("accept", True)), "nopreempt": int(not i.get("preempt", True)),
            "vips": list(i.get("vips", [])), "evips": list(i.get("excluded_vips", [])),
            "last_transition": i.get("last_transition", 0.0),
        }
        rows.append({"data": data, "stats": dict(i.get("stats", {}))})
    return json.dumps(rows, indent=2) + "\n"


# keepalived's numeric states in the JSON dump (vrrp.h): INIT 0, BACKUP 1, MASTER 2, FAULT 3
_STATE_NUM = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 98, "DELETED": 97}


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` atomically; never follows a symlink. Raises OSError."""
    directory = os.path.dirname(os.path.abspath(path)) or "/"
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        tmp = f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode & 0o755, dir_fd=dfd)
        try:
            os.fchmod(fd, mode & 0o755)           # umask must not widen or narrow it
            data = text.encode()
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=dfd)
            raise
        os.close(fd)
        try:
            os.rename(tmp, os.path.basename(path), src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            os.unlink(tmp, dir_fd=dfd)
            raise
    finally:
        os.close(dfd)


def read_interfaces() -> list[dict[str, Any]]:
    """The interfaces of this namespace as keepalived.data's Interfaces section shows them
    (index order; IPv4: the first address, IPv6: the link-local one). Never raises."""
    import fcntl
    import ipaddress
    import socket
    import struct
    v6: dict[str, str] = {}
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[0].startswith("fe80"):
                    v6.setdefault(parts[5], str(ipaddress.IPv6Address(int(parts[0], 16))))
    except OSError:
        pass
    out: list[dict[str, Any]] = []
    try:
        names = sorted(socket.if_nameindex())
    except OSError:
        return out
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for index, name in names:
            def sysfs(attr: str, default: str = "", name: str = name) -> str:
                try:
                    with open(f"/sys/class/net/{name}/{attr}") as f:
                        return f.read().strip()
                except OSError:
                    return default
            try:
                raw = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
                ipv4 = str(ipaddress.IPv4Address(raw[20:24]))
            except OSError:
                ipv4 = ""
            flags = int(sysfs("flags", "0") or "0", 16)
            out.append({"name": name, "index": index, "ipv4": ipv4, "ipv6": v6.get(name, ""),
                        "mac": sysfs("address"), "mac_broadcast": sysfs("broadcast"),
                        "up": bool(flags & 0x1),
                        "running": bool(flags & 0x1) and sysfs("operstate") in ("up", "unknown"),
                        "loopback": bool(flags & 0x8), "mtu": int(sysfs("mtu", "0") or 0)})
    finally:
        probe.close()
    return out


def dump_dir() -> str:
    return os.environ.get("TMPDIR") or "/tmp"


def dump_path(kind: str, *, directory: str | None = None, data_use_instance: bool = False,
              instance: str | None = None, namespace: str | None = None) -> str:
    """keepalived's dump file name: TMPDIR/keepalived.data, or keepalived.NS_INST.data."""
    name = FILE_NAMES[kind]
    if data_use_instance and (instance or namespace):
        stem, ext = name.rsplit(".", 1)
        tag = "_".join(x for x in (namespace, instance) if x)
        name = f"{stem}.{tag}.{ext}"
    return os.path.join(directory or dump_dir(), name)


class DumpWriter:
    """Coalescing, threaded writer: `request` returns at once; writes never overlap."""

    def __init__(self, render: Callable[[str], tuple[str, str | Callable[[], str]]]) -> None:
        # kind -> (path, text), called on the caller's thread; `text` may be a function the
        # writer thread calls (formatting and its reads off the caller's event loop)
        self._render = render
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str | Callable[[], str]]] = {}
        self._busy = False
        self.written = 0
        self.failed = 0
        self.coalesced = 0

    def request(self, kind: str) -> None:
        job = self._render(kind)
        with self._lock:
            if kind in self._pending:
                self.coalesced += 1
            self._pending[kind] = job
            if self._busy:
                return
            self._busy = True
        threading.Thread(target=self._drain, name="dump-writer", daemon=True).start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._busy = False
                    return
                kind, (path, text) = self._pending.popitem()
            try:
                body = text if isinstance(text, str) else text()
                if kind in ("data", "check"):
                    body += memtrace.section()     # "" unless KEEPALIVED_PY_TRACEMALLOC
                write_atomic(path, body, umask.dump_mode())    # keepalived's: 0666 & ~umask
                self.written += 1
            except OSError as e:
                self.failed += 1
                log.warning("obs.dump.failed", kind=kind, path=path,
                            error=os.strerror(e.errno or 0))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if not self._busy:
                    return True
            time.sleep(0.005)
        return False
