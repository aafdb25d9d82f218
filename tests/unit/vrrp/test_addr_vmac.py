"""Which addresses get a VMAC of their own (vrrp/addr_vmac.py `wanted`, keepalived 2.2.7's
vrrp_complete_instance rules) and the instance they come back on (`rewrite`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from keepalived_py.config import load_config
from keepalived_py.vrrp.addr_vmac import rewrite, wanted

VI = """vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 42
{flags}  virtual_ipaddress {{
    192.0.2.100/24
    192.0.2.101/24 use_vmac
    198.51.100.100/24 dev eth1
    198.51.100.101/24 dev eth1 use_vmac
  }}
  virtual_ipaddress_excluded {{
    2001:db8::100/64
    2001:db8::101/64 use_vmac
  }}
}}
"""


@pytest.mark.parametrize(("flags", "want"), [
    # an address's own use_vmac only
    ("", [(1, "eth0", 4), (3, "eth1", 4), (5, "eth0", 6)]),
    # use_vmac_addr: every address elsewhere (another interface, the other family) too
    ("  use_vmac_addr\n", [(1, "eth0", 4), (2, "eth1", 4), (3, "eth1", 4), (4, "eth0", 6),
                           (5, "eth0", 6)]),
    # the instance's VMAC holds its interface's addresses of its family, use_vmac or not
    ("  use_vmac\n", [(3, "eth1", 4), (5, "eth0", 6)]),
    ("  use_vmac\n  use_vmac_addr\n", [(2, "eth1", 4), (3, "eth1", 4), (4, "eth0", 6),
                                       (5, "eth0", 6)]),
])
def test_addr_vmac_wanted_follows_keepalived(tmp_path: Path, flags: str,
                                             want: list[tuple[int, str, int]]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(VI.format(flags=flags))
    inst = load_config(str(conf)).config.vrrp_instances[0]
    assert wanted(inst) == want


def test_addr_vmac_rewrite_moves_vips_and_excluded(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(VI.format(flags="  use_vmac_addr\n"))
    inst = load_config(str(conf)).config.vrrp_instances[0]
    out = rewrite(inst, {2: "vrrp.42", 4: "vrrp6.42"})
    assert [a.dev for a in out.virtual_ipaddress] == [None, None, "vrrp.42", "eth1"]
    assert [a.dev for a in out.virtual_ipaddress_excluded] == ["vrrp6.42", None]
    assert rewrite(inst, {}) is inst
