"""`keepalived-py genhash` (and `keepalived-py -T`): the MD5 digest of a URL's body, for
HTTP_GET / SSL_GET `digest` lines — keepalived's genhash options and output line."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import ssl
import sys

from keepalived_py.check.checkers import MAX_BODY, MAX_HEADER, insecure_tls, read_body


async def fetch(server: str, port: int, url: str, vhost: str | None, use_ssl: bool, sni: bool,
                protocol: str, timeout: float) -> tuple[int, bytes]:
    ctx = insecure_tls() if use_ssl else None

    async def go() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(
            server, port, ssl=ctx, server_hostname=(vhost or server) if (use_ssl and sni) else None,
            limit=MAX_HEADER)
        proto = "HTTP/1.1" if protocol == "1.1" else "HTTP/1.0"
        close = "Connection: close\r\n" if protocol in ("1.0c", "1.1") else ""
        writer.write(f"GET {url} {proto}\r\nHost: {vhost or server}\r\n{close}"
                     "User-Agent: keepalived-py genhash\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split()
        code = int(status[1]) if len(status) > 1 and status[1].isdigit() else 0
        body = await read_body(reader)
        writer.close()
        if body is None:
            raise ValueError(f"body longer than {MAX_BODY} bytes")
        return code, body
    return await asyncio.wait_for(go(), timeout)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="keepalived-py genhash", add_help=False)
    ap.add_argument("-S", "--use-ssl", action="store_true")
    ap.add_argument("-I", "--use-sni", action="store_true")
    ap.add_argument("-s", "--server")
    ap.add_argument("-p", "--port", type=int)
    ap.add_argument("-u", "--url")
    ap.add_argument("-V", "--use-virtualhost")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-h", "--help", action="store_true")
    ap.add_argument("-m", "--fwmark", type=int)
    ap.add_argument("-P", "--protocol", default="1.0", choices=["1.0", "1.0c", "1.1"])
    ap.add_argument("-t", "--timeout", type=float, default=5.0)
    try:
        a = ap.parse_args(argv)
    except SystemExit:
        return 1
    if a.help or not (a.server and a.port and a.url):
        sys.stderr.write("Usage: keepalived-py genhash -s server-address -p port -u url"
                         " [-S] [-I] [-V virtualhost] [-P 1.0|1.0c|1.1] [-t timeout] [-v]\n")
        return 0 if a.help else 1
    try:
        code, body = asyncio.run(fetch(a.server, a.port, a.url, a.use_virtualhost, a.use_ssl,
                                       a.use_sni, a.protocol, a.timeout))
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, ssl.SSLError) as e:
        print(f"genhash: cannot fetch {a.url} from {a.server}:{a.port}: {e}", file=sys.stderr)
        return 1
    if a.verbose:
        print(f"HTTP status code: {code}, {len(body)} bytes")
    print(f"MD5SUM = {hashlib.md5(body, usedforsecurity=False).hexdigest()}")
    return 0
