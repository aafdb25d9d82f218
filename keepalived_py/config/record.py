"""The configuration model's Record base (keepalived_py/record.py: frozen, slotted,
keyword-only classes that behave as dataclasses do, cheap to define), and how the model's
addresses pickle (as integers: the VRRP child unpickles every instance's at each reload).
"""
from __future__ import annotations

import copyreg
import ipaddress
from typing import Any

from keepalived_py.record import Record

__all__ = ["Record"]


# The model's interface and network addresses (VIPs, routes) pickle as (integer, prefix length)
# rather than ipaddress's text form, which the child parses again on every reload (~6x slower to
# build). An IPv6 address with a %scope keeps the text form (the tuple form has no scope).
def _by_int(obj: Any) -> tuple[Any, ...]:
    if getattr(obj, "_scope_id", None):
        return type(obj), (str(obj),)
    ip = obj.network_address if isinstance(obj, ipaddress._BaseNetwork) else obj
    return type(obj), ((int(ip), obj._prefixlen),)


for _cls in (ipaddress.IPv4Interface, ipaddress.IPv6Interface, ipaddress.IPv4Network,
             ipaddress.IPv6Network):
    copyreg.pickle(_cls, _by_int)
