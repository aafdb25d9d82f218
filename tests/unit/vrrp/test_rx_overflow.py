"""Receive-queue overflow (issue 15): a backup whose socket lost packets to a full kernel queue
waits one advert interval more, once, before declaring the master down; nothing dropped:
RFC 5798's timer unchanged. And the kernel's drop counter (SO_RXQ_OVFL) read from a real
socket."""
from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.packet import Advert
from keepalived_py.vrrp.transport import SO_RXQ_OVFL, VrrpSocket

A = ipaddress.IPv4Address
ME, PEER = A("192.0.2.10"), A("192.0.2.20")
VIP = (A("192.0.2.100"),)
MDI = 3 + 156 / 256               # priority 100, 1 s


def backup() -> m.Instance:
    i = m.Instance(m.Params(name="VI_1", vrid=51, priority=100, advert_int=1.0, addresses=VIP,
                            primary=ME))
    i.handle(m.Started(), 0.0)
    i.handle(m.AdvertReceived(Advert(2, 51, 200, VIP, 1.0), PEER), 1.0)   # master at 200
    assert i.state is m.State.BACKUP
    return i


def expire(i: m.Instance) -> tuple[float, list[m.Action]]:
    d = i.next_deadline()
    assert d is not None
    return d, i.handle(m.TimerExpired(), d)


def test_no_loss_keeps_the_rfc_timer() -> None:
    i = backup()
    d, actions = expire(i)
    assert d == pytest.approx(1.0 + MDI)
    assert i.state is m.State.MASTER and i.down_extensions == 0


def test_loss_extends_once_by_one_interval_then_master_down() -> None:
    i = backup()
    i.handle(m.ReceiveLost(700), 2.0)
    d, actions = expire(i)
    assert d == pytest.approx(1.0 + MDI)
    assert actions == [m.WarnReceiveLoss(700, 1.0)]
    assert i.state is m.State.BACKUP
    i.handle(m.ReceiveLost(900), d + 0.5)         # still flooded: no second extension
    d2, actions = expire(i)
    assert d2 == pytest.approx(1.0 + MDI + 1.0)   # a dead master: MDI + one interval
    assert i.state is m.State.MASTER and i.down_extensions == 1


def test_an_advert_after_the_loss_clears_it() -> None:
    i = backup()
    i.handle(m.ReceiveLost(5), 1.5)
    i.handle(m.AdvertReceived(Advert(2, 51, 200, VIP, 1.0), PEER), 2.0)
    d, _ = expire(i)
    assert d == pytest.approx(2.0 + MDI) and i.state is m.State.MASTER


def test_an_advert_in_the_extension_rearms_and_allows_a_new_extension() -> None:
    i = backup()
    i.handle(m.ReceiveLost(5), 1.5)
    d, _ = expire(i)
    i.handle(m.AdvertReceived(Advert(2, 51, 200, VIP, 1.0), PEER), d + 0.5)
    assert i.next_deadline() == pytest.approx(d + 0.5 + MDI)
    i.handle(m.ReceiveLost(5), d + 1)
    _, actions = expire(i)
    assert isinstance(actions[0], m.WarnReceiveLoss) and i.state is m.State.BACKUP


def test_priority_zero_is_not_extended() -> None:
    i = backup()
    i.handle(m.AdvertReceived(Advert(2, 51, 0, VIP, 1.0), PEER), 2.0)
    i.handle(m.ReceiveLost(50), 2.1)
    d, _ = expire(i)
    assert d == pytest.approx(2.0 + 156 / 256) and i.state is m.State.MASTER


def test_loss_while_master_is_ignored() -> None:
    i = backup()
    expire(i)
    assert i.state is m.State.MASTER
    i.handle(m.ReceiveLost(5), 10.0)
    assert i.rx_lost == 0


def test_kernel_drop_counter_is_read_from_a_full_queue() -> None:
    """A UDP socket with a tiny receive buffer on loopback stands in for the raw socket: the
    same SOL_SOCKET option and ancillary message; VrrpSocket._overflowed does the sums."""
    rx_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        rx_sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        rx_sock.bind(("127.0.0.1", 0))
        rx_sock.setblocking(False)
        for _ in range(200):
            tx.sendto(b"x" * 200, rx_sock.getsockname())
        seen: list[int] = []
        fake = VrrpSocket.__new__(VrrpSocket)
        fake._ovfl_seen, fake.kernel_drops = {}, 0
        fake.on_overflow = lambda n, lane: seen.append(n)
        got = 0

        def read() -> None:
            nonlocal got
            while True:
                try:
                    _data, anc, _f, _a = rx_sock.recvmsg(2048, 64)
                except BlockingIOError:
                    return
                got += 1
                fake._overflowed(anc)
        read()
        # the count is stamped on each packet as it is queued: the next one carries it
        tx.sendto(b"y", rx_sock.getsockname())
        read()
        assert got + fake.kernel_drops == 201 and fake.kernel_drops > 0
        assert sum(seen) == fake.kernel_drops
    finally:
        rx_sock.close()
        tx.close()


def test_counter_wraps_and_is_not_double_counted() -> None:
    seen: list[int] = []
    fake = VrrpSocket.__new__(VrrpSocket)
    fake._ovfl_seen, fake.kernel_drops = {-1: 0xFFFFFFF0}, 0
    fake.on_overflow = lambda n, lane: seen.append(n)
    anc = [(socket.SOL_SOCKET, SO_RXQ_OVFL, struct.pack("@I", 0x10))]
    fake._overflowed(anc)
    fake._overflowed(anc)                 # the same total again: nothing new
    assert seen == [0x20] and fake.kernel_drops == 0x20


def _run_bpf(program: bytes, packet: bytes) -> int:
    """Just enough of a classic BPF interpreter for transport.source_filter's programs."""
    ins = [struct.unpack("@HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = ins[pc]
        if code == 0x20:
            acc = int.from_bytes(packet[k:k + 4], "big")
            pc += 1
        elif code == 0x15:
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("n", [1, 2, 5])
def test_source_filter_admits_the_listed_sources_or_the_others(n: int) -> None:
    from keepalived_py.vrrp.transport import source_filter
    listed = [A(f"192.0.2.{i}") for i in range(1, n + 1)]
    lane = source_filter([a.packed for a in listed], True)
    main = source_filter([a.packed for a in listed], False)

    def ip_from(a: A) -> bytes:
        return bytes(12) + a.packed + A("224.0.0.18").packed

    for a in listed:
        assert _run_bpf(lane, ip_from(a)) and not _run_bpf(main, ip_from(a))
    for a in (A("192.0.2.77"), A("198.51.100.1")):
        assert not _run_bpf(lane, ip_from(a)) and _run_bpf(main, ip_from(a))


def test_prioritise_skips_ah_sockets_and_is_bounded() -> None:
    fake = VrrpSocket.__new__(VrrpSocket)
    fake.family, fake.deliver_ah, fake.lane_sources = 4, (lambda p: None), frozenset()
    fake.prioritise({A("192.0.2.1")}, None)                 # AH: one queue
    assert fake.lane_sources == frozenset()
    fake.family, fake.deliver_ah = 6, None
    fake.prioritise({ipaddress.IPv6Address(f"fe80::{i}") for i in range(1, 18)}, None)
    assert fake.lane_sources == frozenset()                 # more than LANE_MAX masters
    fake.prioritise({A("192.0.2.1")}, None)                 # not this socket's family
    assert fake.lane_sources == frozenset()


SKF_NET = 0xFFF00000


def _run_bpf6(program: bytes, net: bytes, payload: bytes) -> int:
    """Classic BPF over a raw IPv6 socket's packet: `payload` at offset 0, the IPv6 header
    (`net`) reachable only through SKF_NET_OFF loads, as the kernel runs it."""
    ins = [struct.unpack("@HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = ins[pc]
        if code == 0x20:
            base, off = (net, k - SKF_NET) if k >= SKF_NET else (payload, k)
            assert off + 4 <= len(base), "a load beyond the packet: the kernel returns 0"
            acc = int.from_bytes(base[off:off + 4], "big")
            pc += 1
        elif code == 0x15:
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_source_filter6_admits_the_listed_sources_or_the_others(n: int) -> None:
    from keepalived_py.vrrp.transport import LANE_MAX, source_filter6
    B = ipaddress.IPv6Address
    assert n <= LANE_MAX
    listed = [B(f"fe80::{i:x}") for i in range(1, n + 1)]
    lane = source_filter6([a.packed for a in listed], True)
    main = source_filter6([a.packed for a in listed], False)
    assert len(lane) // 8 <= 4096                                   # BPF_MAXINSNS

    def ipv6_from(a: B) -> bytes:
        return bytes.fromhex("6000000000207000") + a.packed + B("ff02::12").packed

    vrrp = bytes.fromhex("3133c8010064") + bytes(2) + B("2001:db8::100").packed
    for a in listed:
        assert _run_bpf6(lane, ipv6_from(a), vrrp) and not _run_bpf6(main, ipv6_from(a), vrrp)
    # differing in each of the four words of a listed address, and elsewhere
    near = [B(int(listed[0]) ^ (1 << (32 * w))) for w in range(4)]
    for a in (*near, B("fe80::77"), B("2001:db8::1")):
        if a in listed:
            continue
        assert not _run_bpf6(lane, ipv6_from(a), vrrp) and _run_bpf6(main, ipv6_from(a), vrrp)
