"""Frozen model of the LVS side: virtual_server_group, virtual_server, real_server, checkers, bfd.

Field names equal keepalived.conf(5) keyword names; see model.py for the conventions.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from keepalived_py.config.tree import SourcePos

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NOPOS = SourcePos("<default>", 0)


def _pos() -> SourcePos:
    return field(default=_NOPOS, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Checker:
    """Common checker options; `kind` is TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK,
    UDP_CHECK, PING_CHECK, MISC_CHECK, FILE_CHECK, BFD_CHECK. Kind-specific options are in
    subclasses (to be filled in by the LVS config work)."""

    kind: str
    connect_ip: IPAddress | None = None
    connect_port: int | None = None
    bindto: IPAddress | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    connect_timeout: float | None = None       # None: the virtual server's / 5 s default
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    delay_loop: float | None = None
    alpha: bool | None = None
    fwmark: int | None = None
    pos: SourcePos = _pos()


@dataclass(frozen=True, slots=True, kw_only=True)
class RealServer:
    address: IPAddress
    port: int | None
    weight: int = 1
    inhibit_on_failure: bool = False
    lvs_method: str | None = None              # None: the virtual server's
    notify_up: object | None = None            # model.Script
    notify_down: object | None = None
    alpha: bool | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    delay_loop: float | None = None
    checkers: tuple[Checker, ...] = ()
    pos: SourcePos = _pos()


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServer:
    """`virtual_server IP PORT`, `virtual_server fwmark N` or `virtual_server group NAME`."""

    address: IPAddress | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    protocol: str = "TCP"                      # keepalived's default when protocol is absent
    lvs_sched: str = "wlc"
    lvs_method: str = "NAT"
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None
    delay_loop: float = 60.0
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: object | None = None            # model.Script
    quorum_down: object | None = None
    alpha: bool = False
    omega: bool = False
    ha_suspend: bool = False
    inhibit_on_failure: bool = False
    virtualhost: str | None = None
    sorry_server: RealServer | None = None
    sorry_server_inhibit: bool = False
    sorry_server_lvs_method: str | None = None
    real_servers: tuple[RealServer, ...] = ()
    pos: SourcePos = _pos()


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServerGroup:
    name: str
    entries: tuple[tuple[str, str], ...] = ()  # to be typed by the LVS config work
    pos: SourcePos = _pos()


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdInstance:
    name: str
    neighbor_ip: IPAddress | None = None
    source_ip: IPAddress | None = None
    options: tuple[tuple[str, str], ...] = ()
    pos: SourcePos = _pos()
