"""Trackers and notifications driving real VRRP daemons in namespaces (issue 5)."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import Lab
from stallwatch import StallWatch
from test_vrrp import START, Peer, address_monitor, lan_of, stop_monitor, wait_for

pytestmark = pytest.mark.netns

VIP = "192.0.2.100/24"


def conf(prio: int, body: str = "", top: str = "", name: str = "VI_1", vrid: int = 51,
         vip: str = VIP, security: bool = True) -> str:
    sec = "enable_script_security\n  script_user root" if security else ""
    return f"""
global_defs {{
  {sec}
}}
{top}
vrrp_instance {name} {{
  interface eth0
  virtual_router_id {vrid}
  priority {prio}
  advert_int 0.5
  {body}
  virtual_ipaddress {{ {vip} }}
}}
"""


def script(tmp: Path, name: str, text: str) -> Path:
    d = tmp / "scripts"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    p = d / name
    p.write_text("#!/bin/sh\n" + text + "\n")
    p.chmod(0o755)
    return p


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    """Script security wants root-owned, non-writable path components."""
    for parent in [tmp_path, *tmp_path.parents]:
        mode = stat.S_IMODE(os.stat(parent).st_mode)
        if mode & 0o002 and not mode & stat.S_ISVTX:
            pytest.skip(f"{parent} is world-writable without the sticky bit")
    return tmp_path


def test_failing_script_weight_moves_the_master(lab: Lab, private_tmp: Path) -> None:
    flag = private_tmp / "healthy"
    flag.write_text("")
    chk = script(private_tmp, "chk.sh", f"test -e {flag}")
    top = f'vrrp_script chk {{\n  script "{chk}"\n  interval 0.2\n  weight -60\n  fall 1\n rise 1\n}}'
    a, b = lan_of(lab, 2)
    pa = Peer(a, private_tmp, conf(150, "track_script { chk }", top)).start()
    pb = Peer(b, private_tmp, conf(120)).start()
    assert wait_for(lambda: pa.has(VIP), START), pa.log()
    time.sleep(1)
    flag.unlink()                              # 150 - 60 = 90 < 120: b preempts
    assert wait_for(lambda: pb.has(VIP) and not pa.has(VIP), 8), (pa.log(), pb.log())
    assert "Changing effective priority from 150 to 90" in pa.log()
    flag.write_text("")
    assert wait_for(lambda: pa.has(VIP) and not pb.has(VIP), 8), pa.log()


def test_track_file_value_change_causes_failover(lab: Lab, private_tmp: Path) -> None:
    f = private_tmp / "weight"
    f.write_text("0\n")
    top = f'track_file tf {{\n  file "{f}"\n  weight 1\n}}'
    a, b = lan_of(lab, 2)
    pa = Peer(a, private_tmp, conf(150, "track_file { tf }", top)).start()
    pb = Peer(b, private_tmp, conf(120)).start()
    assert wait_for(lambda: pa.has(VIP), START)
    time.sleep(1)
    tmp = private_tmp / ".weight.new"
    tmp.write_text("-50\n")
    os.replace(tmp, f)                         # inotify sees the rename
    assert wait_for(lambda: pb.has(VIP) and not pa.has(VIP), 8), pa.log()


def _sleeper(tmp: Path) -> Path:
    exe = tmp / f"kpsvc{secrets.token_hex(3)}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    return exe


def test_track_process_inside_a_namespace_falls_back_and_becomes_master(
        lab: Lab, private_tmp: Path) -> None:
    """The daemon runs inside a network namespace, where the proc connector is refused
    (ECONNREFUSED): keepalived goes to FAULT there; we poll /proc and become MASTER."""
    exe = _sleeper(private_tmp)
    # no weight: keepalived 2.2.7's binary uses 0 (FAULT on quorum loss), not its manual's 1
    top = f"vrrp_track_process svc {{\n  process {exe.name}\n}}"
    a, = lan_of(lab, 1)
    svc = subprocess.Popen([str(exe), "120"])
    try:
        pa = Peer(a, private_tmp, conf(100, "track_process { svc }", top)).start()
        assert wait_for(lambda: pa.has(VIP), START), pa.log()
        assert "FAULT" not in pa.log()
        assert "polling /proc" in pa.log()
        # FAULT within delay (0) + one poll (1 s), with room for a loaded machine
        with StallWatch() as sw:
            svc.kill()
            svc.wait()
            t0 = time.monotonic()
            took = wait_for(lambda: not pa.has(VIP), 8)
            assert took is not None, pa.log()
        stall = sw.stalled(t0, t0 + took)
        print(f"\nFAULT after the process ended: {took:.3f} s, host stall in it {stall:.3f} s")
        assert took - stall < 2.5, (took, stall, pa.log())
        assert "Quorum lost for tracked process svc" in pa.log()
        assert "Entering FAULT STATE" in pa.log()
    finally:
        if svc.poll() is None:
            svc.kill()
            svc.wait()


def test_fault_propagates_through_a_sync_group(lab: Lab, private_tmp: Path) -> None:
    a, = lan_of(lab, 1)
    lab.attach(a, lab.namespaces[0], "eth1", "198.51.100.1/24")
    body2 = "\n".join([
        "vrrp_instance VI_2 {", "  interface eth1", "  virtual_router_id 52", "  priority 100",
        "  advert_int 0.5", "  virtual_ipaddress { 198.51.100.100/24 }", "}",
        "vrrp_sync_group G { group {\n VI_1\n VI_2\n } }"])
    pa = Peer(a, private_tmp, conf(100) + body2).start()
    assert wait_for(lambda: pa.has(VIP) and "198.51.100.100/24" in a.addresses("eth1"), START), \
        pa.log()
    a.run("ip", "link", "set", "eth1", "down")
    assert wait_for(lambda: not pa.has(VIP), 8), pa.log()
    assert pa.log().count("Entering FAULT STATE") >= 2


def test_notify_script_arguments_and_fifo_lines(lab: Lab, private_tmp: Path) -> None:
    out = private_tmp / "notify.out"
    n = script(private_tmp, "notify.sh", f'echo "$@" >> {out}')
    fifo = private_tmp / "events.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        a, = lan_of(lab, 1)
        top = ""
        c = conf(150, f'notify "{n}"', top).replace(
            "global_defs {", f'global_defs {{\n  vrrp_notify_fifo "{fifo}"')
        pa = Peer(a, private_tmp, c).start()
        assert wait_for(lambda: pa.has(VIP), START)
        assert wait_for(lambda: out.exists() and "MASTER" in out.read_text(), 5)
        lines = out.read_text().split("\n")
        assert "INSTANCE VI_1 BACKUP 150" in lines and "INSTANCE VI_1 MASTER 150" in lines
        got = os.read(reader, 4096).decode()
        assert 'INSTANCE "VI_1" BACKUP 150\n' in got and 'INSTANCE "VI_1" MASTER 150\n' in got
    finally:
        os.close(reader)


def test_script_security_refuses_an_unsafe_notify_script(lab: Lab, private_tmp: Path) -> None:
    out = private_tmp / "ran"
    n = script(private_tmp, "unsafe.sh", f"touch {out}")
    n.chmod(0o777)                         # writable by anyone: refused
    a, = lan_of(lab, 1)
    pa = Peer(a, private_tmp, conf(150, f'notify_master "{n}"')).start()
    assert wait_for(lambda: pa.has(VIP), START)
    time.sleep(1)
    assert not out.exists()
    assert "Unsafe permissions found for script" in pa.log() or "unsafe" in pa.log()


def test_track_process_with_namespace_option_uses_the_connector(lab: Lab,
                                                               private_tmp: Path) -> None:
    """`-s NAME` from the initial namespace: the proc connector is opened before entering the
    namespace, as keepalived does, so process events keep flowing (no polling)."""
    exe = _sleeper(private_tmp)
    top = f"vrrp_track_process svc {{\n  process {exe.name}\n}}"       # default weight: 0
    a, = lan_of(lab, 1)
    d = private_tmp / "nsopt"
    d.mkdir()
    cfg = d / "k.conf"
    cfg.write_text(conf(100, "track_process { svc }", top))
    svc = subprocess.Popen([str(exe), "120"])
    log = open(d / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "keepalived_py", "-n", "-l", "-D",
                             "-s", a.ns, "-f", str(cfg), "-p", str(d / "p.pid"),
                             "-r", str(d / "v.pid"), "-c", str(d / "c.pid"), "-b", str(d / "b.pid")],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert wait_for(lambda: VIP in a.addresses(), START), (d / "log").read_text()
        text = (d / "log").read_text()
        assert "mode=connector" in text and "polling /proc" not in text, text
        with StallWatch() as sw:
            svc.kill()
            svc.wait()
            t0 = time.monotonic()
            took = wait_for(lambda: VIP not in a.addresses(), 5)
            assert took is not None, (d / "log").read_text()
        stall = sw.stalled(t0, t0 + took)
        print(f"\nFAULT after the process ended: {took:.3f} s, host stall in it {stall:.3f} s")
        assert took - stall < 1.5, (took, stall, (d / "log").read_text())
        assert "Quorum lost for tracked process svc" in (d / "log").read_text()
    finally:
        if svc.poll() is None:
            svc.kill()
            svc.wait()
        proc.terminate()
        proc.wait(10)
        log.close()


def _tracked_master(lab: Lab, tmp: Path) -> tuple[Peer, Peer, subprocess.Popen[bytes]]:
    """A master (150) tracking a weight-0 script, a process (no weight: 0) and a weight-0
    file, all fine, beside a backup (100)."""
    chk = script(tmp, "ok.sh", "exit 0")
    exe = _sleeper(tmp)
    tf = tmp / "tf"
    tf.write_text("0\n")
    top = (f'vrrp_script chk {{\n  script "{chk}"\n  interval 0.5\n}}\n'
           f"vrrp_track_process svc {{\n  process {exe.name}\n}}\n"
           f'track_file tf {{\n  file "{tf}"\n  weight 0\n}}')
    body = "track_script { chk }\n  track_process { svc }\n  track_file { tf }"
    svc = subprocess.Popen([str(exe), "300"])
    a, b = lan_of(lab, 2)
    pa = Peer(a, tmp, conf(150, body, top)).start()
    pb = Peer(b, tmp, conf(100)).start()
    assert wait_for(lambda: pa.has(VIP), START), pa.log()
    return pa, pb, svc


def test_reload_with_unchanged_trackers_leaves_the_master_untouched(lab: Lab,
                                                                    private_tmp: Path) -> None:
    pa, pb, svc = _tracked_master(lab, private_tmp)
    try:
        time.sleep(2)
        before = pa.log().count("Entering")
        mon = address_monitor(pa.node)
        for _ in range(3):
            os.kill(int((pa.dir / "p.pid").read_text()), signal.SIGHUP)
            time.sleep(2.5)                  # > Master_Down_Interval (3 x 0.5 s + skew)
            assert pa.has(VIP) and not pb.has(VIP), pa.log()
        events = stop_monitor(mon)
        assert not [e for e in events if "192.0.2.100" in e], events
        assert pa.log().count("Entering") == before, pa.log()
        assert "VRRP_Script(chk) considered successful on reload" in pa.log()
    finally:
        svc.kill()
        svc.wait()


def test_killed_child_of_a_tracking_master_resumes_without_an_address_event(
        lab: Lab, private_tmp: Path) -> None:
    pa, pb, svc = _tracked_master(lab, private_tmp)
    try:
        time.sleep(10)                         # master for much longer than its down interval
        mon = address_monitor(pa.node)
        child = int((pa.dir / "v.pid").read_text())
        full = pa.dir / "log"
        mark = len(full.read_text(errors="replace"))
        os.kill(child, signal.SIGKILL)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            assert pa.has(VIP) and not pb.has(VIP), (pa.log(), pb.log())
            time.sleep(0.05)
        assert int((pa.dir / "v.pid").read_text()) != child
        events = stop_monitor(mon)
        assert not [e for e in events if "192.0.2.100" in e], events
        after = full.read_text(errors="replace")[mark:]
        assert "Entering FAULT STATE" not in after and "Entering BACKUP" not in after, after
    finally:
        svc.kill()
        svc.wait()
