"""global_defs process keywords on a real daemon in a namespace: the VRRP child's scheduling
(/proc/PID/stat policy, priority, nice), memory locking (VmLck), CPU affinity, RLIMIT_RTTIME
(/proc/PID/limits), the umask every process has (/proc/PID/status Umask), the startup script
(run before the children, killed at its timeout), the shutdown script (run after them),
vrrp_startup_delay and child_wait_time."""
from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemonlab import Daemon, daemons, make_script, read_pidfile, stat_fields, status, wait_for
from netlab import Lab

pytestmark = pytest.mark.netns

INSTANCE = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 42
    priority 100
    version 3
    advert_int 0.1
    virtual_ipaddress { 192.0.2.200/24 }
}
"""


def rcvbuf_of(pid: int, fd: int) -> int:
    """SO_RCVBUF of another process's socket (pidfd_getfd(2), syscall 438; root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        mine = libc.syscall(438, pidfd, fd, 0)
        assert mine >= 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(pidfd)
    with socket.socket(fileno=mine) as s:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


@pytest.fixture
def start(lab: Lab, tmp_path: Path) -> Iterator[Callable[[str], Daemon]]:
    # -D: the tests read the detailed lines; the parent's pidfile is not waited for (the
    # startup script test times the children from the start)
    with daemons(lab, tmp_path, "-D", start_timeout=None) as make:
        yield make


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_RR and mlockall need root")
def test_vrrp_child_runs_sched_rr_locked_on_its_cpu_with_its_rttime_limit(start) -> None:
    cpu = min(os.sched_getaffinity(0))
    d = start("global_defs {\n vrrp_rt_priority 20\n vrrp_rlimit_rttime 3000000\n"
              f" vrrp_no_swap\n vrrp_cpu_affinity {cpu}\n}}\n" + INSTANCE)
    pid = d.child()
    # applied once the child has started its instances (the pidfile comes earlier)
    assert wait_for(lambda: status(pid)["Cpus_allowed_list"] == str(cpu), 5), d.log()
    f = stat_fields(pid)
    assert f[38] == "2"                                                    # policy: SCHED_RR
    assert f[37] == "20"                                                   # rt_priority
    st = status(pid)
    assert int(st["VmLck"].split()[0]) > 0, st["VmLck"]                   # mlockall
    assert st["Cpus_allowed_list"] == str(cpu)
    limits = Path(f"/proc/{pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max realtime timeout"))
    assert line.split()[3:5] == ["1500000", "3000000"], line              # soft = half
    # the parent is left as it was: only the child is real-time
    assert stat_fields(d.proc.pid)[38] == "0"
    assert wait_for(d.has_vip, 5)
    d.stop()


def test_nice_umask_scripts_startup_delay_and_child_wait_time(start, tmp_path: Path) -> None:
    up = make_script(tmp_path / "up.sh",
                     f"umask > {tmp_path}/up.umask\nsleep 5\ntouch {tmp_path}/up.late\n")
    down = make_script(tmp_path / "down.sh", f"echo $PPID > {tmp_path}/down.ran\n")
    tmp_path.chmod(0o755)
    d = start("global_defs {\n vrrp_priority 7\n umask 0027\n"
              f" startup_script {up}\n startup_script_timeout 1\n"
              f" shutdown_script {down}\n vrrp_startup_delay 1.5\n}}\n"
              "child_wait_time 1\n" + INSTANCE)
    # the startup script runs first, with the configured umask; the children wait for it
    assert wait_for(lambda: (tmp_path / "up.umask").exists(), 5), d.log()
    assert (tmp_path / "up.umask").read_text().strip() == "0027"
    pid = d.child()
    started_child = time.monotonic()
    assert started_child - d.started >= 1.0, "the VRRP child started before the script's timeout"
    assert not (tmp_path / "up.late").exists()          # killed at its timeout, whole group
    assert wait_for(lambda: stat_fields(pid)[16] == "7", 5), d.log()   # nice (field 19)
    assert status(pid)["Umask"] == "0027" and status(d.proc.pid)["Umask"] == "0027"
    # vrrp_startup_delay 1.5 s: the VIP comes after the delay plus Master_Down (~0.34 s)
    assert wait_for(d.has_vip, 8), d.log()
    took = time.monotonic() - started_child
    assert took >= 1.5, f"master after {took:.2f} s"
    # child_wait_time 1: a stopped child that cannot exit is killed after ~1 s, not 5
    os.kill(pid, signal.SIGSTOP)
    took = d.stop()
    assert took < 4.0, f"{took:.2f} s to stop"
    assert (tmp_path / "down.ran").exists(), d.log()    # the shutdown script ran at the end
    assert "Delaying startup for 1.5 seconds" in d.log()


def test_nftables_table_name_priority_and_counters(start) -> None:
    conf = INSTANCE.replace("priority 100", "priority 100\n    no_accept")
    d = start("global_defs {\n nftables kpgl_fw\n nftables_priority -3\n nftables_counters\n}\n"
              + conf)
    assert wait_for(d.has_vip, 8), d.log()

    def table() -> str:
        return d.node.run("nft", "list", "table", "ip", "kpgl_fw", check=False).stdout
    assert wait_for(lambda: "@vips" in table(), 5), d.log()
    text = table()
    assert "priority -3" in text.replace("filter - 3", "-3"), text
    assert "counter packets" in text and "192.0.2.200" in text, text
    assert d.node.run("nft", "list", "table", "ip", "keepalived", check=False).returncode != 0
    d.stop()
    assert d.node.run("nft", "list", "table", "ip", "kpgl_fw", check=False).returncode != 0


def test_vmac_prefix_names_generated_vmacs(start) -> None:
    conf = INSTANCE.replace("priority 100", "priority 100\n    use_vmac")
    d = start("global_defs {\n vmac_prefix kpv\n}\n" + conf)
    assert wait_for(lambda: "kpv.42" in d.node.run("ip", "-o", "link").stdout, 8), d.log()
    assert "vrrp.42" not in d.node.run("ip", "-o", "link").stdout
    d.stop()
    assert wait_for(lambda: "kpv.42" not in d.node.run("ip", "-o", "link").stdout, 5)


def test_socket_receive_buffers_and_max_auto_priority(start) -> None:
    d = start("global_defs {\n vrrp_netlink_monitor_rcv_bufs 3000000\n"
              " vrrp_netlink_monitor_rcv_bufs_force\n vrrp_netlink_cmd_rcv_bufs 300000\n"
              " vrrp_rx_bufs_policy 50000\n max_auto_priority 5\n"
              " min_auto_priority_delay 200000\n}\n" + INSTANCE)
    pid = d.child()
    assert wait_for(d.has_vip, 8), d.log()

    # the kernel doubles what it is given; SO_RCVBUFFORCE passes net.core.rmem_max. ss
    # shows no owner for netlink sockets: the value is unique to the namespace's daemon
    netlink = d.node.run("ss", "-f", "netlink", "-a", "-m", "-n").stdout
    assert "rb6000000," in netlink, netlink
    want = 2 * min(300000, int(Path("/proc/sys/net/core/rmem_max").read_text()))
    assert f"rb{want}," in netlink, netlink
    # ss shows no memory for raw sockets: read the VRRP socket's SO_RCVBUF through a copy
    # of the child's descriptor (pidfd_getfd)
    raw = d.node.run("ss", "-w", "-a", "-p", "-n").stdout
    m = re.search(rf"pid={pid},fd=(\d+)", raw)
    assert m, raw
    assert rcvbuf_of(pid, int(m.group(1))) == 100000       # vrrp_rx_bufs_policy 50000
    # max_auto_priority: a child whose timers ran late (here: stopped for 1 s) raises itself
    # to SCHED_RR, first at the minimum priority, one step per late timer. A loaded host may
    # have stalled the child past min_auto_priority_delay (0.2 s) already: then it starts
    # from that step (keepalived's own behaviour), and the stop still raises it one more
    before = int(stat_fields(pid)[37])
    assert before == 0 or "A thread timer expired" in d.log(), d.log()
    os.kill(pid, signal.SIGSTOP)
    time.sleep(1.0)
    os.kill(pid, signal.SIGCONT)
    assert wait_for(lambda: stat_fields(pid)[38] == "2" and int(stat_fields(pid)[37]) > before,
                    3), (before, stat_fields(pid)[37:39], d.log())
    assert "Set realtime priority 1" in d.log()
    d.stop()


def test_checker_log_all_failures_and_checker_priority(start) -> None:
    vs = ("virtual_server 192.0.2.50 80 {\n  delay_loop 1\n  protocol TCP\n"
          "  real_server 192.0.2.1 9 {\n    TCP_CHECK {\n      connect_timeout 1\n"
          "      retry 2\n      delay_before_retry 0.2\n    }\n  }\n}\n")
    d = start("global_defs {\n checker_log_all_failures\n checker_priority 4\n}\n" + vs)
    line = "TCP connection to [192.0.2.1]:tcp:9 failed."
    assert wait_for(lambda: d.log().count(line) >= 2, 8), d.log()
    checker = read_pidfile(d.check_pidfile)             # the checker child's own nice
    assert checker is not None and wait_for(lambda: stat_fields(checker)[16] == "4", 3)
    assert wait_for(lambda: "failed after 2 retries" in d.log(), 5), d.log()
    d.stop()


def test_reload_time_file_reload_file_and_config_save_dir(start, tmp_path: Path) -> None:
    when = tmp_path / "reload-at"
    marker = tmp_path / "reloading"
    saved = tmp_path / "saved"
    check = tmp_path / "check.log"
    d = start(f"global_defs {{\n reload_time_file {when}\n reload_file {marker}\n"
              f" config_save_dir {saved}\n reload_check_config {check}\n}}\n" + INSTANCE)
    d.child()
    at = time.time() + 2
    when.write_text(time.strftime("%H:%M:%S\n", time.localtime(at)))
    assert wait_for(lambda: "Scheduling reload for" in d.log(), 4), d.log()
    assert wait_for(lambda: "Reloading" in d.log(), 6), d.log()
    assert time.time() >= at - 1.0
    assert not when.exists()                 # a time alone, no reload_repeat: removed
    assert wait_for(lambda: "supervisor.reload.done" in d.log(), 5), d.log()
    assert not marker.exists()               # reload_file only exists while reading
    # reload_check_config: a reload whose configuration has an error is refused, logged
    d.conf.write_text(d.conf.read_text().replace("priority 100",
                                                 "priority 100\n    bogus_keyword"))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "New config failed validation" in d.log(), 5), d.log()
    assert "Unknown keyword 'bogus_keyword'" in check.read_text()
    d.conf.write_text(d.conf.read_text().replace("\n    bogus_keyword", ""))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: d.log().count("supervisor.reload.done") == 2, 5), d.log()
    assert check.read_text() == ""                      # the good one's check: nothing
    # config_save_dir (made by the parser, mode 0700 under the umask: 0600 with keepalived's
    # default 0177, as keepalived 2.2.7's binary makes it): one copy per reading
    assert sorted(p.name.rsplit(".", 1)[1] for p in saved.iterdir()) == ["0", "1", "2"]
    assert saved.stat().st_mode & 0o777 == 0o600
    d.stop()
