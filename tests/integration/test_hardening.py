"""The optional systemd hardening drop-in (systemd/hardening.conf) leaves the daemon everything it
needs: the daemon runs in a namespace under exactly its CapabilityBoundingSet and
NoNewPrivileges (applied with setpriv, as systemd applies them), becomes master with its VIP,
runs a tracked script and a notify script as their users, and fails over to a keepalived 2.2.7
peer when stopped. (RestrictAddressFamilies= and the Protect*= settings need systemd itself;
`systemd-analyze verify` checks the file in tests/unit/test_install_files.py.)"""
from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import pytest
from daemonlab import make_script, world_dir
from netlab import Lab
from test_vrrp import Peer, instance, lan_of, wait_for

pytestmark = pytest.mark.netns
ROOT = Path(__file__).resolve().parents[2]
VIP = "192.0.2.100/24"


def _bounding_set() -> list[str]:
    for line in (ROOT / "systemd" / "hardening.conf").read_text().splitlines():
        if line.startswith("CapabilityBoundingSet="):
            return [c.lower().removeprefix("cap_") for c in line.split("=", 1)[1].split()]
    raise AssertionError("hardening.conf has no CapabilityBoundingSet=")


def test_daemon_runs_under_the_hardening_capabilities(lab: Lab, tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is part of every Debian system"
    caps = ",".join(["-all"] + [f"+{c}" for c in _bounding_set()])
    with world_dir("hard") as (world, out):
        check = make_script(world / "chk.sh", f"id -u > {out}/check\nexit 0\n")
        notify = make_script(world / "master.sh", f"id -u > {out}/master\n")
        a, b = lan_of(lab, 2)
        conf = instance(150, extra=f"notify_master {notify}\n  track_script {{\n    chk\n  }}")
        conf = conf.replace("global_defs {\n", "global_defs {\n  script_user nobody\n", 1)
        conf = conf.replace("vrrp_instance VI_1", f"vrrp_script chk {{\n  script {check}\n"
                                                  "  interval 1\n}\nvrrp_instance VI_1", 1)
        ours = Peer(a, tmp_path, conf).start(
            wrap=[setpriv, "--bounding-set", caps, "--no-new-privs", "--"])
        d = ours.dir
        peer = Peer(b, tmp_path, instance(100), ours=False).start()
        assert wait_for(lambda: ours.has(VIP), 10), ours.log()
        assert wait_for(lambda: all((out / f).exists() and (out / f).read_text().endswith("\n")
                                    for f in ("check", "master")), 10), ours.log()
        assert (out / "check").read_text().split() == ["65534"]       # script_user nobody
        assert (out / "master").read_text().split() == ["65534"]
        status = Path(f"/proc/{int((d / 'v.pid').read_text())}/status").read_text()
        bnd = int(next(x for x in status.splitlines() if x.startswith("CapBnd:")).split()[1], 16)
        assert bnd != 0 and bnd.bit_count() == len(_bounding_set())    # really bounded
        assert "NoNewPrivs:\t1" in status
        assert not peer.has(VIP)
        ours.stop(signal.SIGTERM)                       # graceful: the peer takes over
        assert wait_for(lambda: peer.has(VIP), 5), peer.log()
        assert "Traceback" not in ours.log(), ours.log()
        peer.stop()


def test_without_cap_net_raw_exits_4_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    """keepalived 2.2.7 without CAP_NET_RAW: "Error 1 while registering gratuitous ARP shared
    channel", its VRRP child exits with the permanent error MISSING_PERMISSION and the daemon
    exits 4 (RestartPreventExitStatus). Ours the same - never a master that cannot advertise."""
    setpriv = shutil.which("setpriv")
    assert setpriv is not None
    caps = ",".join(["-all"] + [f"+{c}" for c in _bounding_set() if c != "net_raw"])
    (a,) = lan_of(lab, 1)
    codes = {}
    for ours in (True, False):
        (tmp_path / str(ours)).mkdir()
        p = Peer(a, tmp_path / str(ours), instance(150), ours=ours)
        d = p.dir
        prog = [sys.executable, "-m", "keepalived_py"] if ours else [shutil.which("keepalived")
                                                                    or "/usr/sbin/keepalived"]
        r = a.run(setpriv, "--bounding-set", caps, "--", *prog, "-n", "-l", "-f", str(p.conf),
                  "-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"),
                  "-b", str(d / "b.pid"),
                  check=False, timeout=30)
        out = r.stdout + r.stderr
        codes[ours] = r.returncode
        assert "Error 1 while registering gratuitous ARP shared channel" in out, out
        assert "exited with permanent error missing permission. Terminating" in out, out
        assert not p.has(VIP)
    assert codes == {True: 4, False: 4}
