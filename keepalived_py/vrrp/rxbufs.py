"""global_defs vrrp_rx_bufs_policy / vrrp_rx_bufs_multiplier: the receive buffer of each VRRP
socket, as keepalived 2.2.7 sizes it (vrrp_scheduler.c vrrp_create_sockpool): the sum, over
the instances sharing the socket, of the instance's kernel_rx_buf_size, or else the
configured size, or else multiplier x the advert's length (ADVERT), or else multiplier x the
interface MTU (MTU). Nothing configured: keepalived-py keeps its own 1 MiB (transport.py)."""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

from keepalived_py.config.model import VrrpInstance
from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")

VRRP_HEADER, VRRP_AUTH_LEN, IPV4_HEADER, AH_HEADER = 8, 8, 20, 24


def advert_len(inst: VrrpInstance) -> int:
    """keepalived's vrrp_adv_len: the VRRP packet and, for IPv4, its IP (and AH) header."""
    n = len(inst.virtual_ipaddress)
    if inst.family == 6:
        return VRRP_HEADER + 16 * n
    size = VRRP_HEADER + (VRRP_AUTH_LEN if inst.version == 2 else 0) + 4 * n + IPV4_HEADER
    return size + (AH_HEADER if inst.auth_type == "AH" else 0)


def rx_buf_size(insts: Iterable[VrrpInstance], p: ProcessDefs,
                mtu: Callable[[str], int]) -> int:
    """The socket's receive buffer size in bytes (0: not set by the policy)."""
    total = 0
    for inst in insts:
        if inst.kernel_rx_buf_size:
            total += inst.kernel_rx_buf_size
        elif p.vrrp_rx_bufs_size is not None:
            total += p.vrrp_rx_bufs_size
        elif p.vrrp_rx_bufs_policy == "ADVERT":
            total += p.vrrp_rx_bufs_multiplier * advert_len(inst)
        elif p.vrrp_rx_bufs_policy == "MTU" and inst.interface:
            total += p.vrrp_rx_bufs_multiplier * mtu(inst.interface)
    return total


def interface_mtu(name: str) -> int:
    try:
        with open(f"/sys/class/net/{name}/mtu") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1500


def apply(sockets: dict[object, list[VrrpInstance]], p: ProcessDefs) -> None:
    """`sockets`: each VRRP socket (with a .sock) and the instances it serves."""
    for s, insts in sockets.items():
        size = rx_buf_size(insts, p, interface_mtu)
        if not size:
            continue
        try:
            setter = getattr(s, "set_rcvbuf", None)     # transport.VrrpSocket: its lane too
            if setter is not None:
                setter(size)
            else:
                s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)  # type: ignore[attr-defined]
        except OSError as e:
            log.warning("vrrp.rx_bufs.failed", size=size, error=e.strerror)
