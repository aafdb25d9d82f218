"""Checker logic (pure) and the checkers against hostile local servers on loopback."""
from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import time

import pytest

from keepalived_py.check.checkers import dns_check, http_check, smtp_check, tcp_check, udp_check
from keepalived_py.check.ipvs import dest_fields, service_fields
from keepalived_py.check.nft import chain_rule, match
from keepalived_py.check.realserver import CheckState, Target, targets
from keepalived_py.config.model_lvs import Checker, HttpUrl, RealServer, VirtualServer

A = ipaddress.ip_address


def vs(*rs: RealServer, **kw: object) -> VirtualServer:
    return VirtualServer(address=A("192.0.2.100"), port=80, real_servers=rs, **kw)  # type: ignore[arg-type]


def rs(host: int, weight: int = 1) -> RealServer:
    return RealServer(address=A(f"198.51.100.{host}"), port=8080, weight=weight)


def test_check_state_retry_then_down_then_up() -> None:
    s = CheckState(delay_loop=6, retry=2, delay_before_retry=1, timeout=1)
    assert s.result(False, 0.0) is None and s.next_at == 1.0
    assert s.result(False, 1.0) is None and s.next_at == 2.0
    assert s.result(False, 2.0) is False and s.next_at == 8.0     # out after the retries
    assert s.result(False, 8.0) is None
    assert s.result(True, 9.0) is True and s.next_at == 15.0
    alpha = CheckState.from_config(Checker(kind="TCP_CHECK", alpha=True), vs(), 0.0)
    assert alpha.up is False


def test_targets_weights_sorry_and_quorum() -> None:
    v = vs(rs(11, 2), rs(12, 1), sorry_server=RealServer(address=A("198.51.100.13"), port=8080))
    assert targets(v, {0: True, 1: True}) == ((Target("198.51.100.11", 8080, 2),
                                                Target("198.51.100.12", 8080, 1)), False)
    assert targets(v, {0: False, 1: True})[0] == (Target("198.51.100.12", 8080, 1),)
    assert targets(v, {0: False, 1: False}) == ((Target("198.51.100.13", 8080, 1),), True)
    q = vs(rs(11, 2), rs(12, 1), quorum=3, sorry_server=RealServer(address=A("198.51.100.13"),
                                                                     port=8080))
    assert targets(q, {0: True, 1: False})[1] is True               # 2 < quorum 3: sorry
    inhibited = vs(rs(11, 0), rs(12, 1))
    assert targets(inhibited, {0: True, 1: True})[0] == (Target("198.51.100.12", 8080, 1),)


def test_nft_rule_is_weighted_numgen_dnat() -> None:
    v = vs(rs(11, 2), rs(12, 1), protocol="TCP")
    rule = chain_rule(v, [Target("198.51.100.11", 8080, 2), Target("198.51.100.12", 8080, 1)])
    assert rule == ("meta l4proto tcp dnat ip to numgen random mod 3 map "
                    "{ 0-1 : 198.51.100.11 . 8080, 2 : 198.51.100.12 . 8080 }")
    assert match(v) == ["ip daddr 192.0.2.100 tcp dport 80"]
    assert chain_rule(v, []) is None


def test_ipvs_messages_for_a_service_and_destination() -> None:
    v = vs(rs(11, 3), protocol="UDP", lvs_sched="wrr", persistence_timeout=300)
    f = service_fields(v)
    assert f["addr"] == "192.0.2.100" and f["port"] == 80 and f["protocol"] == 17
    assert f["sched_name"] == "wrr" and f["flags"]["flags"] & 1 and f["timeout"] == 300
    d = dest_fields(Target("198.51.100.11", 8080, 3), "DR")
    assert d == {"addr": "198.51.100.11", "port": 8080, "weight": 3, "fwd_method": 3}
    from keepalived_py.check.ipvs import dest_of, service_of
    nla = dict(service_of(v).dump_nla()["attrs"])
    assert nla["IPVS_SVC_ATTR_SCHED_NAME"] == "wrr" and nla["IPVS_SVC_ATTR_PROTOCOL"] == 17
    assert dict(dest_of(Target("198.51.100.11", 8080, 3), "NAT").dump_nla()["attrs"])[
        "IPVS_DEST_ATTR_WEIGHT"] == 3
    fw = service_fields(VirtualServer(fwmark=7))
    assert fw["fwmark"] == 7 and "addr" not in fw


# -- hostile servers on loopback -------------------------------------------------------------
async def serve(handler: object) -> tuple[asyncio.AbstractServer, int]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    return srv, srv.sockets[0].getsockname()[1]


URL = HttpUrl(path="/", status_code=((200, 200),))
CH = Checker(kind="HTTP_GET")


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "response", "ok"), [
    ("good", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
    ("bad status", b"HTTP/1.0 503 Busy\r\n\r\n", False),
    ("garbage", b"\x00\xff\xfe garbage \r\n\r\n", False),
    ("endless headers", b"HTTP/1.0 200 OK\r\n" + b"X: " + b"a" * 200000, False),
])
def test_http_check_against_responses(name: str, response: bytes, ok: bool) -> None:
    async def scenario() -> tuple[bool, str]:
        async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.readuntil(b"\r\n\r\n")
            w.write(response)
            await w.drain()
            w.close()
        srv, port = await serve(h)
        try:
            return await http_check("127.0.0.1", port, CH, URL, 2.0)
        finally:
            srv.close()
    got, why = run(scenario())  # type: ignore[misc]
    assert got is ok, why


def test_http_check_trickle_never_answering_and_megabytes_stay_bounded() -> None:
    async def scenario() -> list[tuple[bool, str, float]]:
        async def trickle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            for _ in range(100):
                w.write(b"H")
                await w.drain()
                await asyncio.sleep(0.1)

        async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(30)

        async def huge(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.0 200 OK\r\n\r\n")
            try:
                for _ in range(2000):
                    w.write(b"x" * 65536)
                    await w.drain()
            except ConnectionError:
                pass
        out = []
        digest_url = HttpUrl(path="/", digest=hashlib.md5(b"never").hexdigest())
        for h, url in ((trickle, URL), (silent, URL), (huge, digest_url)):
            srv, port = await serve(h)
            t0 = time.monotonic()
            ok, why = await http_check("127.0.0.1", port, CH, url, 1.0)
            out.append((ok, why, time.monotonic() - t0))
            srv.close()
        return out
    for ok, why, took in run(scenario()):  # type: ignore[attr-defined]
        assert not ok and took < 2.5, (why, took)


def test_tcp_smtp_udp_dns_checks() -> None:
    async def scenario() -> None:
        async def smtp(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"220 hello\r\n")
            await r.readline()
            w.write(b"250 ok\r\n")
            await w.drain()
            await r.readline()
            w.close()
        srv, port = await serve(smtp)
        assert (await tcp_check("127.0.0.1", port, 1.0))[0]
        assert (await smtp_check("127.0.0.1", port, "me", 1.0))[0]
        srv.close()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        cport = closed.getsockname()[1]
        closed.close()
        assert not (await tcp_check("127.0.0.1", cport, 1.0))[0]
        assert not (await udp_check("127.0.0.1", cport, b"x", False, 0.5))[0]   # ICMP refused
        loop = asyncio.get_running_loop()

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, t: asyncio.BaseTransport) -> None:
                self.t = t

            def datagram_received(self, data: bytes, addr: object) -> None:
                # a DNS answer: same id, QR set, one answer
                self.t.sendto(data[:2] + b"\x81\x80\x00\x01\x00\x01" + data[8:], addr)  # type: ignore[attr-defined]
        t, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        uport = t.get_extra_info("sockname")[1]
        assert (await udp_check("127.0.0.1", uport, b"ping", True, 1.0))[0]
        assert (await dns_check("127.0.0.1", uport, "example.org", "A", 1.0))[0]
        t.close()
    run(scenario())


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="ICMP raw sockets need root")
def test_ping_check_v4_and_v6_on_loopback() -> None:
    from keepalived_py.check.checkers import ping_check
    assert run(ping_check("127.0.0.1", 1.0))[0]  # type: ignore[index]
    if socket.has_ipv6:
        ok, why = run(ping_check("::1", 1.0))  # type: ignore[misc]
        assert ok, why
    assert not run(ping_check("192.0.2.254", 0.3))[0]  # type: ignore[index]


def test_genhash_prints_the_digest_checkers_compare(capsys: pytest.CaptureFixture[str]) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from keepalived_py.check.genhash import main

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello digest")

        def log_message(self, *a: object) -> None:
            pass
    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        assert main(["-s", "127.0.0.1", "-p", str(srv.server_port), "-u", "/"]) == 0
        digest = hashlib.md5(b"hello digest").hexdigest()
        assert capsys.readouterr().out.strip() == f"MD5SUM = {digest}"
        url = HttpUrl(path="/", digest=digest)
        assert run(http_check("127.0.0.1", srv.server_port, CH, url, 2.0))[0]  # type: ignore[index]
    finally:
        srv.shutdown()


def test_misc_check_that_hangs_fails_on_time_and_exit_codes_count() -> None:
    from keepalived_py.check.checkers import run_checker
    from keepalived_py.config.model import Script

    def misc(cmd: str, timeout: float) -> Checker:
        return Checker(kind="MISC_CHECK", misc_path=Script(argv=("/bin/sh", "-c", cmd), text=cmd),
                       misc_timeout=timeout)
    t0 = time.monotonic()
    ok, why = run(run_checker(misc("sleep 30", 0.3), "127.0.0.1", 0, 1.0))  # type: ignore[misc]
    assert not ok and why == "timed_out" and time.monotonic() - t0 < 3
    assert run(run_checker(misc("exit 0", 1.0), "127.0.0.1", 0, 1.0))[0]  # type: ignore[index]
    assert not run(run_checker(misc("exit 1", 1.0), "127.0.0.1", 0, 1.0))[0]  # type: ignore[index]


def test_quorum_hysteresis_is_stateful() -> None:
    from keepalived_py.check.realserver import quorum_up
    v = vs(rs(11, 1), rs(12, 1), rs(13, 1), quorum=2, hysteresis=1)
    assert quorum_up(1, v, was_up=True) is True       # stays up down to quorum - hysteresis
    assert quorum_up(0, v, was_up=True) is False
    assert quorum_up(2, v, was_up=False) is False     # needs quorum + hysteresis to come back
    assert quorum_up(3, v, was_up=False) is True


def test_misc_dynamic_weight_from_exit_status() -> None:
    from keepalived_py.check.checkers import misc_check
    from keepalived_py.config.model import Script
    ch = Checker(kind="MISC_CHECK", misc_dynamic=True, misc_timeout=2.0,
                 misc_path=Script(argv=("/bin/sh", "-c", "exit 7"), text="exit 7"))
    assert run(misc_check(ch, 2.0)) == (True, "exit 7: weight 5", 5)
    w = targets(vs(rs(11, 1), rs(12, 1)), {0: True, 1: True}, {0: 5})
    assert w[0][0].weight == 5


def test_group_entries_become_nft_matches() -> None:
    from keepalived_py.config.model_lvs import VirtualServerGroup, VsgEntry
    g = VirtualServerGroup(name="G", entries=(
        VsgEntry(address=A("192.0.2.100"), last=A("192.0.2.110"), port=80),
        VsgEntry(fwmark=7)))
    v = VirtualServer(group="G", protocol="TCP")
    assert match(v, {"G": g}) == ["ip daddr 192.0.2.100-192.0.2.110 tcp dport 80",
                                  "meta mark 7"]


def test_reset_and_bad_tls_are_failed_checks() -> None:
    async def scenario() -> list[tuple[bool, str]]:
        async def reset(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            w.transport.abort()

        async def not_tls(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"this is not a TLS server\r\n" * 100)
            await w.drain()
            await asyncio.sleep(2)
        out = []
        for h, kind in ((reset, "HTTP_GET"), (not_tls, "SSL_GET")):
            srv, port = await serve(h)
            ch = Checker(kind=kind, urls=(URL,))
            out.append(await http_check("127.0.0.1", port, ch, URL, 1.5, kind == "SSL_GET"))
            srv.close()
        return out
    for ok, why in run(scenario()):  # type: ignore[attr-defined]
        assert not ok, why


def test_dns_query_labels_are_counted_in_bytes() -> None:
    from keepalived_py.check.checkers import dns_query
    q = dns_query(0x1234, "www.exämple.org.", "A")
    assert q[:2] == b"\x12\x34"
    assert q[12:] == b"\x03www\x08ex\xc3\xa4mple\x03org\x00\x00\x01\x00\x01"
    with pytest.raises(ValueError, match="63 at most"):
        dns_query(1, "a" * 64 + ".org", "A")
    with pytest.raises(ValueError, match="255 at most"):
        dns_query(1, ".".join(["a" * 60] * 5), "A")
    r = asyncio.run(dns_check("127.0.0.1", 9, "b" * 70 + ".org", "A", 0.5))
    assert r == (False, r[1]) and r[1].startswith("invalid DNS name")


def test_tls_context_is_built_once_per_ssl_configuration() -> None:
    from keepalived_py.check import checkers
    a = checkers.insecure_tls()
    t = time.perf_counter()
    for _ in range(100):
        assert checkers.insecure_tls() is a
    assert time.perf_counter() - t < 0.05
