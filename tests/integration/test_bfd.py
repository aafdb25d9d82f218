"""BFD end to end in namespaces, against FRR's bfdd (Debian package `frr`) as the peer (and
keepalived 2.2.7's own BFD child in the handshake test).

bfdd runs standalone in its own namespace with its own configuration, vty socket and pidfile
(never the host's FRR service); its view of the sessions is read with vtysh, an independent
implementation of RFC 5880 judging ours. Our daemon's view is its own log and its
keepalived_bfd.data dump.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import Lab, Node, seconds_until
from stallwatch import StallWatch

pytestmark = pytest.mark.netns

BFDD = "/usr/lib/frr/bfdd"
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"


wait_for = seconds_until


@pytest.fixture
def frr_dir() -> Iterator[Path]:
    """A directory bfdd (which drops to user frr) can write its sockets and pidfile in."""
    if not os.path.exists(BFDD):
        pytest.skip("FRR's bfdd is not installed (tests/run.sh installs the frr package)")
    try:
        frr = pwd.getpwnam("frr")
    except KeyError:
        pytest.skip("no frr user (the frr package makes it)")
    d = Path(tempfile.mkdtemp(prefix="kp-bfdd-"))
    os.chmod(d, 0o755)
    os.chown(d, frr.pw_uid, frr.pw_gid)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Bfdd:
    """FRR's bfdd in a node namespace, configured with `peers` (a bfd { } body)."""

    def __init__(self, node: Node, d: Path, peers: str) -> None:
        self.node, self.dir = node, d
        conf = d / "bfdd.conf"
        conf.write_text(f"bfd\n{peers}\n!\n")
        os.chmod(conf, 0o644)
        self.proc = node.popen(
            [BFDD, "-f", str(conf), "-i", str(d / "bfdd.pid"), "--vty_socket", str(d),
             "--bfdctl", str(d / "bfdd.sock"), "-u", "frr", "-g", "frr", "-A", "127.0.0.1",
             "-P", "0"], stdout=subprocess.DEVNULL, stderr=open(d / "bfdd.log", "ab"))

    def peers(self) -> list[dict[str, object]]:
        out = self.node.run(VTYSH, "--vty_socket", str(self.dir), "-c", "show bfd peers json",
                            check=False).stdout
        try:
            data = json.loads(out or "[]")
        except json.JSONDecodeError:
            return []
        return data if isinstance(data, list) else []

    def status(self, peer: str) -> str | None:
        return next((str(p.get("status")) for p in self.peers() if p.get("peer") == peer), None)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)


class Ours:
    """keepalived-py in a node namespace, files in its own directory."""

    def __init__(self, node: Node, tmp: Path, conf: str, *extra: str) -> None:
        self.node = node
        self.dir = tmp / node.ns
        self.dir.mkdir(exist_ok=True)
        (self.dir / "keepalived.conf").write_text(conf)
        d = self.dir
        env = dict(os.environ, TMPDIR=str(d))
        self.proc = node.popen(
            [sys.executable, "-m", "keepalived_py", "-n", "-l", "-f", str(d / "keepalived.conf"),
             "-p", str(d / "p.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid"),
             "-b", str(d / "b.pid"), *extra], env=env, stdout=subprocess.DEVNULL,
            stderr=open(d / "log", "ab"))

    def log(self) -> str:
        return (self.dir / "log").read_text(errors="replace")

    def data(self) -> str:
        """keepalived_bfd.data, written on SIGUSR1 to the BFD child."""
        path = self.dir / "keepalived_bfd.data"
        path.unlink(missing_ok=True)
        try:
            os.kill(int((self.dir / "b.pid").read_text()), signal.SIGUSR1)
        except (OSError, ValueError):
            return ""                     # the BFD child is not started yet
        wait_for(path.exists, 5)
        return path.read_text() if path.exists() else ""

    def states(self) -> dict[str, str]:
        text = self.data()
        names = re.findall(r"BFD Instance = (\S+)", text)
        states = re.findall(r"   local state = (\S+)", text)
        return dict(zip(names, states, strict=False))


def bfd_block(name: str, nbr: str, ms: int = 10, mult: int = 3, extra: str = "") -> str:
    return (f"bfd_instance {name} {{\n  neighbor_ip {nbr}\n  min_rx {ms}\n  min_tx {ms}\n"
            f"  multiplier {mult}\n  {extra}\n}}\n")


def frr_peer(peer: str, local: str, ms: int = 10, mult: int = 3, extra: str = "") -> str:
    return (f" peer {peer} local-address {local}\n  receive-interval {ms}\n"
            f"  transmit-interval {ms}\n  detect-multiplier {mult}\n  {extra}\n !")


def test_bfd_sessions_come_up_with_frr_bfdd_both_ways(lab: Lab, tmp_path: Path,
                                                       frr_dir: Path) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24", "192.0.2.11/24", "2001:db8::1/64")
    c = lab.node("c", lan, "192.0.2.3/24", "192.0.2.13/24", "2001:db8::3/64")
    # both active; ours passive (FRR starts it); FRR passive (we start it). Over IPv6
    # keepalived 2.2.7 sends with hop limit 64 unless told (BFD_CONTROL_HOPLIMIT), which FRR
    # drops as RFC 5881 §5 says it must: `hoplimit 255` is what works with an RFC peer
    # (100 ms: the handshake and the negotiation are under test here, not the host's scheduler)
    conf = (bfd_block("both", "192.0.2.3", ms=100)
            + bfd_block("ours_passive", "2001:db8::3", ms=100, extra="passive\n  hoplimit 255")
            + bfd_block("frr_passive", "192.0.2.13", ms=100, extra="source_ip 192.0.2.11")
            + bfd_block("keepalived", "192.0.2.5", ms=100))
    frr = Bfdd(c, frr_dir, "\n".join([
        frr_peer("192.0.2.1", "192.0.2.3", ms=100), frr_peer("2001:db8::1", "2001:db8::3", ms=100),
        frr_peer("192.0.2.11", "192.0.2.13", ms=100, extra="passive-mode")]))
    # and keepalived 2.2.7's own BFD child as a peer, when it is installed
    theirs = None
    if os.path.exists(KEEPALIVED):
        k = lab.node("k", lan, "192.0.2.5/24")
        kd = tmp_path / "keepalived"
        kd.mkdir()
        (kd / "k.conf").write_text(bfd_block("to_ours", "192.0.2.1", ms=100))
        k.popen([KEEPALIVED, "-n", "-l", "-D", "-f", str(kd / "k.conf"), "-p", str(kd / "p.pid"),
                 "-r", str(kd / "v.pid"), "-c", str(kd / "c.pid"), "-b", str(kd / "b.pid")],
                stdout=open(kd / "log", "ab"), stderr=subprocess.STDOUT)
        theirs = kd / "log"
    ours = Ours(a, tmp_path, conf)
    want = {"192.0.2.1", "2001:db8::1", "192.0.2.11"}
    mine = {"both", "ours_passive", "frr_passive"} | ({"keepalived"} if theirs else set())

    def all_up() -> bool:
        states = ours.states()
        return all(frr.status(p) == "up" for p in want) and \
            all(states.get(n) == "Up" for n in mine) and \
            (theirs is None or "(to_ours) Entering Up state" in theirs.read_text(errors="replace"))
    up = wait_for(all_up, 15, 0.3)
    assert up is not None, (frr.peers(), ours.log()[-3000:],
                            theirs.read_text(errors="replace")[-2000:] if theirs else "")
    if theirs is not None:                # keepalived negotiated 100 ms x 3 with us
        assert "Detection time is 300000 us" in theirs.read_text(errors="replace")
    # FRR sees our negotiated timers: 100 ms each way, multiplier 3
    for p in frr.peers():
        assert p.get("remote-receive-interval") == 100, p
        assert p.get("remote-transmit-interval") == 100, p
        assert p.get("remote-detect-multiplier") == 3, p
    text = ours.data()
    assert "local detection time = 300000 us" in text and "dropped bad_ttl = 0" in text
    assert "hoplimit = 255" in text and "TTL = 255" in text


@pytest.mark.parametrize("ms", [10, 50])
def test_bfd_stopped_peer_is_detected_within_the_detection_time(lab: Lab, tmp_path: Path,
                                                                frr_dir: Path, ms: int) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24")
    c = lab.node("c", lan, "192.0.2.3/24")
    frr = Bfdd(c, frr_dir, frr_peer("192.0.2.1", "192.0.2.3", ms=ms))
    # JSON lines: each with its time to the millisecond, to place the expiry on this clock
    ours = Ours(a, tmp_path, bfd_block("B1", "192.0.2.3", ms=ms), "--log-format=json")
    # Up, past the Poll Sequence to the fast rate (our dump shows the negotiated detection
    # time), and not Down since: then bfdd is killed. On a loaded host a 10 ms session may
    # flap (a 30 ms scheduling delay is a lost session): that is not what is measured here,
    # the detection is; a flap before the kill only means another try
    detect = f"local detection time = {3 * ms * 1000} us"
    deadline = time.monotonic() + 90

    def fast_and_up() -> bool:
        text = ours.data()
        return detect in text and "local state = Up" in text
    with StallWatch() as sw:
        while True:
            assert wait_for(lambda: frr.status("192.0.2.1") == "up", 30, 0.2), ours.log()[-3000:]
            mark = len(ours.log())
            if wait_for(fast_and_up, 5, 0.2) is not None and frr.status("192.0.2.1") == "up" \
                    and "Entering Down" not in ours.log()[mark:]:
                break
            assert time.monotonic() < deadline, \
                "the session never reached the fast rate\n" + ours.log()[-3000:]
        mark = len(ours.log())
        t_kill = time.monotonic()
        frr.kill()
        assert wait_for(lambda: "Expired after" in ours.log()[mark:], 5, 0.02), \
            ours.log()[-3000:]
        shift = time.monotonic() - time.time()
    import datetime
    line = next(json.loads(x) for x in ours.log()[mark:].splitlines()
                if '"bfd.session.expired"' in x and '"B1"' in x)
    silent = float(line["silent_ms"])
    assert f"(B1) Expired after {int(silent)} ms" in line["compat"]
    # the silence is counted from the last packet the daemon read to its timer's firing,
    # logged at once (its wall-clock time to the ms, moved onto CLOCK_MONOTONIC). The timer
    # was due at last packet + detection time: only a host stall from then to the firing (the
    # canary late as well) can have made it late; a stall earlier in the silence cannot
    expired = datetime.datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%f").timestamp() \
        + shift
    late = max(0.0, silent - 3 * ms) / 1000
    stall = sw.stalled(expired - late - 0.001, expired + 0.001)
    print(f"\nBFD {ms} ms x 3: expired after {silent:.1f} ms of silence, host stall in it"
          f" {stall * 1000:.0f} ms (worst {sw.worst() * 1000:.0f} ms), bound {3 * ms + 10} ms;"
          f" expiry {expired - t_kill:+.3f} s from the kill")
    # RFC 5880 §6.8.4: multiplier x negotiated interval, +10 ms for this host's scheduling
    assert silent - stall * 1000 <= 3 * ms + 10, ours.log()[-2000:]
    assert "(B1) Entering Down state (Local diagnostic - Control Detection Time Expired" in ours.log()


def test_bfd_tracking_master_fails_over_long_before_master_down_interval(
        lab: Lab, tmp_path: Path, frr_dir: Path) -> None:
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24")
    b = lab.node("b", lan, "192.0.2.2/24")
    c = lab.node("c", lan, "192.0.2.3/24")
    vip = "192.0.2.100/24"

    def vrrp(prio: int, track: str = "") -> str:
        return (f"vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
                f"  priority {prio}\n  advert_int 1\n  {track}\n"
                f"  virtual_ipaddress {{ {vip} }}\n}}\n")

    # 50 ms x 3: three daemons share this (loaded) host; 30 ms would test the scheduler
    frr = Bfdd(c, frr_dir, frr_peer("192.0.2.1", "192.0.2.3", ms=50))
    pa = Ours(a, tmp_path, bfd_block("to_c", "192.0.2.3", ms=50)
              + vrrp(150, "track_bfd {\n    to_c\n  }"))
    pb = Ours(b, tmp_path, vrrp(100))
    assert wait_for(lambda: vip in a.addresses() and vip not in b.addresses(), 20, 0.1), \
        pa.log()[-3000:]
    assert "VRRP_Instance(VI_1) Tracked BFD instance to_c is UP" in pa.log()
    with StallWatch() as sw:
        time.sleep(1.0)
        frr.kill()
        t0 = time.monotonic()
        took = wait_for(lambda: vip in b.addresses(), 5, 0.01)
        assert took is not None, pb.log()[-3000:]
    stall = sw.stalled(t0, t0 + took)
    print(f"BFD-tracking failover: the VIP on b {took:.3f} s after bfdd was killed, host stall"
          f" in it {stall:.3f} s")
    # b's Master_Down_Interval is 3 x 1 s + (256 - 100) / 256 = 3.61 s: BFD Down puts a in
    # FAULT within 150 ms, a's priority-0 advert hands over after b's skew time (0.61 s)
    assert took - stall < 1.5, (took, stall, pa.log()[-2000:])
    assert wait_for(lambda: vip not in a.addresses(), 2, 0.01) is not None
    assert "VRRP_Instance(VI_1) Tracked BFD instance to_c is DOWN" in pa.log()
    assert time.monotonic() - t0 < 3.0


def test_bfd_child_lifecycle_follows_the_configuration(lab: Lab, tmp_path: Path,
                                                        frr_dir: Path) -> None:
    """No bfd_instance, no BFD child; a reload adding one starts it (its pidfile appears);
    a reload changing the timers keeps the session Up (Poll Sequence, no flap); a killed
    child is respawned and the session comes back; USR1 to the parent reaches it; a reload
    removing the instances stops it and its pidfile goes."""
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24")
    c = lab.node("c", lan, "192.0.2.3/24")
    vrrp = ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  priority 100\n"
            "  virtual_ipaddress { 192.0.2.70/24 }\n}\n")
    ours = Ours(a, tmp_path, vrrp)
    bpid, vpid, ppid = ours.dir / "b.pid", ours.dir / "v.pid", ours.dir / "p.pid"
    assert wait_for(lambda: vpid.exists() and ppid.exists(), 10)
    time.sleep(1.0)
    assert not bpid.exists()
    assert "Starting BFD child" not in ours.log()
    parent = int(ppid.read_text())

    # slow timers: this test is about the process, not the timing (the host may be loaded)
    frr = Bfdd(c, frr_dir, frr_peer("192.0.2.1", "192.0.2.3", ms=200))
    (ours.dir / "keepalived.conf").write_text(vrrp + bfd_block("B1", "192.0.2.3", ms=200))
    os.kill(parent, signal.SIGHUP)
    assert wait_for(bpid.exists, 10), ours.log()[-2000:]
    assert wait_for(lambda: frr.status("192.0.2.1") == "up", 15, 0.2), ours.log()[-2000:]
    first = int(bpid.read_text())

    (ours.dir / "keepalived.conf").write_text(vrrp + bfd_block("B1", "192.0.2.3", ms=300))
    os.kill(parent, signal.SIGHUP)

    def frr_sees_300() -> bool:
        p = next((p for p in frr.peers() if p.get("peer") == "192.0.2.1"), {})
        return p.get("remote-transmit-interval") == 300 and p.get("remote-receive-interval") == 300
    assert wait_for(frr_sees_300, 10, 0.2), frr.peers()
    assert int(bpid.read_text()) == first
    assert ours.log().count("(B1) Entering Up state") == 1          # no flap on reload

    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: bpid.exists() and int(bpid.read_text()) != first, 10)
    assert wait_for(lambda: ours.log().count("(B1) Entering Up state") == 2, 15), ours.log()[-2000:]
    assert wait_for(lambda: frr.status("192.0.2.1") == "up", 10, 0.2)

    data = ours.dir / "keepalived_bfd.data"
    data.unlink(missing_ok=True)
    os.kill(parent, signal.SIGUSR1)
    assert wait_for(data.exists, 5)
    assert "local state = Up" in data.read_text()

    (ours.dir / "keepalived.conf").write_text(vrrp)
    os.kill(parent, signal.SIGHUP)
    assert wait_for(lambda: not bpid.exists(), 10), ours.log()[-2000:]
    assert vpid.exists()


def test_bfd_check_takes_a_real_server_in_and_out_with_the_session(lab: Lab, tmp_path: Path,
                                                                   frr_dir: Path) -> None:
    """BFD_CHECK (alpha: down until the session is Up): the real server enters the
    dataplane when the BFD child reports Up and leaves it when the peer stops answering."""
    if shutil.which("nft") is None:
        pytest.skip("nft(8) is not installed (tests/run.sh installs nftables)")
    lan = lab.lan()
    a = lab.node("a", lan, "192.0.2.1/24", "192.0.2.100/24")
    c = lab.node("c", lan, "192.0.2.3/24")
    conf = ("global_defs {\n  dataplane nftables\n}\n" + bfd_block("rs_c", "192.0.2.3", ms=50)
            + "virtual_server 192.0.2.100 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n"
              "  protocol TCP\n  real_server 192.0.2.3 8080 {\n    BFD_CHECK {\n      name rs_c\n"
              "      alpha\n    }\n  }\n  real_server 192.0.2.4 8080 {\n  }\n}\n")
    ours = Ours(a, tmp_path, conf)

    def table() -> str:
        return a.run("nft", "list", "table", "ip", "keepalived_py", check=False).stdout

    assert wait_for(lambda: "192.0.2.4 . 8080" in table(), 30), ours.log()[-2000:]
    assert "192.0.2.3 . 8080" not in table()                 # alpha: down until BFD says Up
    frr = Bfdd(c, frr_dir, frr_peer("192.0.2.1", "192.0.2.3", ms=50))
    assert wait_for(lambda: "192.0.2.3 . 8080" in table(), 30), ours.log()[-2000:]
    assert "BFD check of [rs_c] RS([192.0.2.3]:tcp:8080) is UP" in ours.log()
    with StallWatch() as sw:
        time.sleep(1.0)                   # past the Poll Sequence to the fast rate
        frr.kill()
        t0 = time.monotonic()
        took = wait_for(lambda: "192.0.2.3 . 8080" not in table(), 5, 0.02)
        assert took is not None, ours.log()[-2000:]
    stall = sw.stalled(t0, t0 + took)
    print(f"\nBFD_CHECK: the real server out {took:.3f} s after bfdd was killed, host stall in"
          f" it {stall:.3f} s")
    assert took - stall < 1.0, (took, stall, ours.log()[-2000:])
    assert "BFD check of [rs_c] RS([192.0.2.3]:tcp:8080) is DOWN" in ours.log()
    assert "192.0.2.4 . 8080" in table()
