"""The pure parts of the VRRP keyword long tail (issue 12): the configuration they build and
the pacing / debouncing decisions, without namespaces (tests/integration/test_vrrp_keywords.py
runs them against keepalived 2.2.7)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from keepalived_py.config import load_config
from keepalived_py.config.model import Config, GarpGroup, GlobalDefs, VrrpInstance
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.debounce import Debounce, delays_of
from keepalived_py.vrrp.fifo_events import priority_line, reload_lines
from keepalived_py.vrrp.garp_pacer import GarpPacer
from keepalived_py.vrrp.removal import DELETED, removed_as

CONF = """
global_defs {
  vrrp_notify_priority_changes
  log_unknown_vrids
  vrrp_garp_interval 0.000001
}
track_group TG {
  group {
    VI_1
  }
}
static_ipaddress {
  198.51.100.1/24 dev lo track_group TG
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
  notify_priority_changes false
}
vrrp_instance VI_1 {
  interface lo0
  virtual_router_id 1
  notify_deleted
  notify_priority_changes
  virtual_ipaddress {
    2001:db8::1/128
    2001:db8::2/64 -nodad
  }
}
vrrp_instance VI_2 {
  interface lo0
  virtual_router_id 2
  virtual_ipaddress {
    2001:db8::3/128 preferred_lft 20
  }
}
"""


def test_config_of_the_long_tail(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(CONF)
    c = load_config(str(conf), check_interfaces=False).config
    g = c.global_defs
    assert g.vrrp_notify_priority_changes and g.log_unknown_vrids
    assert g.vrrp_garp_interval == 0.000001
    v1, v2 = c.vrrp_instances
    assert v1.notify_deleted and not v2.notify_deleted
    # instance, else its sync group, else global_defs
    assert v1.notify_priority_changes is True and v2.notify_priority_changes is False
    assert [a.preferred_lft for a in v1.virtual_ipaddress] == [0, None]   # /128: deprecated
    assert [a.nodad for a in v1.virtual_ipaddress] == [False, True]
    assert v2.virtual_ipaddress[0].preferred_lft == 20
    assert [t.name for t in v1.track_interface] == ["lo"] and not v2.track_interface


def test_removed_instance_announcement() -> None:
    plain = VrrpInstance(name="a", interface="e", virtual_router_id=1)
    deleted = VrrpInstance(name="a", interface="e", virtual_router_id=1, notify_deleted=True)
    assert removed_as(plain, m.State.MASTER) == "FAULT"
    assert removed_as(plain, m.State.FAULT) is None
    assert removed_as(deleted, m.State.FAULT) == DELETED


def test_fifo_lines() -> None:
    assert priority_line("a", m.State.MASTER, 7) == b'INSTANCE "a" MASTER_PRIORITY 7\n'
    assert priority_line("a", m.State.FAULT, 7) == b'INSTANCE "a" BACKUP_PRIORITY 7\n'
    assert reload_lines([("G", "BACKUP")], [("a", m.State.MASTER, 1), ("b", m.State.FAULT, 2)]) \
        == [b'GROUP "G" BACKUP 0\n', b'INSTANCE "b" FAULT 2\n']


def _arp(ip: int) -> bytes:
    return bytes(12) + b"\x08\x06" + bytes(14) + bytes([192, 0, 2, ip]) + bytes(20)


def test_pacer_spaces_frames_per_group_and_collapses_repeats() -> None:
    sent: list[tuple[float, bytes]] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        p = GarpPacer(lambda dev, frs: sent.extend((loop.time(), f) for f in frs))
        p.configure(Config(garp_groups=(GarpGroup(interfaces=("e0", "e1"), garp_interval=0.05),)))
        a, b, c = _arp(1), _arp(2), _arp(3)
        p.submit("e0", "e0", [a, b], lambda: True, rank=1)
        p.submit("e0", "e0", [a, b], lambda: True, rank=1)     # repeats: b already waits
        p.submit("e1", "e1", [c], lambda: True, rank=0)        # same group, earlier instance
        await asyncio.sleep(0.3)
        p.close()
    asyncio.run(run())
    frames = [f for _, f in sent]
    assert frames == [_arp(1), _arp(3), _arp(1), _arp(2)]    # configuration order
    gaps = [b - a for (a, _), (b, _) in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.045


def test_pacer_without_interval_sends_at_once() -> None:
    sent: list[bytes] = []

    async def run() -> None:
        p = GarpPacer(lambda dev, frs: sent.extend(frs))
        p.configure(Config())
        p.submit("e0", "e0", [_arp(1), _arp(1)], lambda: True)
    asyncio.run(run())
    assert sent == [_arp(1), _arp(1)]


class _Msg(dict):   # type: ignore[type-arg]
    pass


def test_debounce_delays_cancels_and_clamps() -> None:
    inst = VrrpInstance(name="a", interface="e0", virtual_router_id=1, advert_int=1.0)
    config = Config(vrrp_instances=(inst,), interface_delays=(("e0", 5.0, 0.5),),
                    global_defs=GlobalDefs())
    assert delays_of(config) == {"e0": (2 - 1 / 256, 0.5)}       # below 2 * advert_int
    got: list[object] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        d = Debounce()
        d.configure(config, lambda n: True)
        d.flags["e0"] = 0x11043
        down, up = _Msg(flags=0x1002), _Msg(flags=0x11043)
        assert not d.admit(loop, "e0", False, down, got.append)      # delayed
        assert d.admit(loop, "e0", True, up, got.append)             # flap back: dropped
        assert not d.pending and d.state["e0"] is True
        assert not d.admit(loop, "e0", False, down, got.append)
        d.delays["e0"] = (0.05, 0.5)
        d.pending["e0"][0].cancel()
        d.pending.clear()
        assert not d.admit(loop, "e0", False, down, got.append)
        await asyncio.sleep(0.15)
        assert got == [down] and d.state["e0"] is False
        d.close()
    asyncio.run(run())
