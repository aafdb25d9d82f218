"""The checkers' network side (asyncio; nothing here blocks the loop).

Every check is bounded: a connect and a whole exchange each have `timeout`; an HTTP response
may not exceed MAX_HEADER bytes of headers or MAX_BODY bytes of body (a server that answers
with megabytes, endless headers or trickles bytes is a failed check, never a stall or a
crash — keepalived had a heap overflow here, CVE-2018-19115). Each returns (ok, reason).
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import socket
import ssl
from collections.abc import Coroutine
from typing import Any

from keepalived_py.config.model_lvs import Checker, HttpUrl, SslConfig

MAX_HEADER = 64 * 1024
MAX_BODY = 4 * 1024 * 1024

Result = tuple[bool, str]


def source_socket(host: str, bindto: str | None = None, bind_port: int | None = None,
                  bind_if: str | None = None) -> socket.socket:
    """A non-blocking TCP socket towards `host` with the checker's source options: `bindto`
    (source address), `bind_port` (source port), `bind_if` (SO_BINDTODEVICE, as keepalived's
    for a link-local address). OSError when the kernel refuses one of them."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        if bind_if:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, bind_if.encode())
        if bindto or bind_port:
            if bind_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((bindto or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), bind_port or 0))
    except OSError:
        s.close()
        raise
    return s


def http_request(path: str, protocol: str | None, vhost: str | None, host: str,
                 port: int) -> bytes:
    """keepalived's GET request (check_http.c): HTTP/1.0 by default; `http_protocol 1.1` and
    `1.0C` add "Connection: close"; Host is the virtualhost, else address:port ([v6]:port)."""
    minor = 1 if protocol == "1.1" else 0
    close = "Connection: close\r\n" if protocol in ("1.1", "1.0C", "1.0c") else ""
    if vhost:
        where = vhost
    else:
        where = (f"[{host}]" if ":" in host else host) + f":{port}"
    return (f"GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}"
            f"Host: {where}\r\n\r\n").encode()


async def tcp_check(host: str, port: int, timeout: float, bindto: str | None = None,
                    bind_port: int | None = None, bind_if: str | None = None) -> Result:
    """Connect and close: the cheapest check (a raw non-blocking socket, no stream objects)."""
    loop = asyncio.get_running_loop()
    try:
        s = source_socket(host, bindto, bind_port, bind_if)
    except OSError as e:
        return False, f"bind failed: {e.strerror or e}"
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(s, (host, port))
    except TimeoutError:
        return False, "connect timeout"
    except OSError as e:
        return False, f"connect failed: {e.strerror or e}"
    finally:
        s.close()
    return True, "connected"


async def read_body(reader: asyncio.StreamReader) -> bytes | None:
    """The rest of a response, at most MAX_BODY bytes; None when it is longer."""
    body = bytearray()
    while len(body) <= MAX_BODY:
        chunk = await reader.read(65536)
        if not chunk:
            return bytes(body)
        body += chunk
    return None


def insecure_tls(config: SslConfig | None = None) -> ssl.SSLContext:
    """keepalived's SSL_GET/genhash do not verify the server's certificate; the SSL block's
    certificate and key, when given, are presented as the client's. One context per SSL
    configuration, built once: loading the CA store costs ~30 ms, far too much per check.
    The daemon builds it when it loads a configuration and hands it to each check."""
    if config is None:
        return _tls_context(None, None, None)
    return _tls_context(config.certificate, config.key, config.password)


@functools.lru_cache(maxsize=2)        # a reload with another SSL block: the old one goes
def _tls_context(certificate: str | None, key: str | None, password: str | None
                 ) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if certificate:
        try:
            ctx.load_cert_chain(certificate, key or None, password or None)
        except (OSError, ssl.SSLError):
            pass                      # reported once at load (check.ssl.invalid)
    return ctx


def _status_ok(code: int, url: HttpUrl) -> bool:
    if not url.status_code:
        return 200 <= code <= 299
    return any(lo <= code <= hi for lo, hi in url.status_code)


async def http_check(host: str, port: int, ch: Checker, url: HttpUrl, timeout: float,
                     use_ssl: bool = False, tls: ssl.SSLContext | None = None) -> Result:
    """HTTP_GET / SSL_GET of one url; `tls`: the client context (insecure_tls) for SSL_GET."""
    vhost = url.virtualhost or ch.virtualhost       # (the real/virtual server's: build_lvs)
    ctx = (tls or insecure_tls()) if use_ssl else None

    async def exchange() -> Result:
        s = source_socket(host, str(ch.bindto) if ch.bindto else None, ch.bind_port,
                          ch.bind_if)
        try:
            await asyncio.get_running_loop().sock_connect(s, (host, port))
        except BaseException:
            s.close()
            raise
        reader, writer = await asyncio.open_connection(
            sock=s, ssl=ctx, limit=MAX_HEADER,
            server_hostname=(vhost or host) if (use_ssl and ch.enable_sni) else
            ("" if use_ssl else None))
        try:
            writer.write(http_request(url.path, ch.http_protocol, vhost, host, port))
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                return False, "headers too long"
            except asyncio.IncompleteReadError:
                return False, "connection closed before the end of the headers"
            status = head.split(b"\r\n", 1)[0].split()
            if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
                return False, "not an HTTP response"
            code = int(status[1])
            if not _status_ok(code, url):
                return False, f"HTTP status {code}"
            if url.digest is None and url.regex is None:
                return True, f"HTTP status {code}"
            body = await read_body(reader)
            if body is None:
                return False, "body too long"
            if url.digest is not None:
                got = hashlib.md5(bytes(body), usedforsecurity=False).hexdigest()
                if got != url.digest:
                    return False, f"digest mismatch {got}"
            if url.regex is not None:
                found = re.search(url.regex.encode(), bytes(body)) is not None
                if found == url.regex_no_match:
                    return False, "regex " + ("matched" if found else "did not match")
            return True, f"HTTP status {code}"
        finally:
            writer.close()

    return await _bounded(exchange(), timeout, "connect failed")


async def _bounded(exchange: Coroutine[Any, Any, Result], timeout: float, what: str) -> Result:
    """Run one exchange within `timeout`; every way it can go wrong is a failed check."""
    try:
        return await asyncio.wait_for(exchange, timeout)
    except TimeoutError:
        return False, "timeout"
    except ssl.SSLError as e:
        return False, f"TLS error: {e.reason or e}"
    except (OSError, ValueError, asyncio.LimitOverrunError) as e:
        return False, f"{what}: {getattr(e, 'strerror', None) or e}"


async def smtp_check(host: str, port: int, helo: str, timeout: float) -> Result:
    """Banner 220, HELO -> 250, QUIT (keepalived's SMTP_CHECK)."""
    async def exchange() -> Result:
        reader, writer = await asyncio.open_connection(host, port, limit=8192)
        try:
            banner = await reader.readline()
            if not banner.startswith(b"220"):
                return False, f"bad banner {banner[:40]!r}"
            writer.write(f"HELO {helo}\r\n".encode())
            await writer.drain()
            reply = await reader.readline()
            if not reply.startswith(b"250"):
                return False, f"HELO refused {reply[:40]!r}"
            writer.write(b"QUIT\r\n")
            await writer.drain()
            return True, "SMTP ok"
        finally:
            writer.close()
    return await _bounded(exchange(), timeout, "SMTP failed")


DNS_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _udp_exchange(host: str, port: int, payload: bytes, timeout: float) -> bytes | None:
    """Send one datagram; the reply, None on timeout. Raises OSError on ICMP unreachable."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Datagram, remote_addr=(host, port))
    try:
        transport.sendto(payload)
        try:
            return await asyncio.wait_for(proto.reply, timeout)
        except TimeoutError:
            return None
    finally:
        transport.close()


def dns_query(ident: int, qname: str, qtype: str) -> bytes:
    """A DNS query (RFC 1035 §4.1) for `qname`. Labels are counted in bytes, at most 63
    each, the whole name at most 255 bytes; raises ValueError otherwise."""
    import struct
    q = struct.pack("!HHHHHH", ident & 0xFFFF, 0x0100, 1, 0, 0, 0)
    name = b""
    for label in qname.strip(".").split("."):
        if not label:
            continue
        raw = label.encode("utf-8")
        if len(raw) > 63:
            raise ValueError(f"label {label[:20]!r}... is {len(raw)} bytes (63 at most)")
        name += bytes([len(raw)]) + raw
    if len(name) + 1 > 255:
        raise ValueError(f"name is {len(name) + 1} bytes (255 at most)")
    return q + name + b"\0" + struct.pack("!HH", DNS_TYPES.get(qtype.upper(), 1), 1)


async def dns_check(host: str, port: int, qname: str, qtype: str, timeout: float) -> Result:
    import os
    import struct
    ident = int.from_bytes(os.urandom(2), "big")
    try:
        q = dns_query(ident, qname, qtype)
    except ValueError as e:
        return False, f"invalid DNS name: {e}"
    try:
        reply = await _udp_exchange(host, port, q, timeout)
    except OSError as e:
        return False, f"DNS unreachable: {e.strerror or e}"
    if reply is None:
        return False, "timeout"
    if len(reply) < 12:
        return False, "short DNS reply"
    rid, flags, _qd, an = struct.unpack_from("!HHHH", reply)
    if rid != ident or not flags & 0x8000:
        return False, "not our DNS reply"
    if flags & 0x000F:
        return False, f"DNS rcode {flags & 0x000F}"
    return (True, "DNS answer") if an else (False, "DNS: no answer")


async def udp_check(host: str, port: int, payload: bytes, require_reply: bool,
                    timeout: float) -> Result:
    try:
        reply = await _udp_exchange(host, port, payload or b"", timeout)
    except OSError as e:
        return False, f"UDP unreachable: {e.strerror or e}"
    if reply is None:
        return (False, "no reply") if require_reply else (True, "no ICMP error")
    return True, "reply"


async def ping_check(host: str, timeout: float) -> Result:
    """ICMP / ICMPv6 echo on a raw socket (v4 and v6)."""
    import ipaddress
    import os
    import struct

    from keepalived_py.vrrp.packet import checksum
    v6 = ipaddress.ip_address(host).version == 6
    ident, seq = os.getpid() & 0xFFFF, int.from_bytes(os.urandom(2), "big")
    kind = 128 if v6 else 8
    body = os.urandom(16)
    pkt = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + body
    if not v6:
        pkt = pkt[:2] + struct.pack("!H", checksum(pkt)) + pkt[4:]
    loop = asyncio.get_running_loop()
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    try:
        s = socket.socket(fam, socket.SOCK_RAW, proto)
    except OSError as e:
        return False, f"no raw ICMP socket: {e.strerror}"
    s.setblocking(False)
    try:
        await loop.sock_sendto(s, pkt, (host, 0))
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(loop.sock_recv(s, 2048), end - loop.time())
            except TimeoutError:
                break
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            if len(icmp) >= 8:
                t, _c, _s, rid, rseq = struct.unpack_from("!BBHHH", icmp)
                if t == (129 if v6 else 0) and rseq == seq and (v6 or rid == ident) \
                        and icmp[8:24] == body:
                    return True, "echo reply"
        return False, "no echo reply"
    except OSError as e:
        return False, f"ping failed: {e.strerror or e}"
    finally:
        s.close()


async def misc_check(ch: Checker, timeout: float) -> tuple[bool, str, int | None]:
    """MISC_CHECK: exit 0 up, 1 down; with misc_dynamic an exit status 2..255 is up with
    weight status - 2 (keepalived's rule). Returns (ok, reason, dynamic weight or None)."""
    from keepalived_py.track.script import run_command
    out = await run_command(ch.misc_path, ch.misc_timeout or timeout)  # type: ignore[arg-type]
    if ch.misc_dynamic and out.code is not None and out.code >= 2:
        return True, f"exit {out.code}: weight {out.code - 2}", out.code - 2
    return out.success, out.reason or out.exit_type, None


async def run_checker(ch: Checker, host: str, port: int, timeout: float,
                      files: dict[str, str] | None = None,
                      tls: ssl.SSLContext | None = None) -> Result:
    """One check of any implemented kind. `files`: track_file names -> paths (FILE_CHECK);
    `tls`: the SSL block's client context (insecure_tls(config.ssl)) for SSL_GET."""
    target = str(ch.connect_ip) if ch.connect_ip else host
    tport = ch.connect_port or port
    bindto = str(ch.bindto) if ch.bindto else None
    if ch.kind == "TCP_CHECK":
        return await tcp_check(target, tport, timeout, bindto, ch.bind_port, ch.bind_if)
    if ch.kind in ("HTTP_GET", "SSL_GET"):
        for url in ch.urls:
            ok, why = await http_check(target, tport, ch, url, timeout, ch.kind == "SSL_GET",
                                       tls)
            if not ok:
                return False, f"{url.path}: {why}"
        return True, "all urls ok"
    if ch.kind == "MISC_CHECK":
        ok, reason, _ = await misc_check(ch, timeout)
        return ok, reason
    if ch.kind == "SMTP_CHECK":
        return await smtp_check(target, ch.connect_port or 25, ch.helo_name or "keepalived-py",
                                timeout)
    if ch.kind == "DNS_CHECK":
        return await dns_check(target, ch.connect_port or 53, ch.dns_name or ".",
                               ch.dns_type or "SOA", timeout)
    if ch.kind == "UDP_CHECK":
        return await udp_check(target, tport, ch.payload or b"", ch.require_reply, timeout)
    if ch.kind == "PING_CHECK":
        return await ping_check(target, timeout)
    if ch.kind == "FILE_CHECK":
        from keepalived_py.track.file import read_value
        value = read_value((files or {}).get(ch.track_file or "", ch.track_file or ""))
        weight = ch.weight if ch.weight is not None else 1
        if value is None:
            return True, "invalid number ignored"
        return (value == 0, f"file value {value}") if weight == 0 else (True, f"file value {value}")
    return True, f"{ch.kind} not implemented yet - assumed up"
