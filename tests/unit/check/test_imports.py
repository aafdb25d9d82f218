"""The checker child imports what its configuration uses (issue 16.3: memory of the tree with
the checker): no pyroute2 to find out whether the kernel has IPVS, no IPVS API on the
nftables dataplane, no checkers module or TLS context for TCP_CHECKs alone."""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

from keepalived_py.check import genl
from keepalived_py.check.daemon import _tls
from keepalived_py.config.model import Config
from keepalived_py.config.model_lvs import Checker, RealServer, SslConfig, VirtualServer


def test_the_checker_daemon_module_imports_no_pyroute2_ipvs_api_or_checkers() -> None:
    code = ("import sys, json\nimport keepalived_py.check.daemon\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('pyroute2',"
            " 'keepalived_py.check.ipvs', 'keepalived_py.check.checkers', 'structlog')))))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    assert json.loads(out) == []


def test_the_ipvs_probe_is_a_raw_generic_netlink_request_without_pyroute2() -> None:
    """The controller answers for a family every kernel has (nlctrl, id 0x10) — the same
    CTRL_CMD_GETFAMILY request `ipvs_available` sends for "IPVS" — and nothing of pyroute2
    is imported. (A kernel without IPVS answers ENOENT: tests/integration/test_nft_lb.py's
    probe in a namespace; with IPVS: test_check.py's.)"""
    code = ("import sys\nfrom keepalived_py.check import genl\n"
            "s = genl.GenlSocket(b'nlctrl'); s.open(); print(s.family); s.close()\n"
            "print(genl.has_family(b'nlctrl'))\n"
            "print(any(m.startswith('pyroute2') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=60).stdout.split()
    assert out == [str(genl.GENL_ID_CTRL), "True", "False"]


def test_a_netlink_error_answer_is_a_genl_error_with_the_kernels_errno() -> None:
    """An unknown command to the controller: the kernel's NLMSG_ERROR (EOPNOTSUPP) comes back
    as GenlError, an OSError, which has_family turns into False."""
    s = genl.GenlSocket(b"nlctrl")
    s.open()
    try:
        s.request(250)
    except genl.GenlError as e:
        assert e.code == e.errno and e.code > 0
        assert isinstance(e, OSError)
    else:
        raise AssertionError("the controller accepted command 250")
    finally:
        s.close()
    assert s.sock is None


def test_attributes_round_trip_and_a_truncated_one_ends_the_list() -> None:
    raw = genl.nla(genl.CTRL_ATTR_FAMILY_NAME, b"IPVS\0") + genl.nla(7, b"\x01\x02")
    assert len(raw) % 4 == 0
    assert genl.parse_nlas(raw) == {genl.CTRL_ATTR_FAMILY_NAME: b"IPVS\0", 7: b"\x01\x02"}
    assert genl.parse_nlas(raw[:-3]) == {genl.CTRL_ATTR_FAMILY_NAME: b"IPVS\0"}
    nested = genl.nla(3 | genl.NLA_F_NESTED, genl.nla(1, b"ab"))
    assert genl.parse_nlas(nested) == {3: genl.nla(1, b"ab")}


def test_the_tls_context_is_built_only_for_ssl_get() -> None:
    A = ipaddress.ip_address

    def conf(kind: str) -> Config:
        rs = RealServer(address=A("198.51.100.11"), port=443,
                        checkers=(Checker(kind=kind),))
        return Config(virtual_servers=(VirtualServer(address=A("192.0.2.100"), port=443,
                                                     real_servers=(rs,)),),
                      ssl=SslConfig())
    assert _tls(conf("TCP_CHECK")) is None
    assert _tls(conf("HTTP_GET")) is None
    import ssl
    ctx = _tls(conf("SSL_GET"))
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_NONE
    assert _tls(Config()) is None


def test_ipvs_module_keeps_its_generic_netlink_names() -> None:
    """check/ipvs.py's raw requests (sync daemon, timeouts, flush) sit on check/genl.py."""
    from keepalived_py.check import ipvs
    assert issubclass(ipvs.IpvsControl, genl.GenlSocket) and ipvs.IpvsControl.FAMILY == b"IPVS"
    assert ipvs.GenlError is genl.GenlError and ipvs.parse_nlas is genl.parse_nlas
    assert ipvs.ipvs_available is genl.ipvs_available


def test_the_ipvs_dataplane_imports_pyroute2s_ipvs_module_without_the_package_init() -> None:
    code = ("import sys, ipaddress\n"
            "from keepalived_py.check.ipvs import service_of, dest_of\n"
            "from keepalived_py.check.realserver import Target\n"
            "from keepalived_py.config.model_lvs import VirtualServer\n"
            "s = service_of(VirtualServer(address=ipaddress.ip_address('192.0.2.100'), port=80))\n"
            "d = dest_of(Target('198.51.100.11', 80, 2), 'DR')\n"
            "print(s['addr'], s['port'], s['sched_name'], d['fwd_method'], d['weight'])\n"
            "print('pyroute2.ipvs' in sys.modules, 'pyroute2.iproute' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=60).stdout.split()
    assert out == ["192.0.2.100", "80", "wlc", "3", "2", "True", "False"]


def test_a_family_the_kernel_does_not_have_is_false_not_an_error() -> None:
    assert genl.has_family(b"kp-no-such-family") is False
