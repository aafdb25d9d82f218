"""The daemon's umask and the modes of its files, beside keepalived 2.2.7 in a namespace
(core/umask.py): every process runs with keepalived's default 0177 (or global_defs
`umask`); the dump files (SIGUSR1/SIGUSR2) are 0666 less the umask; pidfiles stay 0644."""
from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
from netlab import Lab
from test_vmac_firewall import need_keepalived
from test_vrrp import Peer, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

CONF = """global_defs {{
{extra}}}
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 46
  priority 100
  advert_int 1
  virtual_ipaddress {{
    192.0.2.170/24
  }}
}}
"""


def _umask(pid: int) -> str:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Umask:"):
            return line.split()[1]
    return "?"


def _seen(lab: Lab, tmp: Path, name: str, ours: bool, extra: str) -> dict[str, str]:
    node = lab.node(name, lab.lan(f"l{name}"), "192.0.2.1/24")
    dumps = tmp / f"dumps-{name}"
    dumps.mkdir()
    peer = Peer(node, tmp, CONF.format(extra=extra), ours=ours).start(env={"TMPDIR": str(dumps)})
    try:
        # the instance running: the VRRP child has its signal handlers (a SIGUSR1 before
        # that would end it) and its pidfile is written
        assert wait_for(lambda: "Entering" in peer.log(), 15), peer.log()
        parent = int((peer.dir / "p.pid").read_text())
        child = int((peer.dir / "v.pid").read_text())
        os.kill(child, signal.SIGUSR1)
        os.kill(child, signal.SIGUSR2)
        files = ("keepalived.data", "keepalived.stats")
        assert wait_for(lambda: all((dumps / f).exists() for f in files), 5), peer.log()
        got = {"parent": _umask(parent), "child": _umask(child)}
        for f in ("p.pid", "v.pid"):
            got[f] = oct(stat.S_IMODE((peer.dir / f).stat().st_mode))
        for f in files:
            got[f] = oct(stat.S_IMODE((dumps / f).stat().st_mode))
        return got
    finally:
        peer.stop()


def _after_reload(lab: Lab, tmp: Path, name: str, ours: bool) -> dict[str, str]:
    """Started with `umask 0027`, reloaded with a configuration that has no umask."""
    node = lab.node(name, lab.lan(f"l{name}"), "192.0.2.1/24")
    peer = Peer(node, tmp, CONF.format(extra="  umask 0027\n"), ours=ours).start()
    try:
        assert wait_for(lambda: "Entering" in peer.log(), 15), peer.log()
        parent = int((peer.dir / "p.pid").read_text())
        child = int((peer.dir / "v.pid").read_text())
        peer.conf.write_text(CONF.format(extra="  router_id r2\n"))
        before = peer.log().count("Reload")
        os.kill(parent, signal.SIGHUP)
        assert wait_for(lambda: peer.log().count("Reload") > before, 15), peer.log()
        # the child applies a reload after the parent: wait for it to settle
        wait_for(lambda: _umask(child) != "0027", 3)
        return {"parent": _umask(parent), "child": _umask(child)}
    finally:
        peer.stop()


@pytest.mark.parametrize("extra", ["", "  umask 0027\n"], ids=["default", "umask_0027"])
def test_umask_and_file_modes_equal_keepalived(lab: Lab, tmp_path: Path, extra: str) -> None:
    need_keepalived()
    tmp_path.chmod(0o755)
    theirs = _seen(lab, tmp_path, "k", False, extra)
    ours = _seen(lab, tmp_path, "p", True, extra)
    assert ours == theirs
    if not extra:
        assert ours == {"parent": "0177", "child": "0177", "p.pid": "0o644", "v.pid": "0o644",
                        "keepalived.data": "0o600", "keepalived.stats": "0o600"}


def test_a_reload_without_umask_keeps_the_last_one_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    tmp_path.chmod(0o755)
    theirs = _after_reload(lab, tmp_path, "k", False)
    ours = _after_reload(lab, tmp_path, "p", True)
    assert ours == theirs == {"parent": "0027", "child": "0027"}, (ours, theirs)
