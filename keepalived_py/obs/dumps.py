"""keepalived.data / keepalived.stats / keepalived.json: written safely, off the advert path.

Theory of operation. A child asks `DumpWriter.request(kind)`; at the dump's turn its
renderer takes a *snapshot* (plain dicts, see `InstanceSnapshot`) and gives the text in chunks
(an instance, a section each), formatted on the child's loop a slice (SLICE) at a time so an
advert's timer never waits behind a dump; the file is written on a writer thread that makes
only the system calls: to a new temporary file in the target directory (O_EXCL|O_NOFOLLOW,
mode 0644 — readable by exporters, never world-writable, no passwords in it), fsynced, then
renamed over the target. rename(2) replaces a planted symlink instead of following it, and a
reader always sees a whole file. Requests for a kind already waiting are coalesced into it,
so a monitor signalling 100 times a second costs at most one dump of each kind per MIN_GAP.
The VRRP child's keepalived.data is rendered by obs/vrrp_data.py (keepalived 2.2.7's whole
layout, from the resolved model plus this snapshot); `format_data` is the short form kept for
callers without a Config. Exporters (mehdy/keepalived-exporter, gen2brain/keepalived_exporter)
read " VRRP Instance = NAME", "   State = MASTER", "   Virtual Router ID = 51",
"   Interface = eth0", "   Virtual IP (N):" + addresses, the " VRRP Script = NAME" entries,
and the stats file's "VRRP Instance: NAME" sections.
"""
from __future__ import annotations

import _thread
import asyncio
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypedDict

from keepalived_py.core import umask
from keepalived_py.obs import memtrace, slog

log = slog.get_logger("keepalived_py.obs.dumps")

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
    return "".join(iter_stats(instances))


def iter_stats(instances: Sequence[InstanceSnapshot]) -> Iterator[str]:
    """keepalived.stats, an instance a chunk."""
    for i in instances:
        st = i.get("stats", {})
        out = [f"VRRP Instance: {i['name']}"]
        for section, fields in STATS_LAYOUT:
            if section:
                out.append(f"  {section}:")
                out += [f"    {label}: {st.get(key, 0)}" for label, key in fields]  # type: ignore[misc]
            else:
                out += [f"  {label}: {st.get(key, 0)}" for label, key in fields]  # type: ignore[misc]
        yield "\n".join(out) + "\n"
    if not instances:
        yield "\n"


def format_json(instances: Sequence[InstanceSnapshot]) -> str:
    """keepalived's JSON dump: a list of {"data": {...}, "stats": {...}} per instance."""
    return "".join(iter_json(instances))


def iter_json(instances: Sequence[InstanceSnapshot]) -> Iterator[str]:
    """format_json an instance a chunk: the text of json.dumps(rows, indent=2), each row
    encoded on its own and indented one level."""
    if not instances:
        yield "[]\n"
        return
    for n, i in enumerate(instances):
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
        row = json.dumps({"data": data, "stats": dict(i.get("stats", {}))}, indent=2)
        yield ("[\n  " if n == 0 else ",\n  ") + row.replace("\n", "\n  ")
    yield "\n]\n"


# keepalived's numeric states in the JSON dump (vrrp.h): INIT 0, BACKUP 1, MASTER 2, FAULT 3
_STATE_NUM = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 98, "DELETED": 97}


def write_atomic(path: str, text: str | bytes, mode: int = 0o644) -> None:
    """Replace `path` with `text` atomically; never follows a symlink. Raises OSError."""
    directory = os.path.dirname(os.path.abspath(path)) or "/"
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        tmp = f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode & 0o755, dir_fd=dfd)
        try:
            os.fchmod(fd, mode & 0o755)           # umask must not widen or narrow it
            data = text if isinstance(text, bytes) else text.encode()
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
    return list(iter_interfaces())


def iter_interfaces() -> Iterator[dict[str, Any]]:
    """read_interfaces, one interface read per step (a few sysfs reads each)."""
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
    try:
        names = sorted(socket.if_nameindex())
    except OSError:
        return
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
            yield {"name": name, "index": index, "ipv4": ipv4, "ipv6": v6.get(name, ""),
                   "mac": sysfs("address"), "mac_broadcast": sysfs("broadcast"),
                   "up": bool(flags & 0x1),
                   "running": bool(flags & 0x1) and sysfs("operstate") in ("up", "unknown"),
                   "loopback": bool(flags & 0x8), "mtu": int(sysfs("mtu", "0") or 0)}
    finally:
        probe.close()


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


SLICE = 0.001      # seconds of dump formatting per turn of the caller's event loop
MIN_GAP = 0.1      # seconds between two dumps of one kind (a signal flood costs at most that)

# a renderer's text: whole, or in chunks (formatted one step at a time on the loop)
Body = str | Iterable[str]


class DumpWriter:
    """Coalescing dump writer that never holds the caller's event loop for long.

    `request(kind)` returns at once. On a running asyncio loop the dump is rendered there,
    at its turn, a slice at a time: `render(kind)` gives (path, text or an iterable of
    chunks); chunks are formatted until SLICE has passed, then the loop runs what is due (an
    advert's timer) before the next step. The bytes go to one writer thread that only makes
    the system calls (open, write, fsync, rename: the GIL is free while they block). No
    Python-heavy work runs on that thread: on a loaded host a thread holding the GIL while
    the scheduler preempts it stalls the loop for a whole time slice (tens of ms). The thread
    is started once with _thread.start_new_thread, which does not wait for it to run
    (threading.Thread.start does: up to hundreds of ms on the loop under load).
    `prepare` (imports a renderer needs) runs on that thread before the first render, or
    earlier with `warm` (importing keepalived.data's formatter holds the GIL, and so the loop,
    for tens of ms under load: better once at start than in service).
    A kind requested again while pending is coalesced: rendered once, at its turn, so it
    shows the state at or after every request; one kind is dumped at most once per MIN_GAP
    (a monitor signalling 100 times a second gets a fresh file every 0.1 s, and the loop
    stays mostly asleep: a busy process on a loaded host waits for a CPU when its timer
    fires, one that sleeps is woken at once). Without a running loop (tools, tests) the
    text is rendered in the caller and written on the thread."""

    def __init__(self, render: Callable[[str], tuple[str, Body]],
                 prepare: Callable[[], object] | None = None) -> None:
        self._render = render
        self._prepare = prepare
        self._lock = threading.Lock()
        self._pending: dict[str, None] = {}       # kinds waiting for their turn, in order
        self._rendering = False                   # a step is scheduled on the loop
        self._last: dict[str, float] = {}         # kind -> loop time its last dump began
        self._warming = False                     # `prepare` runs on the thread
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = False
        self._queued = 0                          # jobs given to the thread, not finished
        self.written = 0
        self.failed = 0
        self.coalesced = 0

    def request(self, kind: str) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            path, body = self._render(kind)
            data = (body if isinstance(body, str) else "".join(body)).encode()
            self._submit(lambda: self._write(kind, path, data))
            return
        if kind in self._pending:
            self.coalesced += 1
            return
        self._pending[kind] = None
        if self._rendering:
            return
        self._rendering = True
        if self._prepare is not None:
            self.warm()                  # _warmed starts the rendering
        elif not self._warming:
            loop.call_soon(self._next)

    def warm(self) -> None:
        """Run `prepare` on the writer thread now (a quiet moment after start), not at the
        first request. On the loop."""
        if self._prepare is None:
            return
        prepare, self._prepare = self._prepare, None
        loop = asyncio.get_running_loop()
        self._warming = True

        def job() -> None:
            try:
                prepare()
            finally:
                loop.call_soon_threadsafe(self._warmed)
        self._submit(job)

    def _warmed(self) -> None:
        self._warming = False
        if self._rendering:
            self._next()

    # -- on the loop
    def _next(self) -> None:
        if not self._pending:
            self._rendering = False
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        kind = min(self._pending, key=lambda k: self._last.get(k, -MIN_GAP))
        due = self._last.get(kind, -MIN_GAP) + MIN_GAP
        if due > now:              # every pending kind was dumped less than MIN_GAP ago
            loop.call_at(due, self._next)
            return
        del self._pending[kind]
        self._last[kind] = now
        try:
            path, body = self._render(kind)
        except Exception:
            self._failed(kind)
            asyncio.get_running_loop().call_soon(self._next)
            return
        chunks = iter((body,) if isinstance(body, str) else body)
        self._step(kind, path, chunks, [])

    def _step(self, kind: str, path: str, chunks: Iterator[str], parts: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        end = time.perf_counter() + SLICE
        try:
            for chunk in chunks:
                if chunk:
                    parts.append(chunk.encode())
                if time.perf_counter() >= end:
                    loop.call_soon(self._step, kind, path, chunks, parts)
                    return
        except Exception:
            self._failed(kind)
        else:
            data = b"".join(parts)
            self._submit(lambda: self._write(kind, path, data))
        loop.call_soon(self._next)

    def _failed(self, kind: str) -> None:
        self.failed += 1
        log.exception("obs.dump.render_failed", kind=kind)

    # -- the writer thread
    def _submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._queued += 1
            start, self._thread = not self._thread, True
        self._jobs.put(job)
        if start:
            _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                log.exception("obs.dump.job_failed")
            finally:
                with self._lock:
                    self._queued -= 1

    def _write(self, kind: str, path: str, data: bytes) -> None:
        try:
            if kind in ("data", "check"):
                data += memtrace.section().encode()    # "" unless KEEPALIVED_PY_TRACEMALLOC
            write_atomic(path, data, umask.dump_mode())    # keepalived's: 0666 & ~umask
            self.written += 1
        except OSError as e:
            self.failed += 1
            log.warning("obs.dump.failed", kind=kind, path=path,
                        error=os.strerror(e.errno or 0))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """From another thread than the loop's (or without a loop): every request written."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if not self._pending and not self._rendering and not self._queued:
                    return True
            time.sleep(0.005)
        return False
