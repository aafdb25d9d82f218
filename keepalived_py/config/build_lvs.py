"""The LVS side of the block tree -> model_lvs, with keepalived 2.2.7's defaults and checks.

keepalived's resolutions worth knowing (check/check_data.c): a virtual server without
`protocol` defaults to UDP (and says so), without a scheduler to 'wlc', without a forwarding
method to NAT — each reported as a configuration error; a virtual server with no real server
is ignored; checker timing (connect_timeout, retry, delay_before_retry, delay_loop, warmup)
is inherited real server <- virtual server when not given on the checker.
"""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from keepalived_py.config import keywords as kw
from keepalived_py.config.context import BuildContext
from keepalived_py.config.model_lvs import (
    BfdInstance,
    Checker,
    HttpUrl,
    RealServer,
    SslConfig,
    VirtualServer,
    VirtualServerGroup,
    VsgEntry,
)
from keepalived_py.config.tree import Diagnostics, Node
from keepalived_py.config.values import (
    read_address,
    read_bool,
    read_bool_or_none,
    read_decimal,
    read_int,
)
from keepalived_py.record import evolve as replace

if TYPE_CHECKING:
    from keepalived_py.config.model import GlobalDefs

LVS_METHODS = {"NAT", "DR", "TUN", "PMASK"}
SCHEDULERS = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf",
              "mh", "twos"}
PROTOCOLS = {"TCP", "UDP", "SCTP"}


def _addr(b: BuildContext, node: Node, i: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if len(node.words) <= i:
        b.d.error(node.pos, f"{node.keyword}: missing address")
        return None
    return read_address(node.words[i], node.pos, b.d)


def _port(b: BuildContext, node: Node, i: int) -> int | None:
    if len(node.words) <= i:
        return None
    return read_int(node.words[i], 0, 65535, node.pos, b.d)


TIMING = ("connect_timeout", "retry", "delay_before_retry", "delay_loop", "warmup")


def _timing(d: Diagnostics, c: Node, f: dict[str, Any]) -> bool:
    """Checker timing keywords (and alpha); True when `c` was one of them."""
    k, args = c.keyword, c.args
    if k in ("connect_timeout", "delay_before_retry", "delay_loop", "warmup"):
        if args and (x := read_decimal(args[0], 0, 2**31, c.pos, d)) is not None:
            f[k] = x
        return True
    if k == "nb_get_retry":
        d.warning(c.pos, "nb_get_retry is deprecated - please use 'retry'")
    if k in ("retry", "nb_get_retry"):
        if args and (v := read_int(args[0], 0, 2**31 - 1, c.pos, d)) is not None:
            f["retry"] = v
        return True
    if k == "alpha":
        f["alpha"] = read_bool(c, d)
        return True
    return False


def read_hex(text: str) -> bytes | None:
    """keepalived's read_hex_str: hex digit pairs, blanks allowed between bytes (a lone digit
    is a byte). Faithful to 2.2.7, a string whose last byte is 0xff reads as invalid too."""
    out = bytearray()
    i, n = 0, len(text)
    val = 0
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        hi = int(text[i], 16) if text[i] in "0123456789abcdefABCDEF" else 0xFF
        i += 1
        val = hi
        if val == 0xFF:
            break
        if i < n and text[i] != " ":
            lo = int(text[i], 16) if text[i] in "0123456789abcdefABCDEF" else 0xFF
            i += 1
            if lo == 0xFF:
                val = 0xFF
                break
            val = (hi << 4) | lo
        out.append(val)
    if val == 0xFF or not out:
        return None
    return bytes(out)


def _checker(b: BuildContext, node: Node) -> Checker | None:
    kind = node.keyword
    allowed = kw.CHECKERS[kind]
    f: dict[str, Any] = {"kind": kind, "pos": node.pos}
    urls: list[HttpUrl] = []
    options: list[tuple[str, str]] = []
    user_of: tuple[str, str | None] | None = None       # MISC_CHECK user NAME [GROUP]
    for c in node.children or ():
        k, args = c.keyword, c.args
        if k not in allowed:
            b.unknown(c)
        elif _timing(b.d, c, f):
            pass
        elif k == "connect_ip" or k == "bindto":
            f[k] = _addr(b, c, 1)
        elif k in ("connect_port", "bind_port"):
            f[k] = _port(b, c, 1)
        elif k == "bind_if":
            f[k] = args[0] if args else None
        elif k == "fwmark":
            f[k] = read_int(args[0], 0, 2**32 - 1, c.pos, b.d) if args else None
        elif k == "url":
            u: dict[str, Any] = {"pos": c.pos}
            codes: list[tuple[int, int]] = []
            for row in c.children or ():
                if row.keyword not in kw.HTTP_URL:
                    b.unknown(row)
                elif row.keyword == "path":
                    u["path"] = row.args[0] if row.args else "/"
                elif row.keyword == "digest":
                    u["digest"] = row.args[0].lower() if row.args else None
                elif row.keyword == "status_code":
                    for a in row.args:
                        lo, _, hi = a.partition("-")
                        if lo.isascii() and lo.isdigit() and (not hi or (hi.isascii() and hi.isdigit())):
                            codes.append((int(lo), int(hi or lo)))
                        else:
                            b.d.error(row.pos, f"Invalid status_code '{a}'")
                elif row.keyword == "virtualhost":
                    u["virtualhost"] = row.args[0] if row.args else None
                elif row.keyword in ("regex", "regex_no_match"):
                    if row.args:
                        u["regex"] = row.args[0]
                        u["regex_no_match"] = row.keyword == "regex_no_match"
                else:
                    b.later(row, "url")
            u["status_code"] = tuple(codes)
            if "path" not in u:                 # check_http.c url_check
                b.d.error(c.pos, "HTTP/SSL_GET checker url has no path - ignoring")
                continue
            urls.append(HttpUrl(**u))
        elif k == "virtualhost":
            f[k] = args[0] if args else None
        elif k == "http_protocol":
            if not args:
                b.d.error(c.pos, "Missing http_protocol version")
            elif args[0] in ("1.0", "1.1", "1.0C", "1.0c"):
                f[k] = args[0]
            else:
                b.d.error(c.pos, f"Invalid http_protocol version {args[0]}")
        elif k == "enable_sni":
            f[k] = read_bool(c, b.d)
        elif k == "host" and kind == "SMTP_CHECK":
            # keepalived logs this without counting it as a configuration error
            b.d.notice(c.pos, "The SMTP_CHECK host block is deprecated. Please define"
                              " additional checkers.")
        elif k == "helo_name":
            f[k] = args[0] if args else None
        elif k == "type":
            f["dns_type"] = args[0].upper() if args else None
        elif k == "name" and kind == "DNS_CHECK":
            f["dns_name"] = args[0] if args else None
        elif k == "name" and kind == "BFD_CHECK":
            options.append((k, " ".join(args)))           # resolved in config/bfd.py
        elif k == "payload":
            data = read_hex(" ".join(c.args))
            if data is None:
                b.d.error(c.pos, "Invalid hex string for UDP_CHECK payload")
            else:
                f["payload"] = data
        elif k == "require_reply":
            f["require_reply"] = True
        elif k == "misc_path":
            f["misc_path"] = b.script(c)
        elif k == "misc_timeout":
            if args and (x := read_decimal(args[0], 0, 2**31, c.pos, b.d)) is not None:
                f["misc_timeout"] = x
        elif k == "misc_dynamic":
            f["misc_dynamic"] = True
        elif k == "user" and kind == "MISC_CHECK":
            if args:
                user_of = (args[0], args[1] if len(args) > 1 else None)
            else:
                b.d.error(c.pos, "MISC_CHECK user requires a user name")
        elif k == "track_file":
            f["track_file"] = args[0] if args else None
        elif k == "weight":
            f["weight"] = read_int(args[0], -(2**31), 2**31 - 1, c.pos, b.d) if args else None
        else:
            options.append((k, " ".join(args)))
            b.later(c, kind)
    if kind in ("HTTP_GET", "SSL_GET") and not urls:
        b.d.error(node.pos, f"{kind} has no url - ignoring checker")
        return None
    if kind == "MISC_CHECK" and f.get("misc_path") is None:
        b.d.error(node.pos, "MISC_CHECK has no misc_path - ignoring checker")
        return None
    if kind == "MISC_CHECK" and user_of is not None:
        f["misc_path"] = replace(f["misc_path"], user=user_of[0], group=user_of[1])
    elif kind == "MISC_CHECK" and b.default_user_fails:     # (script_user does not exist)
        b.d.error(node.pos, f"Unable to set default user for misc script"
                            f" '{f['misc_path'].text}' - removing")
        return None
    if kind in ("SMTP_CHECK", "DNS_CHECK", "UDP_CHECK", "FILE_CHECK"):
        b.later(node, "real_server")
    f["urls"] = tuple(urls)
    f["options"] = tuple(options)
    return Checker(**f)


def _once(b: BuildContext, f: dict[str, Any], c: Node, vsg: str | None) -> None:
    """check_parser.c's notify_up/down and quorum_up/down handlers: a second script for the
    same keyword is an error and ignored (named by the virtual server's group, "(null)" for
    none, as keepalived prints it)."""
    if f.get(c.keyword) is not None:
        b.d.error(c.pos, f"({vsg or '(null)'}) {c.keyword} script already specified - ignoring"
                         f" {c.args[0] if c.args else ''}")
    else:
        f[c.keyword] = b.notify_script(c)


def _real_server(b: BuildContext, node: Node, sorry: bool = False,
                 vsg: str | None = None) -> RealServer | None:
    addr = _addr(b, node, 1)
    if addr is None:
        return None
    f: dict[str, Any] = {"address": addr, "port": _port(b, node, 2), "pos": node.pos}
    if f["port"] is None and len(node.words) > 2:       # check_data.c alloc_rs: skipped
        b.d.error(node.pos, f"Invalid real server ip address/port {node.words[1]}/"
                            f"{node.words[2]} - skipping")
        return None
    checkers: list[Checker] = []
    for c in node.children or ():
        k, args = c.keyword, c.args
        if k not in kw.REAL_SERVER:
            b.unknown(c)
        elif k in kw.CHECKERS:
            ch = _checker(b, c)
            if ch is not None:
                checkers.append(ch)
        elif _timing(b.d, c, f):
            pass
        elif k == "weight":
            if args and (v := read_int(args[0], 0, 65535, c.pos, b.d)) is not None:
                f["weight"] = v
        elif k == "inhibit_on_failure":
            f[k] = read_bool(c, b.d)
        elif k == "lvs_method":
            if args and args[0] in LVS_METHODS:
                f[k] = args[0]
            else:
                b.d.error(c.pos, f"Invalid lvs_method '{' '.join(args)}'")
        elif k in ("notify_up", "notify_down"):
            _once(b, f, c, vsg)
        elif k == "smtp_alert":
            yes = read_bool_or_none(c, b.d, "Invalid real_server smtp_alert parameter"
                                  f" {args[0] if args else ''}")
            if yes is not None:     # keepalived keeps what it had
                f[k] = yes
        elif k == "snmp_name":                 # realServerName (KEEPALIVED-MIB)
            if args:
                f[k] = args[0]
        elif k == "virtualhost":
            if args:
                f[k] = args[0]
            else:
                b.d.error(c.pos, "real server virtualhost missing")
        else:
            b.later(c, "real_server")
    f["checkers"] = tuple(checkers)
    return RealServer(**f)


def _inherited(ch: Checker, inherit: dict[str, Any], vhost: str | None) -> Checker:
    """A checker with what it does not set taken from its real/virtual server: timing, alpha,
    and for HTTP_GET/SSL_GET the virtualhost (url -> checker -> real -> virtual server)."""
    extra: dict[str, Any] = {k: v for k, v in inherit.items() if getattr(ch, k) is None}
    if vhost and ch.virtualhost is None and ch.kind in ("HTTP_GET", "SSL_GET"):
        extra["virtualhost"] = vhost
    return replace(ch, **extra)


def _same_family(b: BuildContext, f: dict[str, Any], reals: list[RealServer]
                 ) -> list[RealServer]:
    """keepalived's rs_end_handler / vs_end_handler: a real or sorry server of another address
    family than the virtual server (the first such server sets it for a fwmark or group
    service) is skipped with an error, unless it is tunnelled (IPVS tunnels across
    families)."""
    vs_method = f.get("lvs_method") or "NAT"
    af = f["address"].version if f.get("address") is not None else \
        {"inet": 4, "inet6": 6}.get(f.get("ip_family") or "")
    kept = []
    for rs in reals:
        if (rs.lvs_method or vs_method) != "TUN":
            if af is None:
                af = rs.address.version
            elif af != rs.address.version:
                b.d.error(rs.pos, "Address family of virtual server and real server"
                                  f" {rs.address} don't match - skipping real server.")
                continue
        kept.append(rs)
    sorry = f.get("sorry_server")
    if sorry is not None and (f.get("sorry_server_lvs_method") or vs_method) != "TUN":
        if af is not None and af != sorry.address.version:
            b.d.error(sorry.pos, "Address family of virtual server and sorry server"
                                 f" {sorry.address} don't match - skipping sorry server.")
            del f["sorry_server"]
    if f.get("fwmark") is not None and af is None:
        # every server tunnelled: their family if they all agree, else IPv4 (vs_end_handler)
        sorry = f.get("sorry_server")                    # (None when skipped above)
        fams = {r.address.version for r in kept} | (
            {sorry.address.version} if sorry is not None else set())
        af = fams.pop() if len(fams) == 1 else 4
    if f.get("fwmark") is not None:
        f["ip_family"] = "inet6" if af == 6 else "inet"     # the IPVS service's family
    return kept


def _one_of(b: BuildContext, c: Node, f: dict[str, Any], seen: set[str], field: str,
            allowed: Any, what: str) -> None:
    """`field` from the first word of `c` when `allowed` has it; else an error, and the
    keyword counts as not given (its default is said later)."""
    if c.args and c.args[0] in allowed:
        f[field] = c.args[0]
    else:
        b.d.error(c.pos, f"Invalid {what} '{' '.join(c.args)}'")
        seen.discard(c.keyword)


def _virtual_server(b: BuildContext, node: Node, group_names: frozenset[str] = frozenset()
                    ) -> VirtualServer | None:
    words = node.words
    f: dict[str, Any] = {"pos": node.pos}
    if len(words) >= 3 and words[1] == "fwmark":
        f["fwmark"] = read_int(words[2], 1, 2**32 - 1, node.pos, b.d)
        if f["fwmark"] is None:
            return None
    elif len(words) >= 3 and words[1] == "group":
        f["group"] = words[2]
    elif len(words) >= 2:
        f["address"] = read_address(words[1], node.pos, b.d)
        f["port"] = _port(b, node, 2) if len(words) > 2 else 0
        if f["address"] is None:
            return None
        if f["port"] is None:                           # check_data.c alloc_vs: skipped
            b.d.error(node.pos, f"Invalid virtual server IP address/port {words[1]}/{words[2]}"
                                " - skipping")
            return None
    else:
        b.d.error(node.pos, "virtual_server requires an address, fwmark or group")
        return None
    seen: set[str] = set()
    reals: list[RealServer] = []
    for c in node.children or ():
        k, args = c.keyword, c.args
        if k not in kw.VIRTUAL_SERVER:
            b.unknown(c)
            continue
        seen.add(k)
        if k == "real_server":
            rs = _real_server(b, c, vsg=f.get("group"))
            if rs is not None:
                reals.append(rs)
        elif k == "sorry_server":
            if (a := _addr(b, c, 1)) is not None:
                f["sorry_server"] = RealServer(address=a, port=_port(b, c, 2), pos=c.pos)
                f["sorry_server_inhibit"] = False   # a new sorry server: not inhibited yet
        elif k in ("lb_algo", "lvs_sched"):
            _one_of(b, c, f, seen, "lvs_sched", SCHEDULERS, "lvs_scheduler")
        elif k in ("lb_kind", "lvs_method"):
            _one_of(b, c, f, seen, "lvs_method", LVS_METHODS, "lvs_method")
        elif k == "protocol":
            if args and args[0].upper() in PROTOCOLS:
                f["protocol"] = args[0].upper()
            else:
                b.d.error(c.pos, f"Unknown protocol '{' '.join(args)}' - ignoring")
                seen.discard(k)
        elif k == "persistence_timeout":
            f[k] = read_int(args[0], 1, 2**31 - 1, c.pos, b.d) if args else 360
        elif k == "persistence_granularity":
            f[k] = args[0] if args else None
        elif k == "delay_loop":
            if args and (x := read_decimal(args[0], 0.000001, 2**31, c.pos, b.d)) is not None:
                f[k] = x
        elif k == "quorum":
            v = read_int(args[0], 1, 2**32 - 1, c.pos, b.d) if args else None
            if v is None:
                b.d.error(c.pos, f"Quorum {args[0] if args else ''} must be in"
                                 f" [1, {2**32 - 1}]. Setting to 1.")
            f[k] = v if v is not None else 1
        elif k == "hysteresis":
            v = read_int(args[0], 0, 2**32 - 1, c.pos, b.d) if args else None
            if v is None:
                b.d.error(c.pos, f"Hysteresis {args[0] if args else ''} must be in"
                                 f" [0, {2**32 - 1}] - ignoring")
            else:
                f[k] = v
        elif k in ("quorum_up", "quorum_down"):
            _once(b, f, c, f.get("group"))
        elif k in ("alpha", "omega", "ha_suspend", "inhibit_on_failure"):
            f[k] = True                 # check_parser.c: flags, whatever follows
        elif k == "sorry_server_inhibit":
            if f.get("sorry_server") is not None:
                f[k] = True
            else:
                b.d.error(c.pos, "Ignoring sorry_server inhibit used before or without"
                                 " sorry_server")
        elif k == "smtp_alert":
            yes = read_bool_or_none(c, b.d, "Invalid virtual_server smtp_alert parameter"
                                  f" {args[0] if args else ''}")
            if yes is not None:     # keepalived keeps what it had
                f[k] = yes
        elif k == "ip_family":
            fam = {"inet": 4, "inet6": 6}.get(args[0] if args else "")
            if fam is None:
                b.d.error(c.pos, f"unknown address family {args[0] if args else ''}")
            elif f.get("address") is not None and f["address"].version != fam:
                b.d.error(c.pos, f"Virtual server specified family {args[0]} conflicts with"
                                 " server family")
            else:
                f[k] = args[0]
        elif k == "sorry_server_lvs_method" and f.get("sorry_server") is None:
            b.d.error(c.pos, "sorry_server forwarding used without sorry_server")
        elif k == "sorry_server_lvs_method":
            f[k] = args[0] if args and args[0] in LVS_METHODS else None
        elif k == "virtualhost":
            if args:
                f[k] = args[0]
            else:
                b.d.error(c.pos, "virtual server virtualhost missing")
        elif k == "snmp_name":                 # virtualServerName (KEEPALIVED-MIB)
            if args:
                f[k] = args[0]
        elif k in TIMING:
            _timing(b.d, c, {})            # checked here, inherited by checkers below
        else:
            b.later(c, "virtual_server")
    vs_name = _vs_name(f)
    reals = _same_family(b, f, reals)
    if f.get("group") and f["group"] not in group_names:
        # ipwrapper.c link_vsg_to_vs, before any check of it: logged, not an error
        b.d.notice(node.pos, f"Virtual server group {f['group']} specified but not configured"
                             f" - ignoring virtual server {vs_name}")
        return None
    if not reals:
        # dropped before any other check of it (check_data.c): no scheduler/method messages
        b.d.error(node.pos, f"Virtual server {vs_name} has no real servers - ignoring")
        return None
    if f.get("group"):
        # checked against the group's entries once all groups are read (_check_group_ports)
        if "protocol" in seen:
            b.lvs_protocol_set.add(node.pos)
    elif "protocol" in seen and f.get("fwmark") is not None:
        b.d.error(node.pos, f"Warning: Virtual server {vs_name}: protocol specified for fwmark -"
                            " protocol will be ignored")
    if "protocol" not in seen and f.get("fwmark") is None and not f.get("group"):
        b.d.error(node.pos, f"Virtual server {vs_name}: no protocol set - defaulting to UDP")
        f["protocol"] = "UDP"
        vs_name = _vs_name(f)                # later messages say udp, as keepalived's
    if not seen & {"lb_algo", "lvs_sched"}:
        b.d.error(node.pos, f"Virtual server {vs_name}: no scheduler set, setting default 'wlc'")
    if not seen & {"lb_kind", "lvs_method"} and not all(r.lvs_method for r in reals):
        b.d.error(node.pos, f"Virtual server {vs_name}: no forwarding method set, setting"
                            " default NAT")
    # checkers inherit timing: checker <- real server <- virtual server
    vs_timing: dict[str, Any] = {}
    for c in node.children or ():
        if c.keyword in TIMING:
            _timing(Diagnostics(), c, vs_timing)     # already reported above
    resolved = []
    dup: set[tuple[object, object]] = set()
    for rs in reals:
        key = (rs.address, rs.port)
        if key in dup:
            b.d.error(rs.pos, f"VS {vs_name}: real server {rs.address}:{rs.port} is duplicated"
                              " - removing second rs")
            continue
        dup.add(key)
        if f.get("fwmark") is not None and rs.port and \
                (rs.lvs_method or f.get("lvs_method") or "NAT") != "NAT":
            b.d.warning(rs.pos, f"WARNING - fwmark virtual server {vs_name}, real server"
                                f" {_fmt_rs(rs, 'none')} has port specified - clearing")
        inherit = {**vs_timing, **{k: getattr(rs, k) for k in (*TIMING, "alpha")
                                   if getattr(rs, k) is not None}}
        # HTTP_GET/SSL_GET Host: url, checker, real server, virtual server (check_http.c)
        vhost = rs.virtualhost or f.get("virtualhost")
        checkers = tuple(_inherited(ch, inherit, vhost) for ch in rs.checkers)
        resolved.append(replace(rs, checkers=checkers))
    if not resolved:
        b.d.error(node.pos, f"Virtual server {vs_name} has no real servers - ignoring")
    else:
        total = sum(rs.weight for rs in resolved)
        quorum = f.get("quorum", 1)
        if quorum > total:
            b.d.warning(node.pos, f"Warning - quorum {quorum} for {vs_name} exceeds total weight"
                                  f" of real servers {total}, reducing quorum to {total}")
            f["quorum"] = quorum = total
        if f.get("hysteresis", 0) >= quorum and f.get("hysteresis", 0):
            b.d.error(node.pos, f"Virtual server {vs_name}: hysteresis {f['hysteresis']} >="
                                f" quorum {quorum}; setting hysteresis to {quorum - 1}")
            f["hysteresis"] = quorum - 1
        _check_ports(b, f, resolved, vs_name)
    f["real_servers"] = tuple(resolved)
    return VirtualServer(**f)


def _check_ports(b: BuildContext, f: dict[str, Any], reals: list[RealServer], vs_name: str) -> None:
    """check_data.c validate_check_config(): a zero port needs persistence; unless NAT, real
    and sorry servers use the virtual server's port (a fwmark service: no port at all)."""
    pos = f["pos"]
    by_address = f.get("fwmark") is None and not f.get("group")
    if by_address and not f.get("persistence_timeout") and not f.get("port"):
        b.d.error(pos, f"Virtual server {vs_name}: zero port only valid for persistent services"
                       " - setting")
        f["persistence_timeout"] = 360
    if f.get("group"):
        return
    vs_method = f.get("lvs_method") or "NAT"
    for rs in reals:
        if (rs.lvs_method or vs_method) == "NAT" or not rs.port:
            continue
        if by_address and rs.port != f.get("port"):
            b.d.warning(rs.pos, f"WARNING - virtual server {vs_name} and real server"
                                f" {_fmt_rs(rs, f.get('protocol'))} ports don't match -"
                                " resetting")
    sorry = f.get("sorry_server")
    if sorry is not None and (f.get("sorry_server_lvs_method") or vs_method) != "NAT" \
            and sorry.port:
        if not by_address:
            b.d.warning(sorry.pos, f"WARNING - virtual server {vs_name}, sorry server has port"
                                   " specified - clearing")
        elif sorry.port != f.get("port"):
            b.d.warning(sorry.pos, f"WARNING - virtual server {vs_name} and sorry server ports"
                                   " don't match - resetting")


def _check_group_ports(b: BuildContext, vs: VirtualServer, grp: VirtualServerGroup) -> VirtualServer:
    """check_data.c validate_check_config() for a virtual server on a group."""
    name = f"[{grp.name}]:0"                  # keepalived's FMT_VS of a group: [NAME]:port
    addrs = [e for e in grp.entries if e.fwmark is None]
    explicit = vs.pos in b.lvs_protocol_set
    if addrs and not explicit:
        b.d.error(vs.pos, f"Virtual server {name}: no protocol set - defaulting to UDP")
        vs = replace(vs, protocol="UDP")
    elif not addrs and explicit and grp.entries:
        b.d.error(vs.pos, f"Warning: Virtual server {name}: protocol specified for fwmark -"
                          " protocol will be ignored")
    if vs.persistence_timeout is None and any(not e.port for e in addrs):
        b.d.error(vs.pos, f"Virtual server {name}: zero port only valid for persistent services"
                          " - setting")
        vs = replace(vs, persistence_timeout=360)
    direct = [rs for rs in vs.real_servers if (rs.lvs_method or vs.lvs_method) != "NAT"]
    sorry = vs.sorry_server
    sorry_direct = sorry is not None and (vs.sorry_server_lvs_method or vs.lvs_method) != "NAT"
    if any(e.fwmark is not None for e in grp.entries):
        for rs in direct:
            if rs.port:
                b.d.warning(rs.pos, f"WARNING - fwmark virtual server {name}, real server"
                                    f" {_fmt_rs(rs, vs.protocol)} has port specified - port"
                                    " will be ignored")
        if sorry_direct and sorry is not None and sorry.port:
            b.d.warning(sorry.pos, f"WARNING - fwmark virtual server {name}, sorry server has"
                                   " port specified - port will be ignored")
    for e in addrs:
        for rs in direct:
            if rs.port and e.port != rs.port:
                b.d.error(rs.pos, f"virtual server {name}:[{e.address}] and real server"
                                  f" {_fmt_rs(rs, vs.protocol)} ports don't match")
        if sorry_direct and sorry is not None and sorry.port and e.port != sorry.port:
            b.d.warning(sorry.pos, f"WARNING - virtual server {name}, sorry server has port"
                                   " specified - port will be ignored")
    return vs


def _fmt_rs(rs: RealServer, protocol: str | None) -> str:
    """keepalived's FMT_RS: [address]:protocol:port (the virtual server's protocol, "none"
    for a fwmark service)."""
    return f"[{rs.address}]:{(protocol or 'none').lower()}:{rs.port or 0}"


def _vs_name(f: dict[str, Any]) -> str:
    if f.get("fwmark") is not None:
        return f"FWM {f['fwmark']}"
    if f.get("group"):
        return f"[{f['group']}]"
    proto = (f.get("protocol") or "none").lower()
    return f"[{f.get('address')}]:{proto}:{f.get('port')}"


def _vsg(b: BuildContext, node: Node) -> VirtualServerGroup | None:
    name = node.args[0] if node.args else ""
    if not name:
        b.d.error(node.pos, "virtual_server_group requires a name")
        return None
    entries = []
    for row in node.children or ():
        w = row.words
        if w[0] == "fwmark":
            if len(w) > 1 and (v := read_int(w[1], 1, 2**32 - 1, row.pos, b.d)) is not None:
                entries.append(VsgEntry(fwmark=v, pos=row.pos))
            continue
        first, _, last = w[0].partition("-")
        a = read_address(first, row.pos, b.d)
        if a is None:
            continue
        end = None
        if last:
            try:
                if a.version == 4:
                    end = ipaddress.ip_address(f"{first.rsplit('.', 1)[0]}.{last}")
                else:
                    end = ipaddress.ip_address(f"{first.rsplit(':', 1)[0]}:{last}")
            except ValueError:
                b.d.error(row.pos, f"Invalid address range '{w[0]}'")
                continue
            if int(end) < int(a):              # same family by construction
                b.d.error(row.pos, f"Address range '{w[0]}' ends before it starts")
                continue
        port = read_int(w[1], 0, 65535, row.pos, b.d) if len(w) > 1 else None
        entries.append(VsgEntry(address=a, last=end, port=port, pos=row.pos))
    if not entries:         # check_parser.c vsg_handler: "Ensure the group has some configuration"
        b.d.error(node.pos, f"virtual server group {name} has no entries - removing")
        return None
    return VirtualServerGroup(name=name, entries=tuple(entries), pos=node.pos)


def build(nodes: list[Node], g: GlobalDefs, b: BuildContext
          ) -> tuple[tuple[VirtualServerGroup, ...], tuple[VirtualServer, ...],
                     tuple[BfdInstance, ...]]:
    groups: list[VirtualServerGroup] = []
    servers: list[VirtualServer] = []
    bfds: list[BfdInstance] = []
    for node in nodes:
        if node.keyword == "virtual_server_group" and (grp := _vsg(b, node)) is not None:
            groups.append(grp)
    names = frozenset(grp.name for grp in groups)
    for node in nodes:
        if node.keyword == "SSL":
            f: dict[str, object] = {"pos": node.pos}
            for c in node.children or ():
                if c.keyword not in kw.SSL:
                    b.unknown(c)
                elif c.args:
                    f[c.keyword] = c.args[0]
            b.ssl = SslConfig(**f)  # type: ignore[arg-type]
        elif node.keyword == "virtual_server":
            if (vs := _virtual_server(b, node, names)) is not None:
                servers.append(vs)
        elif node.keyword == "bfd_instance":
            from keepalived_py.config.bfd import build_instance
            if (bfd := build_instance(node, b.d, b.unknown, bfds)) is not None:
                bfds.append(bfd)
    from keepalived_py.config.bfd import resolve_bfd_checks  # BFD hook (issue 17)
    servers = resolve_bfd_checks(servers, tuple(bfds), b.d)
    kept = []
    for vs in servers:
        if vs.real_servers:
            if vs.group is not None:
                vs = _check_group_ports(b, vs, next(g for g in groups if g.name == vs.group))
            kept.append(vs)
    scripts = [ch.misc_path for vs in kept for rs in vs.real_servers for ch in rs.checkers]
    scripts += [x for vs in kept for rs in vs.real_servers for x in (rs.notify_up, rs.notify_down)]
    scripts += [x for vs in kept for x in (vs.quorum_up, vs.quorum_down)]
    if kept:
        scripts += [g.notify_fifo_script, g.lvs_notify_fifo_script]
    if b.default_user_fails:                   # dropped: they have no user to run as
        scripts = [s for s in scripts if getattr(s, "user", None) is not None]
    if any(b.host.is_script(s) for s in scripts) and not g.enable_script_security:  # type: ignore[arg-type]
        b.d.security(None, "SECURITY VIOLATION - check scripts are being executed but"
                           " script_security not enabled.")
    return tuple(groups), tuple(kept), tuple(bfds)
