"""The dataplane interface shared by nftables and IPVS (check/dataplane.py)."""
from __future__ import annotations

import errno
import ipaddress

import pytest

from keepalived_py.check import dataplane, ipvs, nft
from keepalived_py.config.model_lvs import VirtualServer


@pytest.mark.parametrize(("code", "adding", "done"), [
    (errno.EEXIST, True, True), (errno.ENOENT, True, False), (None, True, False),
    (errno.ENOENT, False, True), (errno.ESRCH, False, True), (errno.EADDRNOTAVAIL, False, True),
    (errno.EEXIST, False, False), (errno.EPERM, False, False), (errno.EPERM, True, False)])
def test_dataplane_already_done_by_errno(code: int | None, adding: bool, done: bool) -> None:
    assert dataplane.already_done(code, adding) is done


def test_dataplane_vs_id_is_one_function_for_both_dataplanes() -> None:
    vs = VirtualServer(address=ipaddress.ip_address("192.0.2.10"), port=80, protocol="TCP")
    other = VirtualServer(address=ipaddress.ip_address("192.0.2.10"), port=443, protocol="TCP")
    assert nft.vs_id is dataplane.vs_id
    assert dataplane.vs_id(vs) == dataplane.vs_id(vs) != dataplane.vs_id(other)
    assert dataplane.vs_id(vs).startswith("vs_") and len(dataplane.vs_id(vs)) == 13


def test_dataplane_both_kinds_offer_every_operation() -> None:
    ops = {"setup", "flush_all", "apply", "remove", "prune", "present", "restore", "teardown"}
    for cls in (nft.NftDataplane, ipvs.IpvsDataplane):
        assert ops <= set(dir(cls)), cls
        assert isinstance(cls().groups, dict)
