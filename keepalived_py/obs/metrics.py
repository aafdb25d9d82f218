"""Prometheus text exposition of the daemon's state: the metrics keepalived's exporters expose
(same names and labels, so existing dashboards keep working) plus keepalived-py's own
state-transition counters, failover-time histograms and checker metrics. Pure: snapshots in,
text out; `serve` is the thin HTTP edge (run by the parent, which asks each child for its part
over the child's control socket, so checker metrics are served with no VRRP instance too)."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keepalived_py.obs.dumps import InstanceSnapshot
from keepalived_py.vrrp import stats as vrrp_stats

if TYPE_CHECKING:
    from keepalived_py.obs.gate import CappedServer

# Both popular exporters' metric families are served, with their exact names and labels, so a
# dashboard or alert written for either keeps working without running the exporter:
#  - mehdy/keepalived-exporter: keepalived_<what>_total{iname,intf,vrid}, keepalived_vrrp_state
#    {iname,intf,vrid,ip_address} per VIP (intf = the VIP's own device, as its ParseVIP reads
#    "ADDR dev DEV ..."), keepalived_vrrp_excluded_state, keepalived_script_status/_state{name};
#  - gen2brain/keepalived_exporter: keepalived_vrrp_<stats key>{name,intf,vrid,state}.
# (stats key, mehdy's name, help)
COUNTERS = tuple((c.key, c.metric, c.help) for c in vrrp_stats.COUNTERS if c.metric)
STATE_VALUE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
SCRIPT_STATUS = {"BAD": 0, "GOOD": 1}            # mehdy's VRRPScriptStatuses index
SCRIPT_STATE = {"idle": 0, "running": 1, "requested termination": 2, "forcing termination": 3}
FAILOVER_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


def _esc(v: object) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kv: object) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kv.items()) + "}"


def _head(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _vip(line: str) -> tuple[str, str] | None:
    """The exporter's ParseVIP: "ADDR dev DEV ..." split on single spaces -> (ADDR, DEV);
    lines of fewer than three words are skipped, as it skips them."""
    words = line.split(" ")
    return (words[0], words[2]) if len(words) >= 3 else None


def render(instances: Sequence[InstanceSnapshot], extra: Mapping[str, Any] | None = None) -> str:
    """The VRRP child's part of a scrape. `extra` may carry 'transitions'
    {(iname, new_state): n}, 'failover_seconds' {iname: [observations]} and 'scripts'
    [{"name", "status": GOOD|BAD, "state": idle|running|...}]."""
    extra = extra or {}
    out: list[str] = []
    _head(out, "keepalived_vrrp_state", "gauge", "State of vrrp")
    for i in instances:
        state = STATE_VALUE.get(i.get("state", "INIT"), 0)
        vips = [v for v in (_vip(x) for x in i.get("vips", [])) if v is not None]
        for addr, dev in vips or [("", i.get("interface", ""))]:
            out.append("keepalived_vrrp_state" + _labels(
                iname=i["name"], intf=dev, vrid=i.get("vrid", 0), ip_address=addr) + f" {state}")
    _head(out, "keepalived_vrrp_excluded_state", "gauge", "State of vrrp with excluded VIP")
    for i in instances:
        state = STATE_VALUE.get(i.get("state", "INIT"), 0)
        for v in (_vip(x) for x in i.get("excluded_vips", [])):
            if v is not None:
                out.append("keepalived_vrrp_excluded_state" + _labels(
                    iname=i["name"], intf=v[1], vrid=i.get("vrid", 0), ip_address=v[0])
                    + f" {state}")
    mehdy = [(i, _labels(iname=i["name"], intf=i.get("interface", ""), vrid=i.get("vrid", 0)))
             for i in instances]
    gen2 = [(i, _labels(name=i["name"], intf=i.get("interface", ""), vrid=i.get("vrid", 0),
                        state=i.get("state", "") if i.get("state") in STATE_VALUE else ""))
            for i in instances]
    for key, metric, help_text in COUNTERS:
        _head(out, metric, "counter", help_text)
        out += [f"{metric}{lab} {i.get('stats', {}).get(key, 0)}" for i, lab in mehdy]
        name = f"keepalived_vrrp_{key}"
        _head(out, name, "counter", help_text)
        out += [f"{name}{lab} {i.get('stats', {}).get(key, 0)}" for i, lab in gen2]
    _head(out, "keepalived_gratuitous_arp_delay_total", "counter", "Gratuitous ARP delay")
    out += [f"keepalived_gratuitous_arp_delay_total{lab} {i.get('garp_delay', 0):g}"
            for i, lab in mehdy]
    scripts: Sequence[Mapping[str, str]] = extra.get("scripts", ())
    _head(out, "keepalived_script_status", "gauge", "Tracker Script Status")
    out += [f"keepalived_script_status{_labels(name=s['name'])} {SCRIPT_STATUS.get(s['status'], 0)}"
            for s in scripts]
    _head(out, "keepalived_script_state", "gauge", "Tracker Script State")
    out += [f"keepalived_script_state{_labels(name=s['name'])} {SCRIPT_STATE.get(s['state'], 0)}"
            for s in scripts]
    _head(out, "keepalived_vrrp_effective_priority", "gauge",
          "keepalived-py: the priority the instance advertises")
    for i in instances:
        out.append("keepalived_vrrp_effective_priority" + _labels(iname=i["name"])
                   + f" {i.get('effective_priority', i.get('priority', 0))}")
    transitions: Mapping[tuple[str, str], int] = extra.get("transitions", {})
    _head(out, "keepalived_py_vrrp_transitions_total", "counter",
          "keepalived-py: state transitions, by the state entered")
    for (iname, new), n in sorted(transitions.items()):
        out.append("keepalived_py_vrrp_transitions_total" + _labels(iname=iname, to=new) + f" {n}")
    failovers: Mapping[str, Sequence[float]] = extra.get("failover_seconds", {})
    _head(out, "keepalived_py_vrrp_failover_seconds", "histogram",
          "keepalived-py: time from the last advert heard to taking over as master")
    for iname, obs in sorted(failovers.items()):
        for b in FAILOVER_BUCKETS:
            out.append("keepalived_py_vrrp_failover_seconds_bucket"
                       + _labels(iname=iname, le=f"{b:g}") + f" {sum(1 for o in obs if o <= b)}")
        out.append("keepalived_py_vrrp_failover_seconds_bucket" + _labels(iname=iname, le="+Inf")
                   + f" {len(obs)}")
        out.append("keepalived_py_vrrp_failover_seconds_sum" + _labels(iname=iname) + f" {sum(obs):.6f}")
        out.append("keepalived_py_vrrp_failover_seconds_count" + _labels(iname=iname) + f" {len(obs)}")
    return "\n".join(out) + "\n"


def render_checker(servers: Sequence[Mapping[str, Any]]) -> str:
    """The healthcheck child's part: its virtual and real servers (check.daemon snapshot())."""
    out: list[str] = []
    vss = [(v, _labels(vs=f"{v['address']}:{v['port']}")) for v in servers]
    rows = [(r, _labels(vs=f"{v['address']}:{v['port']}", rs=f"{r['address']}:{r['port']}"))
            for v in servers for r in v["real_servers"]]
    _head(out, "keepalived_py_realserver_up", "gauge", "keepalived-py: the real server passes its checks")
    out += [f"keepalived_py_realserver_up{lab} {int(r['up'])}" for r, lab in rows]
    _head(out, "keepalived_py_realserver_weight", "gauge", "keepalived-py: the real server's weight")
    out += [f"keepalived_py_realserver_weight{lab} {r.get('weight', 0)}" for r, lab in rows]
    _head(out, "keepalived_py_virtualserver_sorry", "gauge",
          "keepalived-py: the virtual server is served by its sorry server")
    out += [f"keepalived_py_virtualserver_sorry{lab} {int(bool(v.get('sorry')))}" for v, lab in vss]
    _head(out, "keepalived_py_virtualserver_backends", "gauge",
          "keepalived-py: servers the virtual server sends traffic to")
    out += [f"keepalived_py_virtualserver_backends{lab} {len(v.get('backends', ()))}" for v, lab in vss]
    return "\n".join(out) + "\n"


def combine(parts: Mapping[str, str | None]) -> str:
    """A whole scrape from the children's parts ({role: text, or None when that child did not
    answer}). keepalived_up is 1 when every child asked answered (the exporters set it to 1 when
    keepalived's data could be read)."""
    out: list[str] = []
    _head(out, "keepalived_up", "gauge", "Status")
    out.append(f"keepalived_up {int(all(t is not None for t in parts.values()))}")
    _head(out, "keepalived_py_child_up", "gauge", "keepalived-py: the child answered this scrape")
    out += [f"keepalived_py_child_up{_labels(role=role)} {int(t is not None)}"
            for role, t in sorted(parts.items())]
    return "\n".join(out) + "\n" + "".join(t for _, t in sorted(parts.items()) if t)


MAX_CLIENTS = 64             # connections served at once; more are closed unread
MAX_HEAD = 8192              # bytes of request line + headers


class SharedRender:
    """One render for a burst of scrapes: requests that arrive while a render is under way
    wait for it and get the same text (each render asks every child over its control
    socket; a thousand clients at once cost one)."""

    def __init__(self, render_text: Callable[[], str | Awaitable[str]]) -> None:
        self.render_text = render_text
        self.renders = 0
        self._pending: asyncio.Future[str] | None = None

    async def __call__(self) -> str:
        if self._pending is not None:
            return await asyncio.shield(self._pending)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending = fut
        try:
            self.renders += 1
            text = self.render_text()
            if inspect.isawaitable(text):
                text = await text
            fut.set_result(text)
            return text
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()               # retrieved: no "never retrieved" warning
            raise
        finally:
            self._pending = None


async def serve(address: str, render_text: Callable[[], str | Awaitable[str]]
                ) -> CappedServer:
    """A minimal HTTP endpoint: GET /metrics -> the Prometheus text. `address` is HOST:PORT
    (use a loopback address) or unix:PATH. Anything else gets 404; a slow client only ever
    holds its own connection: at most MAX_CLIENTS at once (more are closed unread), a request
    head of MAX_HEAD bytes within 5 s, an answer not read within 5 s aborted. Concurrent
    scrapes share one render (SharedRender)."""
    shared = SharedRender(render_text)
    clients = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal clients
        if clients >= MAX_CLIENTS:
            writer.transport.abort()
            return
        clients += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            line = head.split(b"\r\n", 1)[0].split()
            if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/metrics":
                body = (await shared()).encode()
                status = b"200 OK"
                ctype = b"text/plain; version=0.0.4"
            else:
                body, status, ctype = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(b"HTTP/1.0 " + status + b"\r\nContent-Type: " + ctype +
                         b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await asyncio.wait_for(writer.drain(), 5.0)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):
            pass
        finally:
            clients -= 1
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()          # the client is not reading: drop it
            else:
                writer.close()

    # the cap is enforced as connections are accepted (obs/gate.py); the check in `client`
    # stays as a second guard
    from keepalived_py.obs.gate import CappedServer, listen_tcp, listen_unix
    if address.startswith("unix:"):
        socks = [listen_unix(address[5:])]
    else:
        host, _, port = address.rpartition(":")
        socks = listen_tcp(host.strip("[]") or "127.0.0.1", int(port))
    return CappedServer(socks, client, MAX_CLIENTS, limit=MAX_HEAD)
