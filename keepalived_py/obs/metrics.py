"""Prometheus text exposition of the daemon's state: the metrics keepalived's exporters expose
(same names and labels, so existing dashboards keep working) plus keepalived-py's own
state-transition counters and failover-time histograms. Pure: snapshots in, text out."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keepalived_py.obs.dumps import InstanceSnapshot

# exporter metric -> stats key (keepalived_exporter naming)
COUNTERS = (
    ("keepalived_advertisements_received_total", "advert_rcvd"),
    ("keepalived_advertisements_sent_total", "advert_sent"),
    ("keepalived_become_master_total", "become_master"),
    ("keepalived_release_master_total", "release_master"),
    ("keepalived_packet_length_errors_total", "packet_len_err"),
    ("keepalived_advertisements_interval_errors_total", "advert_interval_err"),
    ("keepalived_ip_ttl_errors_total", "ip_ttl_err"),
    ("keepalived_invalid_type_received_total", "invalid_type_rcvd"),
    ("keepalived_address_list_errors_total", "addr_list_err"),
    ("keepalived_authentication_invalid_total", "invalid_authtype"),
    ("keepalived_authentication_mismatch_total", "authtype_mismatch"),
    ("keepalived_authentication_failure_total", "auth_failure"),
    ("keepalived_priority_zero_received_total", "pri_zero_rcvd"),
    ("keepalived_priority_zero_sent_total", "pri_zero_sent"),
)
STATE_VALUE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
FAILOVER_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


def _esc(v: object) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kv: object) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kv.items()) + "}"


def render(instances: Sequence[InstanceSnapshot], extra: Mapping[str, Any] | None = None) -> str:
    """The whole scrape. `extra` may carry 'transitions' {(iname, new_state): n} and
    'failover_seconds' {iname: [observations]}."""
    out: list[str] = ["# TYPE keepalived_up gauge", "keepalived_up 1"]
    out.append("# TYPE keepalived_vrrp_state gauge")
    for i in instances:
        state = STATE_VALUE.get(i.get("state", "INIT"), 0)
        for vip in i.get("vips", []) or [""]:
            addr = vip.split()[0] if vip else ""
            out.append("keepalived_vrrp_state" + _labels(
                iname=i["name"], intf=i.get("interface", ""), vrid=i.get("vrid", 0),
                ip_address=addr) + f" {state}")
    common = [(i, _labels(iname=i["name"], intf=i.get("interface", ""), vrid=i.get("vrid", 0)))
              for i in instances]
    for metric, key in COUNTERS:
        out.append(f"# TYPE {metric} counter")
        out += [f"{metric}{lab} {i.get('stats', {}).get(key, 0)}" for i, lab in common]
    out.append("# TYPE keepalived_gratuitous_arp_delay_total counter")
    out += [f"keepalived_gratuitous_arp_delay_total{lab} {i.get('garp_delay', 0):g}"
            for i, lab in common]
    out.append("# TYPE keepalived_vrrp_effective_priority gauge")
    for i in instances:
        out.append("keepalived_vrrp_effective_priority" + _labels(iname=i["name"])
                   + f" {i.get('effective_priority', i.get('priority', 0))}")
    extra = extra or {}
    transitions: Mapping[tuple[str, str], int] = extra.get("transitions", {})
    out.append("# TYPE keepalived_py_vrrp_transitions_total counter")
    for (iname, new), n in sorted(transitions.items()):
        out.append("keepalived_py_vrrp_transitions_total" + _labels(iname=iname, to=new) + f" {n}")
    failovers: Mapping[str, Sequence[float]] = extra.get("failover_seconds", {})
    out.append("# TYPE keepalived_py_vrrp_failover_seconds histogram")
    for iname, obs in sorted(failovers.items()):
        for b in FAILOVER_BUCKETS:
            out.append("keepalived_py_vrrp_failover_seconds_bucket"
                       + _labels(iname=iname, le=f"{b:g}") + f" {sum(1 for o in obs if o <= b)}")
        out.append("keepalived_py_vrrp_failover_seconds_bucket" + _labels(iname=iname, le="+Inf")
                   + f" {len(obs)}")
        out.append("keepalived_py_vrrp_failover_seconds_sum" + _labels(iname=iname) + f" {sum(obs):.6f}")
        out.append("keepalived_py_vrrp_failover_seconds_count" + _labels(iname=iname) + f" {len(obs)}")
    return "\n".join(out) + "\n"


async def serve(address: str, render_text: Callable[[], str]) -> asyncio.AbstractServer:
    """A minimal HTTP endpoint: GET /metrics -> the Prometheus text. `address` is HOST:PORT
    (use a loopback address) or unix:PATH. Anything else gets 404; a slow client only ever
    holds its own connection."""
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            line = head.split(b"\r\n", 1)[0].split()
            if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/metrics":
                body = render_text().encode()
                status = b"200 OK"
                ctype = b"text/plain; version=0.0.4"
            else:
                body, status, ctype = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(b"HTTP/1.0 " + status + b"\r\nContent-Type: " + ctype +
                         b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await asyncio.wait_for(writer.drain(), 5.0)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()

    if address.startswith("unix:"):
        return await asyncio.start_unix_server(client, path=address[5:])
    host, _, port = address.rpartition(":")
    return await asyncio.start_server(client, host.strip("[]") or "127.0.0.1", int(port))
