"""The address types every module shares (one definition, not one per module). Pure."""
from __future__ import annotations

import ipaddress

#: an IPv4 or IPv6 address (VRRP's `Address`, the configuration's `IPAddress`)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: an address with its prefix, as on an interface (virtual_ipaddress lines)
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
#: a prefix (routes, rules)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
