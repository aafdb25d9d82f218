"""garp_extra_if / vrrp_garp_extra_if SECS all: while MASTER, every SECS seconds, a gratuitous
ARP / unsolicited NA on each interface other than the instance's that holds one of its VIPs,
for the first such VIP (keepalived 2.2.7 vrrp_send_vmac_update: one per interface). The
first one goes SECS after becoming MASTER."""
from __future__ import annotations

from keepalived_py.config.model import VirtualAddress, VrrpInstance


def targets(inst: VrrpInstance, only: set[str] | None = None) -> tuple[VirtualAddress, ...]:
    """The first VIP (then excluded VIP) of each extra interface, in configuration order;
    `only`: those interfaces alone (without `all`: the per-address VMACs, vrrp/addr_vmac.py,
    as keepalived sends "for VMAC i/fs" only)."""
    out: list[VirtualAddress] = []
    done: set[str] = set()
    for a in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
        if a.dev and a.dev != inst.interface and a.dev not in done \
                and (only is None or a.dev in only):
            done.add(a.dev)
            out.append(a)
    return tuple(out)
