"""Frozen model of the LVS side: virtual_server_group, virtual_server, real_server, checkers, bfd.

Field names equal keepalived.conf(5) keyword names; see model.py for the conventions.
"""
from __future__ import annotations


from keepalived_py.address import IPAddress
from keepalived_py.config.bfd import BfdInstance as BfdInstance  # the model of bfd_instance
from keepalived_py.config.record import Record
from keepalived_py.config.tree import SourcePos
from keepalived_py.record import field

_NOPOS = SourcePos("<default>", 0)


def _pos() -> SourcePos:
    return field(default=_NOPOS, compare=False, repr=False)  # type: ignore[return-value]


class Checker(Record):
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
    # HTTP_GET / SSL_GET
    urls: tuple[HttpUrl, ...] = ()
    virtualhost: str | None = None
    http_protocol: str | None = None
    enable_sni: bool = False
    # SMTP_CHECK
    helo_name: str | None = None
    # DNS_CHECK
    dns_type: str | None = None
    dns_name: str | None = None
    # UDP_CHECK
    payload: bytes | None = None
    require_reply: bool = False
    # MISC_CHECK
    misc_path: object | None = None            # model.Script
    misc_timeout: float | None = None
    misc_dynamic: bool = False
    # FILE_CHECK
    track_file: str | None = None
    weight: int | None = None
    options: tuple[tuple[str, str], ...] = ()  # any other keyword, as written
    pos: SourcePos = _pos()


class HttpUrl(Record):
    """One url block of HTTP_GET / SSL_GET."""
    path: str = "/"
    digest: str | None = None
    status_code: tuple[tuple[int, int], ...] = ()   # ranges; empty: 200-299
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    pos: SourcePos = _pos()


class RealServer(Record):
    """One real_server block."""
    address: IPAddress
    port: int | None
    weight: int = 1
    inhibit_on_failure: bool = False
    lvs_method: str | None = None              # None: the virtual server's
    connect_timeout: float | None = None
    notify_up: object | None = None            # model.Script
    notify_down: object | None = None
    alpha: bool | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    delay_loop: float | None = None
    smtp_alert: bool | None = None             # None: unset (smtp_alert_checker, smtp_alert, on)
    snmp_name: str | None = None               # realServerName
    virtualhost: str | None = None             # HTTP_GET/SSL_GET Host, below the checker's
    checkers: tuple[Checker, ...] = ()
    pos: SourcePos = _pos()


class VirtualServer(Record):
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
    ip_family: str | None = None               # "inet" | "inet6"; a fwmark service: resolved
    smtp_alert: bool | None = None             # None: unset (smtp_alert_checker, smtp_alert, off)
    snmp_name: str | None = None               # virtualServerName
    real_servers: tuple[RealServer, ...] = ()
    pos: SourcePos = _pos()


class VsgEntry(Record):
    """One line of a virtual_server_group: `IP[-LAST] [PORT]` or `fwmark N`."""

    address: IPAddress | None = None
    last: IPAddress | None = None               # end of an address range
    port: int | None = None
    fwmark: int | None = None
    pos: SourcePos = _pos()


class VirtualServerGroup(Record):
    """One virtual_server_group block."""
    name: str
    entries: tuple[VsgEntry, ...] = ()
    pos: SourcePos = _pos()


class SslConfig(Record):
    """The top-level SSL block: client certificate for SSL_GET checks."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    pos: SourcePos = _pos()
