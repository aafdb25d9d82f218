"""A flood that fills the backup's receive queue (issue 15): the kernel drops packets on the
VRRP socket, and without care the master's adverts among them. The backup must not take over
while the master lives (the master's adverts have a queue of their own, transport.py's
priority lane; and after a loss where they do not, machine.ReceiveLost: one extra advert
interval, once), and a master that really dies during the flood is still replaced within
Master_Down_Interval + one interval.

The attacker floods n2 (the backup at 150) alone, on its MAC address, with adverts for a VRID
nobody runs (decoded and counted by the reader, as fast as one process sends them). n2's
receive buffers are made small the way keepalived's users make them (global_defs
`vrrp_rx_bufs_policy ADVERT` with `vrrp_rx_bufs_multiplier`: a few adverts' worth, which the
kernel raises to its minimum, a few packets), so that the flood overflows the queue on every
run, on a quiet machine too: the overflow handling is proven each time, never skipped."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaoslab import Cluster, mdi
from netlab import Node, have_netns

from keepalived_py.obs.control import query

pytestmark = [pytest.mark.netns, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
FLOOD_S = 6.0                  # > Master_Down_Interval of n2 (3.41 s) + its one extension
# n2's VRRP sockets: 4 x one advert (about 200 bytes asked; the kernel doubles it and keeps at
# least its SOCK_MIN_RCVBUF, about 4.5 KiB: a handful of queued packets)
SMALL_RX = "vrrp_rx_bufs_policy ADVERT\n  vrrp_rx_bufs_multiplier 4"
RCVBUF_MAX = 16384             # what the kernel may report for it, at most


def status(c: Cluster, name: str) -> dict[str, object]:
    return json.loads(query(str(c.daemons[name].dir / "keepalived-py-vrrp.ctl"), "status"))


def kernel_drops(c: Cluster, name: str) -> int:
    return sum(int(s.get("kernel_drops", 0)) for s in status(c, name)["sockets"])  # type: ignore[union-attr,attr-defined]


def mac(c: Cluster, name: str) -> str:
    out = c.nodes[name].run("cat", "/sys/class/net/eth0/address").stdout
    return out.strip()


def start_flood(c: Cluster, x: Node, seconds: float, target: str) -> subprocess.Popen[bytes]:
    return x.popen([sys.executable, str(HERE / "hostile.py"), "flood", str(seconds),
                    mac(c, target), "foreign_vrid"], stdout=subprocess.PIPE)


def test_chaos_rx_queue_flood_no_false_takeover_and_real_death_detected(tmp_path: Path) -> None:
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    with Cluster(tmp_path, advert=1.0, tag="rxovfl", glob={"n2": SMALL_RX}) as c:
        x = c.lab.node("x")
        c.lab.attach(x, c.lan, "eth0", "192.0.2.77/24")
        c.start(("n1", "n2"))
        del c.daemons["n3"]                     # two nodes: n2 is the one to take over
        c.elected()
        # 1. the master lives: the flood must not move the VIP
        c.fault("flood, master alive", {"n1"}, bound=0, nogap=True)
        p = start_flood(c, x, FLOOD_S, "n2")
        out, _ = p.communicate(timeout=FLOOD_S + 60)
        sent = int(out.split()[1])
        lost = kernel_drops(c, "n2")
        st = status(c, "n2")
        assert st["instances"][0]["state"] == "BACKUP", st  # type: ignore[index]
        sock = st["sockets"][0]  # type: ignore[index]
        print(f"\nflood: {sent} packets in {FLOOD_S}s, n2 kernel drops {lost} (receive"
              f" buffer {sock['rcvbuf']} bytes), priority lane {sock['lane']} carried"
              f" {sock['lane_received']}")
        assert sock["lane"] == ["192.0.2.1"] and sock["lane_received"] > 0, sock
        assert 0 < sock["rcvbuf"] <= RCVBUF_MAX, sock         # vrrp_rx_bufs_policy applied
        assert lost > 0, f"the flood ({sent} packets) did not overflow n2's queue: {sock}"
        # 2. the master dies in the middle of a flood: n2 takes over within MDI + 1 interval
        p = start_flood(c, x, FLOOD_S, "n2")
        time.sleep(1.5)
        before = kernel_drops(c, "n2")
        c.fault("master dies under flood", {"n2"}, bound=mdi(150, 1.0) + 1.0 + 0.05)
        c.daemons["n1"].crash()
        p.communicate(timeout=FLOOD_S + 60)
        c.hold()
        during = kernel_drops(c, "n2") - before
        print(f"kernel drops while the master died: {during}")
        c.verify(final=("n2",))
        print(c.describe())
