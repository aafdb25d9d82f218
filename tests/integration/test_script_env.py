"""What a script the VRRP child runs inherits, against keepalived 2.2.7 on the same
configuration: keepalived resets the process settings of a script's child before exec
(lib/notify.c system_call_script: reset_process_priorities, then signal_handler_script), so a
script starts with the nice value the daemon started with (not vrrp_priority's), out of
SCHED_RR with the original RLIMIT_RTTIME, every signal at its default and none blocked, and the
daemon's umask. A probe script, run as notify_master and as a vrrp_script, writes what it has
(/proc/self); both daemons must give the same lines."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from netlab import Lab
from test_vmac_firewall import need_keepalived
from test_vrrp import Peer

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

# shell builtins only: dash blocks every signal while it waits for a child, so a probe that
# forks (grep, awk, $(...)) could read that mask instead of the one it was started with
# (the sleep: keepalived-py sets nice and rlimits on the script's pid right after starting it,
# not between fork and exec as keepalived does - core/scriptenv.py says why)
PROBE = r"""#!/bin/sh
out=$1
sleep 0.3
read -r stat < /proc/$$/stat
set -- ${stat##*) }
{
  echo "nice ${17}"
  echo "policy ${39}"
  [ "$3" = "$$" ] && echo "own process group"
  while IFS= read -r line; do
    case $line in SigBlk:*|SigIgn:*|Umask:*|Cpus_allowed_list:*) echo "$line";; esac
  done < /proc/$$/status
  while IFS= read -r line; do
    case $line in "Max realtime timeout"*|"Max open files"*|"Max core file size"*)
      echo "$line";; esac
  done < /proc/$$/limits
} > "$out.tmp"
mv "$out.tmp" "$out"
"""

CONF = """global_defs {{
  {extra}
}}
vrrp_script probe {{
  script "{probe} {dir}/track"
  interval 1
}}
vrrp_instance VI_1 {{
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  track_script {{
    probe
  }}
  notify_master "{probe} {dir}/master"
  virtual_ipaddress {{
    192.0.2.61/24
  }}
}}
"""

SETTINGS = {
    "nice": "vrrp_priority -10",                              # and keepalived's umask 0177
    "realtime": "vrrp_rt_priority 20\n  vrrp_rlimit_rttime 3000000\n  umask 0027",
}


def _run(lab: Lab, tmp: Path, name: str, ours: bool, extra: str) -> dict[str, str]:
    node = lab.node(name, lab.lan(f"lan{name}"), "192.0.2.1/24")
    probe = tmp / "probe.sh"
    probe.write_text(PROBE)
    probe.chmod(0o755)
    out = tmp / name
    out.mkdir(mode=0o755)
    peer = Peer(node, tmp, CONF.format(extra=extra, probe=probe, dir=out), ours=ours).start()
    try:
        end = time.monotonic() + 12
        while time.monotonic() < end and not all((out / k).exists() for k in ("track",
                                                                               "master")):
            time.sleep(0.1)
        got = {k: (out / k).read_text() for k in ("track", "master") if (out / k).exists()}
    finally:
        peer.stop()
    assert set(got) == {"track", "master"}, peer.log()
    return got


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, SCHED_RR and nice < 0 need root")
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_scripts_start_with_keepalived_process_settings(lab: Lab, tmp_path: Path,
                                                        setting: str) -> None:
    need_keepalived()
    tmp_path.chmod(0o755)
    theirs = _run(lab, tmp_path, "k", False, SETTINGS[setting])
    ours = _run(lab, tmp_path, "p", True, SETTINGS[setting])
    assert ours == theirs
    for text in ours.values():                        # and what that is, spelled out
        assert "SigBlk:\t0000000000000000" in text, text
        assert "nice 0" in text and "policy 0" in text, text


# a notify_master script that stays (a sleep it waits for) and says how it ended
STAYING = r"""#!/bin/sh
out=$1
echo "$$ $PPID" > "$out/pids.tmp"; mv "$out/pids.tmp" "$out/pids"
sleep 20 &
trap 'echo TERM > "$out/ended"; kill $!; exit 0' TERM
wait
echo "sleep ended" > "$out/ended"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")
@pytest.mark.parametrize("who", ["keepalived", "ours"])
def test_scripts_die_with_the_vrrp_child_as_keepalived(lab: Lab, tmp_path: Path,
                                                       who: str) -> None:
    """keepalived 2.2.7 asks for SIGTERM as a script's parent-death signal (lib/notify.c
    system_call: PR_SET_PDEATHSIG): the VRRP child killed, its running notify script gets
    SIGTERM at once. keepalived-py's (core/scriptenv.py exec_argv) the same."""
    if who == "keepalived":
        need_keepalived()
    tmp_path.chmod(0o755)
    script = tmp_path / "stay.sh"
    script.write_text(STAYING)
    script.chmod(0o755)
    node = lab.node("d", lab.lan("land"), "192.0.2.1/24")
    conf = CONF.format(extra="script_user root", probe=script, dir=tmp_path)
    conf = conf.replace(f'script "{script} {tmp_path}/track"', 'script "/bin/true"')
    conf = conf.replace(f'"{script} {tmp_path}/master"', f'"{script} {tmp_path}"')
    peer = Peer(node, tmp_path, conf, ours=who == "ours").start()
    try:
        pids = tmp_path / "pids"
        end = time.monotonic() + 12
        while time.monotonic() < end and not pids.exists():
            time.sleep(0.05)
        assert pids.exists(), peer.log()
        spid, ppid = (int(x) for x in pids.read_text().split())
        child = int((peer.dir / "v.pid").read_text())
        assert ppid == child, "the VRRP child runs the script"
        os.kill(child, 9)
        t0 = time.monotonic()
        ended = tmp_path / "ended"
        while time.monotonic() - t0 < 5 and not ended.exists():
            time.sleep(0.05)
        assert ended.exists() and ended.read_text() == "TERM\n", peer.log()
        assert time.monotonic() - t0 < 3            # at once (the bound allows a loaded host)
        assert not os.path.exists(f"/proc/{spid}/status") or \
            "zombie" in open(f"/proc/{spid}/status").read()
    finally:
        peer.stop()
