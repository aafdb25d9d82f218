"""static_ipaddress, static_routes and static_rules: installed by the VRRP child at start and
kept whatever the instances' states, as keepalived 2.2.7 does; on reload only the difference is
applied; removed when the daemon stops (not when the VRRP child is respawned: what a new child
adds again is "already there"). An address without `dev` goes on global_defs'
default_interface (keepalived's default eth0). Addresses go first and leave last, so that a
route's gateway is reachable when the route is added. The netlink work is `addresses.Netlink`'s.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from keepalived_py.config.model import Config
from keepalived_py.vrrp.addresses import Netlink

WHO = "static"
T = TypeVar("T")


def _minus(a: Sequence[T], b: Sequence[T]) -> list[T]:
    return [x for x in a if x not in b]


async def apply_static(nl: Netlink, old: Config | None, new: Config) -> None:
    """Bring the kernel from `old`'s static configuration (None: nothing known) to `new`'s."""
    o_addr = old.static_ipaddress if old is not None else ()
    o_route = old.static_routes if old is not None else ()
    o_rule = old.static_rules if old is not None else ()
    if _minus(o_rule, new.static_rules):
        await nl.set_rules(False, _minus(o_rule, new.static_rules), WHO)
    if _minus(o_route, new.static_routes):
        await nl.set_routes(False, _minus(o_route, new.static_routes), None, WHO)
    if _minus(o_addr, new.static_ipaddress):
        await nl.set_addresses(False, _minus(o_addr, new.static_ipaddress),
                               old.global_defs.default_interface if old else "", WHO)
    # everything of `new` is (re)asserted: a respawned child or an operator's deletion
    if new.static_ipaddress:
        await nl.set_addresses(True, new.static_ipaddress, new.global_defs.default_interface, WHO)
    if new.static_routes:
        await nl.set_routes(True, new.static_routes, None, WHO)
    if new.static_rules:
        await nl.set_rules(True, new.static_rules, WHO)


async def remove_static(nl: Netlink, config: Config) -> None:
    """At stop: rules, routes, then addresses."""
    if config.static_rules:
        await nl.set_rules(False, config.static_rules, WHO)
    if config.static_routes:
        await nl.set_routes(False, config.static_routes, None, WHO)
    if config.static_ipaddress:
        await nl.set_addresses(False, config.static_ipaddress, config.global_defs.default_interface,
                               WHO)


async def reinstate(nl: Netlink, config: Config, ifname: str) -> None:
    """The interface came (back) up: its static addresses and routes are added again, those
    marked no_track excepted (keepalived's static_track_group_reinstate_config; the kernel
    drops IPv6 addresses on link down and everything when an interface is re-created)."""
    dflt = config.global_defs.default_interface
    addrs = [a for a in config.static_ipaddress if (a.dev or dflt) == ifname and not a.no_track]
    routes = [r for r in config.static_routes if r.dev == ifname and not r.no_track]
    if addrs:
        await nl.set_addresses(True, addrs, dflt, WHO)
    if routes:
        await nl.set_routes(True, routes, None, WHO)


def static_interfaces(config: Config) -> set[str]:
    dflt = config.global_defs.default_interface
    return {a.dev or dflt for a in config.static_ipaddress} | \
        {r.dev for r in config.static_routes if r.dev}
