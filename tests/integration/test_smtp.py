"""smtp_alert end to end: a real SMTP server (aiosmtpd) in a namespace receives the mails of a
VRRP failover and of a real server going down, with keepalived 2.2.7's headers and subjects
(checked against the real keepalived binary); an SMTP server that accepts and never answers
delays nothing."""
from __future__ import annotations

import email
import email.utils
import json
import signal
import subprocess
import sys
import time
from email.message import Message
from pathlib import Path

import pytest
from netlab import Lab, Node
from stallwatch import StallWatch
from test_check import Topology, conf
from test_vrrp import START, Peer, judged, wait_for

pytestmark = pytest.mark.netns

pytest.importorskip("aiosmtpd", reason="aiosmtpd is in the test extra (tests/run.sh installs it)")

# one file per mail, with the envelope (HELO, MAIL FROM, RCPT TO) as extra leading headers
SINK = r"""
import os, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[3]
class H:
    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time():.6f}-{session.peer[0]}"
        with open(os.path.join(out, "." + name), "wb") as f:
            f.write(b"X-Helo: " + (session.host_name or "").encode() + b"\r\n")
            f.write(b"X-Mail-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Rcpt-Tos: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(os.path.join(out, "." + name), os.path.join(out, name))
        return "250 OK"
c = Controller(H(), hostname=sys.argv[1], port=int(sys.argv[2]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""

# accepts connections and never says a word
TARPIT = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(100)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
"""


class Sink:
    """An SMTP server (or a tarpit) on `node`, port 2525."""

    def __init__(self, node: Node, address: str, tmp: Path, tarpit: bool = False) -> None:
        self.dir = tmp / "mails"
        self.dir.mkdir(exist_ok=True)
        self.proc = node.popen([sys.executable, "-c", TARPIT if tarpit else SINK, address, "2525",
                                str(self.dir)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"

    def raw(self, sender: str = "") -> list[bytes]:
        """The mails in arrival order; with `sender`, only those from that address."""
        return [p.read_bytes() for p in sorted(self.dir.iterdir())
                if not p.name.startswith(".") and (not sender or p.name.endswith("-" + sender))]

    def mails(self) -> list[Message]:
        return [email.message_from_bytes(b) for b in self.raw()]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mails()]


def smtp_globals(router_id: str, server: str, extra: str = "") -> str:
    return f"""global_defs {{
  router_id {router_id}
  notification_email {{
    ops@example.org
    noc@example.org
  }}
  notification_email_from keepalived@example.org
  smtp_server {server} 2525
  smtp_connect_timeout 2
  {extra}
}}
"""


def vrrp_conf(router_id: str, prio: int, server: str = "192.0.2.25", extra: str = "") -> str:
    return smtp_globals(router_id, server, extra) + f"""vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int 1
  smtp_alert
  virtual_ipaddress {{ 192.0.2.100/24 }}
}}
"""


def lan_with_mx(lab: Lab) -> tuple[Node, Node, Node]:
    lan = lab.lan()
    return (lab.node("n1", lan, "192.0.2.1/24"), lab.node("n2", lan, "192.0.2.2/24"),
            lab.node("mx", lan, "192.0.2.25/24"))


def failover_after_sigkill(pa: Peer, pb: Peer, vip: str) -> None:
    """SIGKILL the master's daemon: the backup (priority 100) holds `vip` within its
    Master_Down_Interval plus 1 s, less the host stall (mails are never on that path)."""
    with StallWatch() as sw:
        pa.stop(signal.SIGKILL)
        t0 = time.monotonic()
        took = wait_for(lambda: pb.has(vip), 15)
        assert took is not None, pb.log()
        bound = 3 + (256 - 100) / 256 + 1.0             # Master_Down_Interval + slack
        assert judged(sw, t0, t0 + took, bound, "failover after SIGKILL") < bound, pb.log()


def test_smtp_failover_mails_reach_the_server_with_keepalived_headers(lab: Lab,
                                                                      tmp_path: Path) -> None:
    a, b, mx = lan_with_mx(lab)
    sink = Sink(mx, "192.0.2.25", tmp_path)
    vip = "192.0.2.100/24"
    pa = Peer(a, tmp_path, vrrp_conf("node-a", 150, extra="smtp_helo_name a.example.org")).start()
    pb = Peer(b, tmp_path, vrrp_conf("node-b", 100)).start()
    assert wait_for(lambda: pa.has(vip), START), pa.log()
    want = {"[node-a] VRRP Instance VI_1 - Entering BACKUP state",
            "[node-a] VRRP Instance VI_1 - Entering MASTER state",
            "[node-b] VRRP Instance VI_1 - Entering BACKUP state"}
    assert wait_for(lambda: want <= set(sink.subjects()), 15), (sink.subjects(), pa.log())
    failover_after_sigkill(pa, pb, vip)
    master_b = "[node-b] VRRP Instance VI_1 - Entering MASTER state"
    assert wait_for(lambda: master_b in sink.subjects(), 5), (sink.subjects(), pb.log())
    # one mail per transition, nothing twice (usually 4; a slow start of a's daemon can let b
    # be master first, then preempted: more transitions, each with its mail)
    assert wait_for(lambda: sorted(sink.subjects()) == sorted(
        _transitions(pa, "node-a") + _transitions(pb, "node-b")), 5), (sink.subjects(), pa.log(), pb.log())
    want_counters = {"sent": len(_transitions(pb, "node-b")), "failed": 0, "dropped": 0,
                     "queued": 0}                                       # counted after QUIT
    assert wait_for(lambda: _smtp_counters(pb) == want_counters, 3), _smtp_counters(pb)
    for m in sink.mails():
        assert m["From"] == "keepalived@example.org"
        assert m["To"] == "ops@example.org, noc@example.org"
        assert m["X-Mailer"] == "Keepalived"
        assert m["X-Mail-From"] == "keepalived@example.org"
        assert m["X-Rcpt-Tos"] == "ops@example.org,noc@example.org"
        assert abs(email.utils.parsedate_to_datetime(m["Date"]).timestamp() - time.time()) < 60
    by_subject = {str(m["Subject"]): m for m in sink.mails()}
    assert by_subject[master_b].get_payload().strip() == "=> VRRP Instance is now owning VRRP VIPs <="
    assert by_subject["[node-a] VRRP Instance VI_1 - Entering MASTER state"]["X-Helo"] == \
        "a.example.org"


def test_smtp_mail_is_byte_for_byte_keepalived_s(lab: Lab, tmp_path: Path) -> None:
    """The real keepalived 2.2.7 and ours, same configuration: the same mail (but its Date)."""
    a, b, mx = lan_with_mx(lab)
    sink = Sink(mx, "192.0.2.25", tmp_path)
    Peer(a, tmp_path, vrrp_conf("lb", 100), ours=False).start()
    assert wait_for(lambda: sink.raw("192.0.2.1"), 15), "keepalived sent no mail"
    Peer(b, tmp_path, vrrp_conf("lb", 100)).start()
    assert wait_for(lambda: sink.raw("192.0.2.2"), START), "keepalived-py sent no mail"
    # each one's first mail: its first transition, to BACKUP (keepalived may have become
    # master meanwhile, on a slow host: that second mail of its is not compared)
    theirs, ours = (sink.raw(sender)[0].split(b"\r\n") for sender in ("192.0.2.1", "192.0.2.2"))
    date = [i for i, line in enumerate(theirs) if line.startswith(b"Date: ")]
    assert date and ours[date[0]].startswith(b"Date: ")
    for i in date:
        theirs[i] = ours[i] = b"Date:"
    assert ours == theirs                                   # HELO name and envelope included


def test_smtp_server_that_never_answers_delays_no_failover(lab: Lab, tmp_path: Path) -> None:
    a, b, mx = lan_with_mx(lab)
    Sink(mx, "192.0.2.25", tmp_path, tarpit=True)
    vip = "192.0.2.100/24"
    pa = Peer(a, tmp_path, vrrp_conf("node-a", 150)).start()
    pb = Peer(b, tmp_path, vrrp_conf("node-b", 100)).start()
    assert wait_for(lambda: pa.has(vip), START), pa.log()
    assert wait_for(lambda: not pb.has(vip), 10), pb.log()     # adverts keep b in BACKUP
    time.sleep(1.5)
    assert not pb.has(vip), pb.log()
    failover_after_sigkill(pa, pb, vip)
    line = "Timeout reading data to remote SMTP server [192.0.2.25]:2525."
    assert wait_for(lambda: line in pb.log(), 6), pb.log()
    counters = _smtp_counters(pb)
    assert counters["sent"] == 0 and counters["failed"] >= 1, counters
    t0 = time.monotonic()
    pb.stop()                                           # a stuck mail does not hold the stop
    assert time.monotonic() - t0 < 4, pb.log()


def test_smtp_unreachable_server_costs_only_the_mails(lab: Lab, tmp_path: Path) -> None:
    a, b, _mx = lan_with_mx(lab)
    vip = "192.0.2.100/24"
    # nothing listens on 192.0.2.26: the connection is refused (or never answered)
    pa = Peer(a, tmp_path, vrrp_conf("node-a", 150, server="192.0.2.26")).start()
    pb = Peer(b, tmp_path, vrrp_conf("node-b", 100, server="192.0.2.26")).start()
    assert wait_for(lambda: pa.has(vip), START), pa.log()
    assert wait_for(lambda: not pb.has(vip), 10), pb.log()     # b heard a: a failover follows
    failover_after_sigkill(pa, pb, vip)
    assert wait_for(lambda: "SMTP server [192.0.2.26]:2525" in pb.log(), 6), pb.log()


def test_smtp_real_server_down_and_up_mails(lab: Lab, tmp_path: Path) -> None:
    t = Topology(lab, tmp_path)
    mx = lab.node("mx", None)
    lab.attach(mx, _back_lan(lab), "eth0", "198.51.100.25/24")
    sink = Sink(mx, "198.51.100.25", tmp_path)
    text = conf([("198.51.100.11", 1), ("198.51.100.12", 1)]).replace(
        "global_defs {\n", smtp_globals("lb", "198.51.100.25").rstrip().rstrip("}") + "\n", 1)
    t.start_daemon(text)
    assert wait_for(lambda: "198.51.100.12 . 8080" in t.table(), START), t.log()
    t.stop_server("rs2")
    down = ("[lb] Realserver [198.51.100.12]:tcp:8080 of virtual server [192.0.2.100]:tcp:80"
            " - DOWN")
    assert wait_for(lambda: down in sink.subjects(), 10), (sink.subjects(), t.log())
    t.start_server("rs2")
    up = down.replace(" - DOWN", " - UP")
    assert wait_for(lambda: up in sink.subjects(), 10), (sink.subjects(), t.log())
    by_subject = {str(m["Subject"]): m for m in sink.mails()}
    assert by_subject[down].get_payload().strip() == \
        "=> CHECK failed on service : HTTP request failed <="
    assert by_subject[up].get_payload().strip() == "=> CHECK succeed on service <="
    assert by_subject[down]["X-Mailer"] == "Keepalived"
    assert len(sink.mails()) == 2                      # rs1 never changed: no mail about it


def _transitions(peer: Peer, router_id: str) -> list[str]:
    """The subjects of the mails `peer`'s state changes call for, from its whole log."""
    import re
    log = (peer.dir / "log").read_text(errors="replace")
    return sorted(f"[{router_id}] VRRP Instance {name} - Entering {state} state"
                  for name, state in re.findall(r"\((\S+)\) Entering (\w+) STATE", log))


def _smtp_counters(peer: Peer) -> dict[str, int]:
    """The VRRP child's mail counters, from its control socket (status JSON)."""
    from keepalived_py.obs.control import query
    counters: dict[str, int] = json.loads(query(str(peer.dir / "keepalived-py-vrrp.ctl"),
                                                "status"))["smtp"]
    return counters


def _back_lan(lab: Lab) -> str:
    return lab.name("back")
