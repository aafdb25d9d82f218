"""bfd_instance, track_bfd and BFD_CHECK: keepalived 2.2.7's defaults, ranges and messages (each
message below is the one `keepalived -t` prints for the same line), the weights track_bfd takes,
and the tracking table's view of BFD sessions."""
from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest

from keepalived_py.config.bfd import BfdInstance
from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import Config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.track.table import TrackingTable


def load(text: str) -> tuple[Config, Diagnostics]:
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d), d


def messages(d: Diagnostics) -> list[str]:
    return [x.message for x in d.items]


def test_bfd_config_defaults_are_keepalived_s() -> None:
    c, d = load("bfd_instance B1 {\n neighbor_ip 192.0.2.2\n}\n"
                "bfd_instance B6 {\n neighbour_ip 2001:db8::2\n}\n")
    assert d.exit_code == 0
    b1, b6 = c.bfd_instances
    assert b1 == BfdInstance(name="B1", neighbor_ip=ipaddress.ip_address("192.0.2.2"),
                             min_rx=10, min_tx=10, idle_tx=1000, multiplier=5,
                             ttl=255, max_hops=0, passive=False, vrrp=True, checker=True)
    assert (b6.ttl, b6.neighbor_ip.version) == (64, 6)


def test_bfd_config_values_in_milliseconds_with_three_decimals() -> None:
    c, d = load("bfd_instance B1 {\n neighbor_ip 192.0.2.2\n source_ip 192.0.2.1\n"
                " min_rx 50\n min_tx 20.5\n idle_tx 2000\n multiplier 3\n passive\n hoplimit 255\n"
                " max_hops -1\n checker\n weight -20 reverse\n}\n")
    assert d.exit_code == 0, messages(d)
    b = c.bfd_instances[0]
    assert (b.min_rx, b.min_tx, b.idle_tx, b.multiplier, b.passive, b.ttl) == \
        (50, 20.5, 2000, 3, True, 255)
    assert (b.min_rx_us, b.min_tx_us, b.idle_tx_us) == (50_000, 20_500, 2_000_000)
    assert (b.max_hops, b.vrrp, b.checker, b.weight, b.weight_reverse) == (255, False, True, -20, True)


@pytest.mark.parametrize("line,expected", [
    ("min_rx 0", ["number '0' outside range [1.000, 4294967.000]",
                  "Configuration error: BFD instance B min_rx value 0 is not valid (must be in"
                  " range [1-4294967]), ignoring"]),
    ("min_tx abc", ["invalid number 'abc'",
                    "Configuration error: BFD instance B min_tx value abc is not valid (must be"
                    " in range [1-4294967]), ignoring"]),
    ("idle_tx 500", ["number '500' outside range [1000.000, 4294967.000]",
                     "Configuration error: BFD instance B idle_tx value 500 is not valid (must"
                     " be in range [1000-4294967]), ignoring"]),
    ("multiplier 256", ["number '256' outside range [1, 255]",
                        "Configuration error: BFD instance B multiplier value 256 not valid"
                        " (must be in range [1-255]), ignoring"]),
    ("ttl 0", ["number '0' outside range [1, 255]",
               "Configuration error: BFD instance B ttl/hoplimit value 0 not valid (must be in"
               " range [1-255]), ignoring"]),
    ("max_hops 300", ["number '300' outside range [-1, 255]",
                      "Configuration error: BFD instance B max_hops value 300 not valid (must be"
                      " in range [-1-255]), ignoring"]),
    # -1 is stored as 255 (a uint8_t): below ttl 255 keepalived lowers it to the ttl
    ("ttl 200\n max_hops -1", ["BFD instance B: max_hops exceeds ttl/hoplimit - setting to"
                               " ttl/hoplimit"]),
    ("ttl 10\n max_hops 20", ["BFD instance B: max_hops exceeds ttl/hoplimit - setting to"
                              " ttl/hoplimit"]),
    ("foo 1", ["Unknown keyword 'foo'"]),
])
def test_bfd_config_bad_values_keep_the_default(line: str, expected: list[str]) -> None:
    c, d = load(f"bfd_instance B {{\n neighbor_ip 192.0.2.2\n {line}\n}}\n")
    assert messages(d) == expected
    assert d.exit_code == 5
    assert len(c.bfd_instances) == 1 and c.bfd_instances[0].min_rx_us == 10_000


@pytest.mark.parametrize("body,expected", [
    ("min_rx 10", "Configuration error: BFD instance B has no neighbor address set, disabling"
                  " instance"),
    ("neighbor_ip 192.0.2.300", "Configuration error: BFD instance B has malformed neighbor"
                                " address 192.0.2.300, ignoring instance"),
    ("neighbor_ip 192.0.2.9\n source_ip 2001:db8::1",
     "Configuration error: BFD instance B source address 2001:db8::1 and neighbor address"
     " 192.0.2.9 are not of the same family, disabling instance"),
])
def test_bfd_config_instances_keepalived_drops(body: str, expected: str) -> None:
    c, d = load(f"bfd_instance B {{\n {body}\n}}\n")
    assert c.bfd_instances == ()
    assert messages(d) == [expected]


def test_bfd_config_duplicates_and_long_names() -> None:
    c, d = load("bfd_instance B1 {\n neighbor_ip 192.0.2.2\n}\n"
                "bfd_instance B4 {\n neighbor_ip 192.0.2.2\n}\n"
                "bfd_instance B1 {\n neighbor_ip 192.0.2.7\n}\n"
                f"bfd_instance {'X' * 32} {{\n neighbor_ip 192.0.2.8\n}}\n")
    assert [b.name for b in c.bfd_instances] == ["B1"]
    assert messages(d) == [
        "Configuration error: BFD instance B4 has duplicate neighbor address 192.0.2.2,"
        " ignoring instance",
        "Configuration error: BFD instance B1 already configured - ignoring",
        f"Configuration error: BFD instance {'X' * 32} name too long (maximum length is 31"
        " characters) - ignoring"]


VI = ("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n"
      " virtual_ipaddress {{\n 192.0.2.100\n }}\n track_bfd {{\n{refs}\n }}\n}}\n")


def test_bfd_config_track_bfd_weights_default_from_the_instance() -> None:
    c, d = load("bfd_instance B1 {\n neighbor_ip 192.0.2.2\n weight 30\n}\n"
                "bfd_instance B2 {\n neighbor_ip 192.0.2.3\n}\n"
                "bfd_instance B3 {\n neighbor_ip 192.0.2.4\n checker\n}\n"
                + VI.format(refs="  B1\n  B2 weight -10 reverse\n  B3\n  BX\n  B1"))
    refs = c.vrrp_instances[0].track_bfd
    assert [(r.name, r.weight, r.reverse) for r in refs] == [("B1", 30, False), ("B2", -10, True)]
    assert messages(d) == ["(VI_1) track bfd B3 not found, ignoring...",
                           "(VI_1) track bfd BX not found, ignoring...",
                           "(VI_1) duplicate track_bfd B1 - ignoring"]


def test_bfd_config_tracking_starts_down_then_follows_the_sessions() -> None:
    c, _ = load("bfd_instance B0 {\n neighbor_ip 192.0.2.2\n}\n"
                "bfd_instance BW {\n neighbor_ip 192.0.2.3\n}\n"
                + VI.format(refs="  B0\n  BW weight -50"))
    t = TrackingTable(c)
    assert t.instance("VI_1").fault and t.instance("VI_1").reasons == ("bfd B0",)
    assert t.update("bfd", "B0", True) == {"VI_1"}
    assert (t.instance("VI_1").fault, t.instance("VI_1").delta) == (False, -50)
    t.update("bfd", "BW", True)
    assert t.instance("VI_1").delta == 0
    t.update("bfd", "B0", False)
    assert t.instance("VI_1").fault


def test_bfd_config_bfd_check_needs_a_known_session() -> None:
    rs = "\n".join(f"  BFD_CHECK {{\n   {x}\n  }}" for x in
                   ("name B1", "name B1", "name B2", "name BX", ""))
    c, d = load("bfd_instance B1 {\n neighbor_ip 192.0.2.2\n}\n"
                "bfd_instance B2 {\n neighbor_ip 192.0.2.3\n vrrp\n}\n"
                "virtual_server 192.0.2.100 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n"
                f" real_server 192.0.2.2 80 {{\n{rs}\n }}\n}}\n")
    checks = c.virtual_servers[0].real_servers[0].checkers
    assert [(ch.kind, dict(ch.options)["name"]) for ch in checks] == [("BFD_CHECK", "B1")]
    where = "([192.0.2.2]:tcp:80)"
    assert messages(d) == [f"{where} BFD_CHECK - RS already monitoring B1",
                           f"{where} BFD_CHECK - BFD B2 not configured",
                           f"{where} BFD_CHECK - BFD BX not configured",
                           f"{where} No name has been specified for BFD_CHECKER - skipping"]


def test_bfd_config_without_bfd_imports_nothing_of_it() -> None:
    code = ("import sys; from keepalived_py.config.blocks import read_tree_text;"
            "from keepalived_py.config.build import build_config;"
            "from keepalived_py.config.tree import Diagnostics; d = Diagnostics();"
            "build_config(read_tree_text('vrrp_instance V {\\n interface eth0\\n"
            " virtual_router_id 1\\n}\\n', path='k', diagnostics=d), d);"
            "import keepalived_py.vrrp.daemon, keepalived_py.check.daemon,"
            " keepalived_py.core.supervisor;"
            "print(sorted(m for m in sys.modules if m.startswith('keepalived_py.bfd')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bfd_config_vrrp_data_lists_tracked_bfds_as_keepalived() -> None:
    from keepalived_py.obs.vrrp_data import format_vrrp_data
    c, _ = load("bfd_instance used {\n neighbor_ip 192.0.2.3\n weight -20\n}\n"
                "bfd_instance unused {\n neighbor_ip 192.0.2.4\n}\n"
                "bfd_instance chk {\n neighbor_ip 192.0.2.5\n checker\n}\n"
                + VI.format(refs="  used weight 5 reverse"))
    text = format_vrrp_data(c, [{}], {"bfd": {"used": True}})
    assert "   Tracked BFDs :\n     used: weight 5 reverse\n" in text
    # keepalived 2.2.7 lists every bfd_instance its VRRP process gets events for
    assert ("------< VRRP Track BFDs >------\n VRRP Track BFD = used\n   Weight = -20\n"
            "   Bfd is up\n   Tracking VRRP instances :\n   Tracking instances :\n"
            "     VI_1, weight 5 reverse\n VRRP Track BFD = unused\n   Weight = 0\n"
            "   Bfd is down\n   Tracking VRRP instances :\n") in text
    assert "chk" not in text
