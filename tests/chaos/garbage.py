"""Garbage connections to a daemon's control socket and Prometheus endpoint (issue 15), run
inside the daemon's namespace:

    python3 garbage.py CTL_PATH HOST:PORT COUNT [HOLD_S]

COUNT connections in turn of five kinds, to both servers at once: silent (connect, say
nothing), random bytes, an oversized request head (9 KiB without an end), half a request then
silence, and a valid request whose answer is never read. While they are open, a real client
asks `status` on the control socket and GET /metrics every 0.1 s. Prints one JSON line: how
many real requests were answered, the worst answer time, and how each garbage connection was
treated (closed by the server / still open at the end). HOLD_S (default 8, beyond the servers'
5 s timeouts): how long a garbage client waits for the server to close, or holds an unread
answer, before it closes the connection itself (the CI-sized test holds 1.5 s).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

HOLD = 8.0


async def garbage(kind: int, opener: object, ctl: bool) -> str:
    try:
        r, w = await asyncio.wait_for(opener(), 5)  # type: ignore[operator]
    except (OSError, TimeoutError):
        return "refused"
    try:
        if kind == 1:
            w.write(os.urandom(512))
        elif kind == 2:
            w.write(b"GET /metrics HTTP/1.0\r\nX: " + b"a" * 9216 if not ctl else b"s" * 9216)
        elif kind == 3:
            w.write(b"GET /metr" if not ctl else b"sta")
        elif kind == 4:
            w.write(b"GET /metrics HTTP/1.0\r\n\r\n" if not ctl else b"status\n")
        await w.drain()
        if kind == 4:
            await asyncio.sleep(HOLD)        # never read the answer
            return "unread"
        data = await asyncio.wait_for(r.read(65536), HOLD)
        return "closed" if not data else "answered"
    except (ConnectionError, OSError):
        return "closed"
    except TimeoutError:
        return "open"
    finally:
        w.close()


async def real(ctl: str, host: str, port: int, stop: asyncio.Event) -> dict[str, float]:
    ok = fail = 0
    worst = 0.0
    while not stop.is_set():
        for what in ("ctl", "http"):
            t0 = time.monotonic()
            try:
                if what == "ctl":
                    r, w = await asyncio.open_unix_connection(ctl)
                    w.write(b"status\n")
                else:
                    r, w = await asyncio.open_connection(host, port)
                    w.write(b"GET /metrics HTTP/1.0\r\n\r\n")
                data = await asyncio.wait_for(r.read(), 5)
                w.close()
                good = b"instances" in data if what == "ctl" else b"keepalived_up" in data
            except (OSError, TimeoutError):
                good = False
            worst = max(worst, time.monotonic() - t0)
            ok, fail = (ok + 1, fail) if good else (ok, fail + 1)
        await asyncio.sleep(0.1)
    return {"real_ok": ok, "real_failed": fail, "real_worst_s": round(worst, 3)}


async def main(ctl: str, hostport: str, count: int) -> dict[str, object]:
    host, _, port_s = hostport.rpartition(":")
    port = int(port_s)
    stop = asyncio.Event()
    watcher = asyncio.create_task(real(ctl, host, port, stop))
    tasks = []
    t0 = time.monotonic()
    for i in range(count):
        kind = i % 5
        tasks.append(garbage(kind, lambda: asyncio.open_unix_connection(ctl), True))
        tasks.append(garbage(kind, lambda: asyncio.open_connection(host, port), False))
    results = await asyncio.gather(*tasks)
    took = time.monotonic() - t0
    await asyncio.sleep(0.5)
    stop.set()
    figures: dict[str, object] = dict(await watcher)
    tally: dict[str, int] = {}
    for i, res in enumerate(results):
        key = f"{'ctl' if i % 2 == 0 else 'http'}_{res}"
        tally[key] = tally.get(key, 0) + 1
    figures.update(tally)
    figures["garbage_connections"] = 2 * count
    figures["seconds"] = round(took, 1)
    return figures


if __name__ == "__main__":
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if len(sys.argv) > 4:
        HOLD = float(sys.argv[4])
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))), flush=True)
