"""The checkers' network side (asyncio; nothing here blocks the loop).

Every check is bounded: a connect and a whole exchange each have `timeout`; an HTTP response
may not exceed MAX_HEADER bytes of headers or MAX_BODY bytes of body (a server that answers
with megabytes, endless headers or trickles bytes is a failed check, never a stall or a
crash — keepalived had a heap overflow here, CVE-2018-19115). Each returns (ok, reason).
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import ssl

from keepalived_py.config.model_lvs import Checker, HttpUrl

MAX_HEADER = 64 * 1024
MAX_BODY = 4 * 1024 * 1024

Result = tuple[bool, str]


async def tcp_check(host: str, port: int, timeout: float, bindto: str | None = None) -> Result:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(bindto, 0) if bindto else None),
            timeout)
    except TimeoutError:
        return False, "connect timeout"
    except OSError as e:
        return False, f"connect failed: {e.strerror or e}"
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (TimeoutError, OSError):
        pass
    return True, "connected"


def _status_ok(code: int, url: HttpUrl) -> bool:
    if not url.status_code:
        return 200 <= code <= 299
    return any(lo <= code <= hi for lo, hi in url.status_code)


async def http_check(host: str, port: int, ch: Checker, url: HttpUrl, timeout: float,
                     use_ssl: bool = False) -> Result:
    vhost = url.virtualhost or ch.virtualhost or host
    ctx = None
    if use_ssl:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    async def exchange() -> Result:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ctx, server_hostname=vhost if (use_ssl and ch.enable_sni) else None,
            limit=MAX_HEADER)
        try:
            writer.write(f"GET {url.path} HTTP/1.0\r\nHost: {vhost}\r\n"
                         "User-Agent: keepalived-py\r\nConnection: close\r\n\r\n".encode())
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
            body = bytearray()
            while len(body) <= MAX_BODY:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                body += chunk
            if len(body) > MAX_BODY:
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

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except TimeoutError:
        return False, "timeout"
    except ssl.SSLError as e:
        return False, f"TLS error: {e.reason or e}"
    except (OSError, ValueError) as e:
        return False, f"connect failed: {getattr(e, 'strerror', None) or e}"


async def run_checker(ch: Checker, host: str, port: int, timeout: float) -> Result:
    """One check of any implemented kind."""
    target = str(ch.connect_ip) if ch.connect_ip else host
    tport = ch.connect_port or port
    bindto = str(ch.bindto) if ch.bindto else None
    if ch.kind == "TCP_CHECK":
        return await tcp_check(target, tport, timeout, bindto)
    if ch.kind in ("HTTP_GET", "SSL_GET"):
        for url in ch.urls:
            ok, why = await http_check(target, tport, ch, url, timeout, ch.kind == "SSL_GET")
            if not ok:
                return False, f"{url.path}: {why}"
        return True, "all urls ok"
    if ch.kind == "MISC_CHECK":
        from keepalived_py.track.script import run_command
        out = await run_command(ch.misc_path, ch.misc_timeout or timeout)  # type: ignore[arg-type]
        return out.success, out.reason or out.exit_type
    return True, f"{ch.kind} not implemented yet - assumed up"
