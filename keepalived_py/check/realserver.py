"""Health-check state, pure: one checker's up/down with retry and delays, and what a virtual
server should send traffic to.

Theory of operation (keepalived's checker semantics). A checker runs every `delay_loop`
seconds, the first time 1 s plus a random part of `warmup` (default: the delay_loop) after
start. A success marks it up at once. A failure is
retried `retry` times, `delay_before_retry` apart; only when every retry failed is it down —
so a dead server is out within retry x delay_before_retry (+ up to delay_loop). A checker
starts up, unless `alpha` is set, when it starts down and needs a success. A real server is up
when all its checkers are; with no checker it is always up. The virtual server sends traffic
to the up real servers in proportion to their weight (an `inhibit_on_failure` server stays in
the table with weight 0); if that leaves nothing — or the live weight is below `quorum` (with
`hysteresis`) — the sorry server takes the traffic.
"""
from __future__ import annotations


from keepalived_py.config.model_lvs import Checker, RealServer, VirtualServer
from keepalived_py.record import Record

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_RETRY = 1
DEFAULT_DELAY_BEFORE_RETRY = 1.0
BOOTSTRAP_DELAY = 1.0           # keepalived's: every checker's first check waits this, + warmup


class CheckState(Record, kw_only=False, frozen=False):
    delay_loop: float
    retry: int
    delay_before_retry: float
    timeout: float
    up: bool = True
    failures: int = 0
    next_at: float = 0.0
    last_reason: str = ""
    checks: int = 0
    has_run: bool = False       # a first decisive result was reached (keepalived logs it)

    @classmethod
    def from_config(cls, ch: Checker, vs: VirtualServer, now: float,
                    fraction: float | None = None) -> CheckState:
        """`fraction` (0..1, random in the daemon): the first check comes keepalived's
        BOOTSTRAP_DELAY (1 s) plus that fraction of `warmup` after `now` — warmup defaults to
        the delay_loop, so checkers start spread over one loop (check_api.c); None: at `now`."""
        alpha = ch.alpha if ch.alpha is not None else vs.alpha
        s = cls(delay_loop=ch.delay_loop or vs.delay_loop,
                retry=ch.retry if ch.retry is not None else DEFAULT_RETRY,
                delay_before_retry=(ch.delay_before_retry if ch.delay_before_retry is not None
                                    else DEFAULT_DELAY_BEFORE_RETRY),
                timeout=ch.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
                up=not alpha)
        if fraction is None:
            s.next_at = now + (ch.warmup or 0.0)
        else:
            warmup = ch.warmup if ch.warmup is not None else s.delay_loop
            s.next_at = now + BOOTSTRAP_DELAY + warmup * fraction
        return s

    def result(self, ok: bool, now: float, reason: str = "",
               started: float | None = None) -> bool | None:
        """Record one check; returns the new up/down when it changes. `started`: when the
        check was due; the next one is then due delay_loop after that (a fixed rate, no drift
        accumulating check after check) unless the check outlasted delay_loop, when it is
        delay_loop after `now` (keepalived's spacing)."""
        self.checks += 1
        self.last_reason = reason
        period = now + self.delay_loop
        if started is not None and now < started + self.delay_loop:
            period = started + self.delay_loop
        if ok:
            self.failures = 0
            self.next_at = period
            self.has_run = True
            if not self.up:
                self.up = True
                return True
            return None
        self.failures += 1
        if self.failures <= self.retry:
            self.next_at = now + self.delay_before_retry
            return None
        self.failures = 0
        self.next_at = period
        self.has_run = True
        if self.up:
            self.up = False
            return False
        return None


    def event(self, ok: bool, reason: str = "") -> bool | None:
        """An event-driven checker's verdict (BFD_CHECK: a session Up / Down), taken at once
        with no retry, as keepalived's update_svr_checker_state; the new up/down if changed."""
        self.checks += 1
        self.last_reason = reason
        self.has_run = True
        if ok == self.up:
            return None
        self.up = ok
        return ok


class Target(Record, kw_only=False):
    address: str
    port: int
    weight: int
    method: str = ""            # lvs_method of this server when it is not the virtual server's


def quorum_up(total: int, vs: VirtualServer, was_up: bool) -> bool:
    """keepalived's quorum with hysteresis: once up it stays up down to quorum - hysteresis;
    once down it needs quorum + hysteresis."""
    if was_up:
        return total >= max(1, vs.quorum - vs.hysteresis)
    return total >= max(1, vs.quorum + vs.hysteresis)


def targets(vs: VirtualServer, up: dict[int, bool], weights: dict[int, int] | None = None,
            was_up: bool = True) -> tuple[tuple[Target, ...], bool]:
    """(the backends traffic goes to, whether that is the sorry server). `up` maps the index of
    each real server in vs.real_servers to its state; `weights` overrides a server's weight
    (misc_dynamic); `was_up` is the quorum state before (hysteresis). A down real server with
    `inhibit_on_failure` (its own or the virtual server's) stays, with weight 0: no new
    connections, its established ones untouched; it stays beside the sorry server too
    (keepalived removes only the live servers when the sorry server comes in)."""
    live: list[Target] = []
    inhibited: list[Target] = []
    total = 0
    for i, rs in enumerate(vs.real_servers):
        port = _port(rs, vs)
        weight = (weights or {}).get(i, rs.weight)
        method = rs.lvs_method if rs.lvs_method and rs.lvs_method != vs.lvs_method else ""
        if up.get(i, True) and weight > 0:
            live.append(Target(str(rs.address), port, weight, method))
            total += weight
        elif not up.get(i, True) and (rs.inhibit_on_failure or vs.inhibit_on_failure):
            inhibited.append(Target(str(rs.address), port, 0, method))
    s = vs.sorry_server
    s_method = (vs.sorry_server_lvs_method
                if vs.sorry_server_lvs_method and vs.sorry_server_lvs_method != vs.lvs_method
                else "")
    if quorum_up(total, vs, was_up):
        if s is not None and vs.sorry_server_inhibit:
            # sorry_server_inhibit: the sorry server stays defined, weight 0, while unused
            inhibited.append(Target(str(s.address), _port(s, vs), 0, s_method))
        return _merge(live, inhibited), False
    if s is not None:
        return _merge([Target(str(s.address), _port(s, vs), s.weight, s_method)],
                      inhibited), True
    return _merge([], inhibited), False


def _merge(first: list[Target], zeros: list[Target]) -> tuple[Target, ...]:
    """`first`, then the weight-0 entries that are not the same address/port (a sorry
    server equal to an inhibited real server is the sorry server)."""
    seen = {(t.address, t.port) for t in first}
    return tuple(first) + tuple(t for t in zeros if (t.address, t.port) not in seen)


def _port(rs: RealServer, vs: VirtualServer) -> int:
    if vs.fwmark is not None:          # keepalived clears it: the packet's port is kept
        return 0
    return rs.port if rs.port else (vs.port or 0)
