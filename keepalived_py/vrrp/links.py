"""The VRRP child's view of its interfaces: netlink link and address events. Edge.

Theory of operation. One task reads the netlink event socket (vrrp/addresses.Netlink) and
turns each message into what the instances need:
  * RTM_NEWLINK / RTM_DELLINK: the tracked-interface result, the instance's link state (a
    FAULT reason), and a socket reopened when the interface comes back (maybe re-created,
    with another ifindex);
  * RTM_NEWADDR: an instance without a source address looks again (it leaves FAULT);
  * RTM_DELADDR: keepalived's rules, a deleted virtual address (not no_track) takes its
    MASTER to BACKUP (machine.AddressLost), a deleted source address makes the instance look
    for another (FAULT until there is one).
Interface indexes come from the Netlink cache (one if_nametoindex per name, forgotten when
the link goes or comes back with another index): a burst of RTM_DELADDR at a few hundred
instances costs dictionary lookups, not a system call per instance per message.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
from typing import TYPE_CHECKING, Any

from keepalived_py.obs import slog
from keepalived_py.vrrp import machine as m
from keepalived_py.vrrp.addresses import primary_address
from keepalived_py.vrrp.packet import Address

if TYPE_CHECKING:
    from keepalived_py.vrrp.daemon import Runner, VrrpDaemon
    from keepalived_py.vrrp.transport import VrrpSocket

log = slog.get_logger("keepalived_py.vrrp")

IFF_UP, IFF_RUNNING = 0x1, 0x40
LINK_EVENTS = ("RTM_NEWLINK", "RTM_DELLINK", "RTM_NEWADDR", "RTM_DELADDR")


def link_up(ifname: str) -> bool:
    """Whether the interface is administratively up and operationally up (or unknown)."""
    try:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            flags = int(f.read().strip(), 16)
        with open(f"/sys/class/net/{ifname}/operstate") as f:
            oper = f.read().strip()
    except (OSError, ValueError):
        return False
    return bool(flags & IFF_UP) and oper in ("up", "unknown")


class Links:
    """Netlink events -> the daemon's instances (runners, sockets, tracking)."""

    def __init__(self, daemon: VrrpDaemon) -> None:
        self.d = daemon
        self._index: dict[Any, frozenset[int]] = {}    # address_deleted's VIP index
        self._indexed: tuple[Any, ...] = ()            # the runners and configurations it was built from
        self._held: list[Runner] = []                  # the runners whose ids it holds

    async def watch(self) -> None:
        netlink = self.d.netlink
        assert netlink.events is not None
        while True:
            try:
                async for msg in netlink.events.get():
                    self.event(msg)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("vrrp.netlink.event_failed", error=repr(e))
                await asyncio.sleep(0.1)

    def event(self, msg: Any, debounced: bool = False) -> None:
        event = msg.get("event")
        if event not in LINK_EVENTS:
            return
        d = self.d
        if event == "RTM_DELADDR":
            self.address_deleted(msg)
            return
        if event == "RTM_NEWADDR":
            for r in d.runners.values():
                if r.src is None and r.cfg.interface:
                    src = self.primary_of(r)
                    if src is not None:
                        self.set_primary(r, src)
                        d._refresh_tracking(r)
            return
        ifname = msg.get_attr("IFLA_IFNAME")
        if not ifname:
            return
        flags = msg.get("flags", 0)
        up = event == "RTM_NEWLINK" and bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)
        # -- issue 12: a polled interface's state is linkbeat's (vrrp/linkbeat.py); a change
        # waits out interface_up_down_delays (vrrp/debounce.py)
        if d.linkbeat.polled(ifname) and event == "RTM_NEWLINK":
            up = d.linkbeat.state[ifname]
        if not debounced and d.debounce.delays and d.loop is not None and \
                not d.debounce.admit(d.loop, ifname, up, msg,
                                     functools.partial(self.event, debounced=True)):
            return
        if event == "RTM_DELLINK":
            d.netlink.forget(ifname)
            for r in list(d.runners.values()):      # -- issue 12: a VMAC deleted by hand
                if r.vmac == ifname and ifname in d.vmacs.ours and d.loop is not None:
                    log.info("vrrp.vmac.deleted", interface=ifname,
                             compat=f"Interface {ifname} deleted")
                    d.loop.create_task(d._vmac_recreate(r))
        else:
            d.netlink.learn(ifname, msg.get("index"))
        d._static_link(ifname, up)                  # -- issue 12: static addresses back
        if d.tracking is not None and ifname in d.tracking.watched("interface"):
            d._tracked("interface", ifname, up)
        for r in d.runners.values():
            if r.cfg.interface != ifname:
                continue
            stale = r.sock is None or r.sock.ifindex != msg.get("index")
            if up and stale:
                self.reopen(r)                  # the interface came back, maybe re-created
            if up != r.link_up or (up and stale):
                r.link_up = up
                d._refresh_tracking(r)

    def address_deleted(self, msg: Any) -> None:
        """keepalived's rules: a deleted VIP (not no_track) sends its MASTER to BACKUP; a
        deleted source address takes the instance to FAULT until another one appears."""
        d = self.d
        assert d.loop is not None
        text = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
        if not text:
            return
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return
        index = msg.get("index")
        ifindex = d.netlink.ifindex
        vip_of = self._vip_index().get(addr, frozenset())
        for r in list(d.runners.values()):
            # only the instances this address is a tracked VIP or the source of: a burst of
            # RTM_DELADDR (a BACKUP of 200 instances dropping its VIPs) costs a dictionary
            # lookup and a comparison per instance and message, not a scan of every VIP
            vip = id(r) in vip_of
            if not vip and r.src != addr:
                continue
            if not r.cfg.interface or index not in (ifindex(r.cfg.interface),
                                                    ifindex(r.ifname)) and not any(
                    a.dev and ifindex(a.dev) == index for a in r.cfg.virtual_ipaddress):
                continue
            if vip and r.fsm.state is m.State.MASTER and r.holding:
                log.warning("vrrp.address.deleted", instance=r.name, address=str(addr),
                            compat=f"({r.name}) virtual address {addr} deleted - going BACKUP")
                d._apply(r, r.fsm.handle(m.AddressLost(str(addr)), d.loop.time()))
            elif r.src == addr and not r.cfg.unicast_src_ip and not r.cfg.mcast_src_ip:
                self.set_primary(r, self.primary_of(r))
                d._refresh_tracking(r)

    def _vip_index(self) -> dict[Any, frozenset[int]]:
        """address -> the ids of the instances (runners) it is a tracked (not no_track)
        virtual or excluded address of; rebuilt when the instances or their configurations
        change (a reload gives a runner a new one). The runners it was built from are held,
        so their ids stay theirs."""
        runners = self.d.runners.values()
        key = (tuple(map(id, runners)), tuple(r.cfg for r in runners))
        if key != self._indexed:       # identical items compare by identity, in C
            index: dict[Any, set[int]] = {}
            for r in self.d.runners.values():
                for a in r.cfg.virtual_ipaddress + r.cfg.virtual_ipaddress_excluded:
                    if not a.no_track:
                        index.setdefault(a.address.ip, set()).add(id(r))
            self._index = {k: frozenset(v) for k, v in index.items()}
            self._indexed, self._held = key, list(runners)
        return self._index

    def reopen(self, r: Runner) -> None:
        """The interface is back: a new socket for every instance sharing the old one, and
        their source address read again."""
        from keepalived_py.vrrp.auth import uses_ah
        from keepalived_py.vrrp.daemon import _sock_key
        d, inst = self.d, r.cfg
        key = _sock_key(inst, r.vmac)
        old = d.sockets.pop(key, None)
        if old is not None and d.loop is not None:
            d.loop.remove_reader(old.fileno())
            old.close()
        d.netlink.forget(inst.interface)
        try:
            sock: VrrpSocket | None = d._socket(inst, r)
        except OSError:
            sock = None
        src = self.primary_of(r)
        for other in d.runners.values():
            if other.cfg.interface == inst.interface and other.cfg.family == inst.family \
                    and uses_ah(other.cfg) == uses_ah(inst):
                other.sock = sock
                if not (other.cfg.unicast_src_ip or other.cfg.mcast_src_ip) and src is not None:
                    self.set_primary(other, src)      # (a configured source stays: issue 12)
                other.cache.clear()
                other.garp_frames.clear()
        from keepalived_py.vrrp import overflow
        overflow.socket_replaced(d, sock)               # rx buffer, priority lane (issue 15)

    @staticmethod
    def primary_of(r: Runner) -> Address | None:
        """The instance's interface's primary address of its family, read now."""
        if not r.cfg.interface:
            return None
        return primary_address(r.cfg.interface, r.cfg.family)

    def set_primary(self, r: Runner, src: Address | None) -> None:
        """Our source address is now `src`: the machine hears it (the tie-break, the v3
        checksum), the pre-encoded adverts go."""
        assert self.d.loop is not None
        r.src = src
        r.fsm.handle(m.PrimaryChanged(src), self.d.loop.time())
        r.cache.clear()
