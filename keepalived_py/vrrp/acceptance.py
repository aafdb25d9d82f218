"""Which received adverts reach an instance's state machine, and keepalived's words for a drop.

Theory of operation. A decoded advert (packet.decode already refused what is malformed)
arrives on a socket shared by the instances of one interface and family. The daemon hands it
to the instance with its VRID; `screen` then applies the checks keepalived's
vrrp_check_packet makes before the instance's state matters - unicast peer and its TTL range,
version, v2 authentication and v2 advert interval - and returns the `Drop` (a packet.Reason,
whose `.counter` is keepalived's stats counter, and keepalived's log line) or None. The state
machine (machine.Instance._check) makes the checks that depend on its state (address list,
checksum form, multicast TTL); `reject_line` words those drops as keepalived does. Pure: no
I/O, no clock, no logging.
"""
from __future__ import annotations


from keepalived_py.config.model import VrrpInstance
from keepalived_py.record import Record
from keepalived_py.vrrp.packet import AUTH_NONE, AUTH_PASS, Address, Advert, Reason


class Drop(Record, kw_only=False):
    """An advert refused: why (its counter is `reason.counter`) and keepalived's log line."""

    reason: Reason
    line: str

    @property
    def counter(self) -> str:
        return self.reason.counter


def screen(adv: Advert, src: Address, ttl: int, cfg: VrrpInstance,
           check_unicast_src: bool = False) -> Drop | None:
    """The drop for an advert from `src` received with `ttl` by the instance `cfg`, or None
    when it goes on to the state machine. The VRID has matched already (it picks the instance).
    `check_unicast_src`: global_defs' vrrp_check_unicast_src, or'ed in as keepalived does (the
    instance's own flag stays as configured: keepalived.data shows it).
    """
    name = cfg.name
    if cfg.unicast_peer:
        peer = next((p for p in cfg.unicast_peer if p.address == src), None)
        if peer is None and (cfg.check_unicast_src or check_unicast_src):
            return Drop(Reason.UNKNOWN_PEER, f"({name}) unicast source address {src} not a"
                                             " unicast peer")
        if peer is not None and ((peer.min_ttl is not None and ttl < peer.min_ttl) or
                                 (peer.max_ttl is not None and ttl > peer.max_ttl)):
            return Drop(Reason.BAD_TTL, f"({name}) invalid TTL/HL. Received {ttl} and expect"
                                        f" {peer.min_ttl or 0}-{peer.max_ttl or 255}")
    if adv.version != cfg.version:
        return Drop(Reason.BAD_VERSION, f"({name}) wrong version. Received {adv.version} and"
                                        f" expect {cfg.version}")
    if adv.version == 2 and cfg.auth_type == "PASS":
        if adv.auth_type != AUTH_PASS:
            return Drop(Reason.AUTH_TYPE_MISMATCH, f"({name}) received a {adv.auth_type} auth,"
                                                   f" expecting {AUTH_PASS}!")
        if adv.auth_data.rstrip(b"\0") != (cfg.auth_pass or "").encode()[:8]:
            return Drop(Reason.AUTH_FAILURE, f"({name}) received an invalid passwd!")
    elif adv.version == 2 and adv.auth_type != AUTH_NONE and cfg.auth_type is None:
        return Drop(Reason.AUTH_TYPE_MISMATCH, f"({name}) received a {adv.auth_type} auth,"
                                               f" expecting {AUTH_NONE}!")
    if adv.version == 2 and adv.interval != cfg.advert_int:
        return Drop(Reason.BAD_INTERVAL, f"({name}) advertisement interval mismatch"
                                         f" mine={int(cfg.advert_int)} sec"
                                         f" rcv'd={int(adv.interval)} sec")
    return None


def reject_line(reason: Reason, detail: str, source: Address, adv: Advert, cfg: VrrpInstance,
                ttl: int) -> str:
    """keepalived 2.2.7's words (vrrp_check_packet) for a drop the state machine decided."""
    name = cfg.name
    if reason is Reason.BAD_TTL:
        return f"({name}) invalid TTL/HL. Received {ttl} and expect 255"
    if reason is Reason.BAD_VERSION:
        return f"({name}) wrong version. Received {adv.version} and expect {cfg.version}"
    if reason is Reason.AUTH_TYPE_MISMATCH:
        return f"({name}) received a {adv.auth_type} auth, expecting {cfg.auth_type or 0}!"
    if reason is Reason.AUTH_FAILURE:
        return f"({name}) received an invalid passwd!"
    if reason is Reason.BAD_INTERVAL:
        return (f"({name}) advertisement interval mismatch mine={int(cfg.advert_int)} sec"
                f" rcv'd={int(adv.interval)} sec")
    if reason is Reason.BAD_ADDR_COUNT:
        ours = len([v for v in cfg.virtual_ipaddress if v.address.version == cfg.family])
        return (f"({name}) received an unexpected ip number count {len(adv.addresses)},"
                f" expected {ours}!")
    if reason is Reason.BAD_CHECKSUM:
        return f"({name}) Invalid VRRPv{adv.version} checksum"
    return f"({name}) advert from {source} dropped: {detail}"
