"""VRRPv2 with IPsec AH authentication (auth_type AH), against keepalived 2.2.7 in namespaces."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vrrp import KEEPALIVED, Peer, exactly_one_master, instance, lan_of, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

VIP = "192.0.2.100/24"


def ah(password: str) -> str:
    return f"authentication {{\n    auth_type AH\n    auth_pass {password}\n  }}"


def need_keepalived() -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")


def stats(peer: Peer) -> dict[str, int]:
    r = peer.node.run(sys.executable, "-m", "keepalived_py", "status", "--json", "-r",
                      str(peer.dir / "v.pid"))
    return json.loads(r.stdout)["instances"][0]["stats"]  # type: ignore[no-any-return]


def capture_ah(node: Node, count: int, timeout: float = 10) -> list[bytes]:
    """`count` AH packets seen on the node's eth0 (a raw protocol-51 socket)."""
    code = f"""
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 51)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("224.0.0.18")
             + bytes(4) + struct.pack("@i", socket.if_nametoindex("eth0")))
s.settimeout({timeout})
for _ in range({count}):
    print(s.recv(2000).hex(), flush=True)
"""
    r = node.run(sys.executable, "-c", code, timeout=timeout * count + 10)
    return [bytes.fromhex(x) for x in r.stdout.split()]


@pytest.mark.parametrize("unicast", [False, True], ids=["multicast", "unicast"])
@pytest.mark.parametrize("ours_master", [True, False], ids=["ours-master", "keepalived-master"])
def test_ah_interoperates_with_keepalived(lab: Lab, tmp_path: Path, ours_master: bool,
                                          unicast: bool) -> None:
    need_keepalived()
    a, b = lan_of(lab, 2)
    hi, lo = 150, 100
    uni_a = ("192.0.2.1", "192.0.2.2") if unicast else None
    uni_b = ("192.0.2.2", "192.0.2.1") if unicast else None
    pa = Peer(a, tmp_path, instance(hi if ours_master else lo, extra=ah("secret12"),
                                    unicast=uni_a), ours=True)
    pb = Peer(b, tmp_path, instance(lo if ours_master else hi, extra=ah("secret12"),
                                    unicast=uni_b), ours=False)
    pa.start()
    pb.start()
    master, backup = (pa, pb) if ours_master else (pb, pa)
    assert wait_for(lambda: master.has(VIP), 10), (master.log(), backup.log())
    assert wait_for(lambda: "BACKUP" in backup.log(), 5), backup.log()
    # the backup hears (and authenticates) the master for a few intervals: no split
    for _ in range(6):
        assert exactly_one_master([pa, pb], VIP), (pa.log(), pb.log())
        wait_for(lambda: False, 0.5)
    for p in (pa, pb):
        assert "IPSEC" not in p.log(), p.log()
    assert stats(pa)["auth_failure"] == 0
    master.stop()                                                 # priority 0, then gone
    assert wait_for(lambda: backup.has(VIP), 8), (backup.log(), master.log())
    assert exactly_one_master([pa, pb], VIP)
    master.start()                                                # higher priority returns
    assert wait_for(lambda: master.has(VIP) and not backup.has(VIP), 12), (master.log(),
                                                                            backup.log())
    wait_for(lambda: False, 2.5)
    assert exactly_one_master([pa, pb], VIP), (pa.log(), pb.log())


def test_ah_master_killed_backup_takes_over_and_continues_the_sequence(
        lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    a, b, c = lan_of(lab, 3)
    pk = Peer(a, tmp_path, instance(150, extra=ah("secret12")), ours=False).start()
    po = Peer(b, tmp_path, instance(100, extra=ah("secret12")), ours=True).start()
    assert wait_for(lambda: pk.has(VIP), 10), pk.log()
    before = [ah_seq(p) for p in capture_ah(c, 2)]
    pk.stop(9)                                                    # SIGKILL: no priority 0
    assert wait_for(lambda: po.has(VIP), 8), po.log()
    after = [ah_seq(p) for p in capture_ah(c, 2)]
    # keepalived's one counter per instance: the new master goes on above what it heard
    assert after[0] > before[-1], (before, after)
    assert stats(po)["auth_failure"] == 0


def ah_seq(packet: bytes) -> int:
    ihl = (packet[0] & 0x0F) * 4
    return int.from_bytes(packet[ihl + 8:ihl + 12], "big")


def test_ah_wrong_password_is_dropped_and_counted(lab: Lab, tmp_path: Path) -> None:
    need_keepalived()
    a, b = lan_of(lab, 2)
    pk = Peer(a, tmp_path, instance(150, extra=ah("secret12")), ours=False).start()
    po = Peer(b, tmp_path, instance(100, extra=ah("wrong123")), ours=True).start()
    assert wait_for(lambda: pk.has(VIP), 10), pk.log()
    # ours cannot authenticate keepalived's adverts: it does not see a master and takes over
    assert wait_for(lambda: po.has(VIP), 8), po.log()
    assert pk.has(VIP)
    assert "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad" \
           " password !" in po.log(), po.log()
    # counted (keepalived's master then goes quiet: it re-arms its advert timer on every
    # packet it reads, refused ones included, and ours arrive every advert_int)
    assert stats(po)["auth_failure"] >= 1, stats(po)
    # and keepalived refuses ours the same way
    assert wait_for(lambda: "IPSEC-AH : invalid IPSEC HMAC-MD5 value" in pk.log(), 5), pk.log()


TAMPER = r"""
import socket, sys, time
from scapy.all import IP, Raw, send, conf
conf.verb = 0
good = bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
for i in range(3):
    pkt = IP(good)
    raw = bytearray(bytes(pkt))
    raw[4 * (raw[0] & 15) + 8:4 * (raw[0] & 15) + 12] = (10**6 + i).to_bytes(4, "big")  # seq
    raw[-9] ^= 0x01                    # a byte of the advertised address
    p = IP(bytes(raw))
    p.id = 4000 + i
    del p.chksum
    s.sendto(bytes(p), ("224.0.0.18", 0))
    time.sleep(0.2)
print("sent")
"""


def test_ah_tampered_packet_is_dropped_and_counted(lab: Lab, tmp_path: Path) -> None:
    """A keepalived advert with one flipped byte (and a fresh sequence number) is refused."""
    need_keepalived()
    a, b, c = lan_of(lab, 3)
    pk = Peer(a, tmp_path, instance(150, extra=ah("secret12")), ours=False).start()
    po = Peer(b, tmp_path, instance(100, extra=ah("secret12")), ours=True).start()
    assert wait_for(lambda: pk.has(VIP), 10), pk.log()
    assert wait_for(lambda: "Entering BACKUP STATE" in po.log(), 5), po.log()
    good = capture_ah(c, 1)[0]
    assert good[9] == 51
    # a replay of a genuine advert (a sequence number already seen) is refused
    before = stats(po)["auth_failure"]
    r = c.run(sys.executable, "-c", REPLAY, good.hex(), timeout=30, check=False)
    assert "sent" in r.stdout, r.stdout + r.stderr
    assert wait_for(lambda: stats(po)["auth_failure"] == before + 1, 5), po.log()
    assert f"(VI_1) IPSEC-AH : sequence number {ah_seq(good)} already processed. Packet dropped." \
           " Local(" in po.log(), po.log()
    # tampered copies (one flipped address byte, fresh sequence numbers) are refused; the
    # log line is rate limited per counter (vrrp.advert.dropped), the counter is exact
    r = c.run(sys.executable, "-c", TAMPER, good.hex(), timeout=30, check=False)
    assert "sent" in r.stdout, r.stdout + r.stderr
    assert wait_for(lambda: stats(po)["auth_failure"] == before + 4, 5), po.log()
    # the genuine adverts still pass: no takeover
    wait_for(lambda: False, 1.5)
    assert not po.has(VIP) and stats(po)["auth_failure"] == before + 4, po.log()
    assert "Entering MASTER STATE" not in po.log()


REPLAY = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.sendto(bytes.fromhex(sys.argv[1]), ("224.0.0.18", 0))
print("sent")
"""


def test_ah_killed_vrrp_child_resumes_above_the_old_sequence(lab: Lab, tmp_path: Path) -> None:
    """Our respawned VRRP child resumes mastership (vrrp/daemon.py) with sequence numbers
    above the dead child's, so keepalived's backup keeps accepting them: no replay drops and
    no takeover."""
    need_keepalived()
    a, b = lan_of(lab, 2)
    po = Peer(a, tmp_path, instance(150, extra=ah("secret12")), ours=True).start()
    pk = Peer(b, tmp_path, instance(100, extra=ah("secret12")), ours=False).start()
    assert wait_for(lambda: po.has(VIP), 10), po.log()
    wait_for(lambda: False, 6)                    # a master of some standing
    child = int((po.dir / "v.pid").read_text())
    os.kill(child, 9)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6:
        assert po.has(VIP), po.log()
        assert not pk.has(VIP), pk.log()
        time.sleep(0.05)
    assert int((po.dir / "v.pid").read_text()) != child
    assert "already processed" not in pk.log(), pk.log()


def test_ah_switched_on_by_reload_sends_ah(lab: Lab, tmp_path: Path) -> None:
    """SIGHUP from no authentication to auth_type AH: the instance moves to the AH socket and
    keeps mastership; what goes out is an authenticated AH packet."""
    a, b = lan_of(lab, 2)
    po = Peer(a, tmp_path, instance(150)).start()
    assert wait_for(lambda: po.has(VIP), 10), po.log()
    po.conf.write_text(instance(150, extra=ah("secret12")))
    os.kill(int((po.dir / "p.pid").read_text()), signal.SIGHUP)
    pkts = capture_ah(b, 2)
    from keepalived_py.vrrp import ah as ipsec_ah
    counter = ipsec_ah.SeqCounter()
    for p in pkts:
        ipsec_ah.check(ipsec_ah.decode_packet(p), ipsec_ah.key_of("secret12"), counter,
                       name="VI_1", unicast=False, backup=True)
    assert po.has(VIP) and "Entering BACKUP" not in po.log().split("Reloading")[-1], po.log()


CAPTURE_BG = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 51)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("224.0.0.18")
             + bytes(4) + struct.pack("@i", socket.if_nametoindex("eth0")))
s.settimeout(15)
print("ready", flush=True)
for _ in range(int(sys.argv[1])):
    print(s.recv(2000).hex(), flush=True)
"""


def first_adverts(sniffer: Node, peer: Peer, count: int) -> list[bytes]:
    mon = sniffer.popen([sys.executable, "-c", CAPTURE_BG, str(count)],
                        stdout=subprocess.PIPE, text=True)
    assert mon.stdout is not None and mon.stdout.readline().strip() == "ready"
    peer.start()
    out, _ = mon.communicate(timeout=30)
    peer.stop()
    return [bytes.fromhex(x) for x in out.split()]


def test_ah_our_first_adverts_are_keepalived_bytes(lab: Lab, tmp_path: Path) -> None:
    """The same configuration on the same node: keepalived 2.2.7's first AH adverts as a new
    master and ours are the same bytes (IP id, sequence number, ICV and all)."""
    need_keepalived()
    a, b = lan_of(lab, 2)
    conf = instance(150, vip="192.0.2.100/24\n    192.0.2.101/24", extra=ah("secret12"))
    (tmp_path / "k").mkdir()
    (tmp_path / "o").mkdir()
    theirs = first_adverts(b, Peer(a, tmp_path / "k", conf, ours=False), 3)
    ours = first_adverts(b, Peer(a, tmp_path / "o", conf, ours=True), 3)
    assert len(theirs) == len(ours) == 3
    assert [p.hex() for p in ours] == [p.hex() for p in theirs]
