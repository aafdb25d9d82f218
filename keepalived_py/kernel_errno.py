"""The one "already done" rule for kernel changes, shared by the VRRP child's netlink
(vrrp/addresses.py: addresses, routes, rules) and the checker's dataplanes (check/dataplane.py:
IPVS services and destinations). Pure.

An add that finds the object there (EEXIST), a delete that finds it gone (EADDRNOTAVAIL,
ENOENT, ESRCH: IPVS's "no such service/destination") or its interface gone (ENODEV) did what
was asked: the kernel may race us, an operator or a previous child may have done it.
"""
from __future__ import annotations

import errno

DONE_ON_ADD = frozenset({errno.EEXIST})
DONE_ON_DEL = frozenset({errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH, errno.ENODEV})


def already_done(add: bool, code: int | None) -> bool:
    """Does the kernel error `code` on an add (`add`) or a delete mean "already done"?"""
    return code in (DONE_ON_ADD if add else DONE_ON_DEL)
