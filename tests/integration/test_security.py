"""Security review, checked on a running daemon (issue 15 item 5):

- control sockets are 0600; no file the daemon writes (dumps, state file, its log) holds the
  auth_pass;
- the Prometheus endpoint is off by default (no listening TCP socket at all);
- a notify script runs as script_user nobody, started directly by the daemon (no shell between);
- dumps are written by rename, not by truncating the file in place (a hard link to the old
  dump keeps the old text), and a symlink planted at a dump path is replaced, not followed;
- a world-writable include file is reported (config/filesec.py; keepalived 2.2.7 says nothing).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from daemonlab import make_script, world_dir
from netlab import Lab
from test_vrrp import Peer, instance, lan_of, wait_for

pytestmark = pytest.mark.netns
VIP = "192.0.2.100/24"
PASSWORD = "Zq9sEcr7"                  # 8 characters: VRRPv2 simple password
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "busybox"}


def test_security_review_on_a_running_daemon(lab: Lab, tmp_path: Path) -> None:
    with world_dir("sec") as (world, out):
        notify = make_script(world / "master.sh",
                             f'echo "$(id -u) $(cat /proc/$PPID/comm)" > {out}/master\n')
        dumps = tmp_path / "dumps"
        dumps.mkdir()
        victim = tmp_path / "victim"
        victim.write_text("precious")
        (dumps / "keepalived.stats").symlink_to(victim)          # planted
        (a,) = lan_of(lab, 1)
        inc = world / "included.conf"
        inc.write_text("# nothing but a comment\n")
        inc.chmod(0o666)
        conf = instance(150, extra=f"authentication {{\n    auth_type PASS\n    auth_pass "
                                   f"{PASSWORD}\n  }}\n  notify_master {notify}").replace(
            "global_defs {\n", "global_defs {\n  script_user nobody\n", 1) + f"include {inc}\n"
        p = Peer(a, tmp_path, conf).start(env={"TMPDIR": str(dumps)})
        d = p.dir
        assert wait_for(lambda: p.has(VIP), 10), p.log()
        assert wait_for(lambda: (out / "master").exists(), 5), p.log()
        # the notify script: nobody, its parent the daemon itself (no shell in between)
        time.sleep(0.2)
        uid, comm = (out / "master").read_text().split()
        assert uid == "65534"
        assert comm not in SHELLS and comm.startswith("keepalived"), comm
        # every control socket 0600
        ctls = sorted(d.glob("*.ctl"))
        assert ctls, list(d.iterdir())
        for s in ctls:
            assert os.stat(s).st_mode & 0o777 == 0o600, s
        # the Prometheus endpoint is off unless asked for: nothing listens on TCP
        listening = a.run("ss", "-Hltn").stdout.strip()
        assert listening == "", listening
        # dumps: the planted symlink replaced, the victim untouched; rewritten by rename
        child = int((d / "v.pid").read_text())
        os.kill(child, signal.SIGUSR1)
        os.kill(child, signal.SIGUSR2)
        os.kill(child, signal.SIGRTMIN + 2)
        files = [dumps / f for f in ("keepalived.data", "keepalived.stats", "keepalived.json")]
        assert wait_for(lambda: all(f.is_file() and not f.is_symlink() for f in files), 5)
        assert victim.read_text() == "precious"
        old = dumps / "old.data"
        os.link(dumps / "keepalived.data", old)
        before = old.read_text()
        ino = old.stat().st_ino
        os.kill(child, signal.SIGUSR1)
        assert wait_for(lambda: (dumps / "keepalived.data").stat().st_ino != ino, 5)
        assert old.read_text() == before            # the old file was never truncated
        assert wait_for(lambda: any(d.glob("*state*")), 5), list(d.iterdir())
        # no file we wrote holds the password (the configuration itself aside)
        written = [f for f in [*d.iterdir(), *dumps.iterdir()]
                   if f.is_file() and f != p.conf and f != old]
        assert any("state" in f.name for f in written), written
        for f in written:
            assert PASSWORD.encode() not in f.read_bytes(), f
        for f in written:
            if "state" in f.name:
                assert f.stat().st_mode & 0o077 == 0, f
        # the world-writable include is reported at start
        assert f"configuration file '{inc}' is writable by every user" in \
            (d / "log").read_text(errors="replace")
        p.stop()
