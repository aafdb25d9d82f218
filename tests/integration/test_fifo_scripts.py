"""notify_fifo_script / vrrp_notify_fifo_script end to end: the daemon starts the script with the
FIFO's path as its argument, the script reads keepalived's lines; a script that exits at once
is logged once and not restarted (keepalived 2.2.7); at stop the script is ended and the FIFO
removed."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from netlab import Lab
from test_vrrp import Peer, instance, lan_of, wait_for

pytestmark = pytest.mark.netns


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _running(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (our unique tmp path)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def test_fifo_scripts_read_lines_and_one_that_exits_is_not_restarted(lab: Lab,
                                                                     tmp_path: Path) -> None:
    (a,) = lan_of(lab, 1)
    out = tmp_path / "lines"
    starts = tmp_path / "starts"
    reader = _script(tmp_path / "reader.sh",
                     f'echo "$1" >> {starts}\nwhile read line; do echo "$line" >> {out}; done < "$1"\n')
    quitter = _script(tmp_path / "quitter.sh", f'echo "quit $1" >> {starts}\nexit 3\n')
    vfifo, gfifo = tmp_path / "vrrp.fifo", tmp_path / "global.fifo"
    conf = instance(150).replace(
        "global_defs {\n",
        f"global_defs {{\n  vrrp_notify_fifo {vfifo}\n  vrrp_notify_fifo_script {reader}\n"
        f"  notify_fifo {gfifo}\n  notify_fifo_script {quitter}\n", 1)
    p = Peer(a, tmp_path, conf).start()
    assert wait_for(lambda: p.has("192.0.2.100/24"), 8), p.log()
    want = ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150']
    assert wait_for(lambda: out.exists() and out.read_text().split("\n")[:2] == want, 5), \
        (out.read_text() if out.exists() else "", p.log())
    assert wait_for(lambda: "vrrp notify fifo script terminated" in p.log(), 5), p.log()
    time.sleep(2)
    # the quitter ran once (keepalived does not restart it), the reader once, with the FIFO path
    assert sorted(starts.read_text().split("\n")[:-1]) == sorted([str(vfifo), f"quit {gfifo}"])
    assert p.log().count("vrrp notify fifo script terminated") == 1
    assert p.proc is not None and p.proc.poll() is None          # the daemon runs on
    assert vfifo.exists() and gfifo.exists()
    assert _running(str(reader))
    p.stop()
    assert not vfifo.exists() and not gfifo.exists()             # created by us: removed
    assert wait_for(lambda: not _running(str(reader)), 3), _running(str(reader))


def test_scripts_run_as_script_user_or_their_own_user(lab: Lab, tmp_path: Path) -> None:
    """script_user for scripts without a user (here the FIFO script), a notify script's
    trailing user and group for itself; each reports its uid, gid and groups."""
    import shutil
    import tempfile
    world = Path(tempfile.mkdtemp(prefix="kp-user-", dir="/tmp"))   # reachable by other users
    try:
        world.chmod(0o755)
        out = world / "out"
        out.mkdir()
        out.chmod(0o777)
        ids = _script(world / "ids.sh", f'echo "$(id -u) $(id -g) $(id -G)" > {out}/$2\n')
        fifo_reader = _script(world / "fifo.sh", f'{ids} x fifo\n'
                              f'while read line; do echo "$line" >> {out}/lines; done < "$1"\n')
        notify = _script(world / "master.sh", f"{ids} x master\n")
        (a,) = lan_of(lab, 1)
        conf = instance(150, extra=f"notify_master {notify} daemon daemon").replace(
            "global_defs {\n", f"global_defs {{\n  script_user nobody\n"
                               f"  vrrp_notify_fifo {world / 'v.fifo'}\n"
                               f"  vrrp_notify_fifo_script {fifo_reader}\n", 1)
        p = Peer(a, tmp_path, conf).start()
        assert wait_for(lambda: (out / "master").exists() and (out / "fifo").exists(), 10), \
            p.log()
        time.sleep(0.2)
        assert (out / "fifo").read_text().split() == ["65534", "65534", "65534"]   # nobody
        assert (out / "master").read_text().split() == ["1", "1", "1"]            # daemon
        # the FIFO is the script user's (as keepalived chowns it): nobody reads the lines
        assert wait_for(lambda: (out / "lines").exists() and
                        'INSTANCE "VI_1" MASTER 150' in (out / "lines").read_text(), 5), p.log()
        p.stop()
    finally:
        shutil.rmtree(world, ignore_errors=True)
