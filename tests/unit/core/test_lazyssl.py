"""core/lazyssl.py: the daemon's asyncio without OpenSSL until TLS is used, then TLS as usual."""
from __future__ import annotations

import subprocess
import sys

PROGRAM = r"""
import os, sys
from keepalived_py.core import lazyssl
lazyssl.import_asyncio()
import asyncio
assert "ssl" not in sys.modules and "_ssl" not in sys.modules, "OpenSSL loaded with asyncio"
assert asyncio.sslproto.ssl is None and lazyssl.waiting()

async def hello_reaches_server() -> bytes:
    got = asyncio.get_running_loop().create_future()

    async def plain(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got.set_result(await r.read(3))
        w.close()
    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    from keepalived_py.check import checkers        # imports ssl, as the checker child does
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port,
                                                       ssl=checkers.insecure_tls()), 5)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
        if "ssl module" in str(e):
            raise
    server.close()
    return await asyncio.wait_for(got, 5)

def run() -> None:
    first = asyncio.run(hello_reaches_server())
    assert first[:2] == b"\x16\x03", first          # a TLS handshake record: a ClientHello
    import ssl
    assert asyncio.sslproto.ssl is ssl and asyncio.base_events.ssl is ssl
    assert asyncio.selector_events.ssl is ssl and not lazyssl.waiting()

pid = os.fork()                  # a child forked before any TLS (the checker child) too
if pid == 0:
    try:
        run()
    except BaseException as e:
        print("child:", repr(e), flush=True)
        os._exit(1)
    os._exit(0)
assert os.waitpid(pid, 0)[1] == 0, "forked child"
assert "ssl" not in sys.modules            # the parent still without OpenSSL
run()
print("ok")
"""


def test_asyncio_without_openssl_until_tls_then_tls_works() -> None:
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr


def test_with_asyncio_already_imported_nothing_changes() -> None:
    code = ("import asyncio, ssl, sys; from keepalived_py.core import lazyssl;"
            "lazyssl.import_asyncio(); assert asyncio.sslproto.ssl is ssl;"
            "assert not lazyssl.waiting(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
