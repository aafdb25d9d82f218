"""The VRRP keyword long tail (issue 12 item 4), each as keepalived 2.2.7 acts on it: ours and
keepalived run the same configuration in namespaces of their own and the kernel's view of what
each did is compared (addresses' flags and lifetimes, sysctls, socket buffers, notify lines)."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys as _sys
import time
from pathlib import Path

import pytest
from netlab import Lab, Node
from test_vrrp import KEEPALIVED, Peer, wait_for

pytestmark = [pytest.mark.netns]


def need_keepalived() -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")


def alone(lab: Lab, what: str) -> Node:
    """A node on a LAN of its own: its instance becomes MASTER."""
    return lab.node(what, lab.lan(f"l{what}"), "192.0.2.1/24", "2001:db8::1/64")


def addr_view(node: Node, ifname: str = "eth0") -> dict[str, tuple[object, ...]]:
    """Each address's kernel flags and preferred lifetime, as `ip -j addr` shows them."""
    out: dict[str, tuple[object, ...]] = {}
    for link in json.loads(node.run("ip", "-j", "addr", "show", "dev", ifname).stdout or "[]"):
        for a in link.get("addr_info", []):
            flags = tuple(sorted(k for k in ("nodad", "deprecated", "autojoin", "tentative",
                                             "dadfailed") if a.get(k)))
            lft = a.get("preferred_life_time")      # a finite one counts down: to the 100 s
            out[f"{a['local']}/{a['prefixlen']}"] = (flags, lft if lft in (0, 2**32 - 1)
                                                     else round(lft, -2))
    return out


def sysctl(node: Node, path: str) -> str:
    return node.run("cat", f"/proc/sys/net/{path}").stdout.strip()


def addresses_conf(accept: bool) -> str:
    return f"""
global_defs {{
  vrrp_version 3
}}
vrrp_instance VI_6 {{
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 0.25
  virtual_ipaddress {{
    2001:db8::100/128
    2001:db8::101/64
    2001:db8::102/64 -nodad
    2001:db8::103/128 preferred_lft forever
    2001:db8::104/64 preferred_lft 3000
  }}
}}
vrrp_instance VI_4 {{
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.25
  promote_secondaries
  virtual_ipaddress {{
    192.0.2.100/24
    239.1.2.3/32 autojoin
  }}
}}
vrrp_instance VI_X {{
  state MASTER
  interface eth0
  virtual_router_id 53
  priority 150
  advert_int 0.25
  garp_master_repeat 1
  garp_master_delay 0
  garp_extra_if 1 all
  virtual_ipaddress {{
    192.0.2.102/24
    198.51.100.200/24 dev x0
  }}
}}
vrrp_instance VI_V {{
  state MASTER
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 0.25
  use_vmac
  {'accept' if accept else 'no_accept'}
  virtual_ipaddress {{
    192.0.2.101/24
  }}
}}
"""


def vmac_vip(node: Node) -> bool:
    r = node.run("ip", "-j", "addr", "show", "dev", "vrrp.52", check=False)
    if r.returncode:
        return False
    link = json.loads(r.stdout)[0]
    return link["address"] == "00:00:5e:00:01:34" and any(
        a["local"] == "192.0.2.101" for a in link.get("addr_info", []))


def rules(node: Node) -> list[str]:
    # the lines of the ruleset (keepalived makes vmac_map before the vips set, ours after)
    return sorted(node.run("nft", "list", "ruleset").stdout.splitlines())


def test_addresses_promote_secondaries_vmac_and_accept_as_keepalived(lab: Lab, tmp_path: Path
                                                                       ) -> None:
    """IPv6 VIPs without DAD unless -nodad, a /128 deprecated by default, preferred_lft as
    given, autojoin; promote_secondaries set on the interface while running and reset at
    stop: the kernel shows the same for ours and for keepalived 2.2.7. A master's VMAC
    deleted with `ip link del` comes back (same name, MAC, VIP) as with keepalived; a reload
    from no_accept to accept takes the VIP out of keepalived's nftables table as keepalived
    does (the same ruleset), one back to no_accept puts it in again."""
    need_keepalived()
    nodes = [alone(lab, "o"), alone(lab, "k")]
    for node in nodes:                         # garp_extra_if: x0 holds a VIP, x1 listens
        node.run("ip", "link", "add", "x0", "type", "veth", "peer", "x1")
        node.run("ip", "link", "set", "x1", "up")
        node.run("ip", "link", "set", "x0", "up")
    peers = [Peer(n, tmp_path, addresses_conf(False), ours=ours).start()
             for n, ours in zip(nodes, (True, False), strict=True)]
    want = {"2001:db8::100/128", "2001:db8::104/64", "192.0.2.100/24", "239.1.2.3/32"}
    for node, peer in zip(nodes, peers, strict=True):
        assert wait_for(lambda n=node: want <= set(addr_view(n)) and vmac_vip(n), 10), peer.log()
    sniffers = [node.popen([_sys.executable, "-c", ARP_TIMES, "3.6", "99", "x1"],
                           stdout=subprocess.PIPE, text=True) for node in nodes]
    views = []
    for node in nodes:
        view = {k: v for k, v in addr_view(node).items() if k not in
                ("192.0.2.1/24", "2001:db8::1/64") and not k.startswith("fe80")}
        # the -nodad address may still be tentative: compare DAD's outcome, not its timing
        views.append({k: (tuple(f for f in fl if f != "tentative"), lft)
                      for k, (fl, lft) in view.items()})
    ours_v, theirs_v = views
    assert ours_v == theirs_v, (ours_v, theirs_v)
    # garp_extra_if 1 all: while master, one GARP a second on x0
    extra = [[ln.split()[0] for ln in sn.communicate(timeout=20)[0].splitlines()]
             for sn in sniffers]
    gaps = [[round(float(b) - float(a), 1) for a, b in zip(e, e[1:], strict=False)]
            for e in extra]
    assert all(len(e) >= 3 for e in extra) and all(0.8 <= g <= 1.3 for g in gaps[0]), gaps
    assert abs(len(extra[0]) - len(extra[1])) <= 1, extra
    assert ours_v["2001:db8::100/128"][0] == ("deprecated", "nodad")
    assert ours_v["2001:db8::102/64"][0] == ()
    assert ours_v["239.1.2.3/32"][0] == ("autojoin",)
    vip_line = "\t\telements = { 192.0.2.101 }"
    assert wait_for(lambda: vip_line in rules(nodes[0]) and rules(nodes[0]) == rules(nodes[1]),
                    5), [rules(n) for n in nodes]
    for node in nodes:                                  # the VMAC deleted by hand
        node.run("ip", "link", "del", "vrrp.52")
    for node, peer in zip(nodes, peers, strict=True):
        assert wait_for(lambda n=node: vmac_vip(n), 10), peer.log()
    assert "Interface vrrp.52 deleted" in peers[0].log()
    for peer in peers:                                  # no_accept -> accept: VIP unfirewalled
        peer.conf.write_text(addresses_conf(True))
        os.kill(int((peer.dir / "p.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: all(vip_line not in rules(n) for n in nodes), 10), \
        [rules(n) for n in nodes]
    assert wait_for(lambda: rules(nodes[0]) == rules(nodes[1]), 5), [rules(n) for n in nodes]
    # accept -> no_accept: ours drops traffic to the VIP again. keepalived 2.2.7 logs "setting
    # firewall drop rule" here but its vips set stays empty (checked by hand): not copied.
    peers[0].conf.write_text(addresses_conf(False))
    os.kill(int((peers[0].dir / "p.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: vip_line in rules(nodes[0]), 10), (rules(nodes[0]), peers[0].log())
    sysctls = [sysctl(n, "ipv4/conf/eth0/promote_secondaries") for n in nodes]
    for peer in peers:
        assert peer.proc is not None
        peer.proc.send_signal(signal.SIGTERM)
    for peer in peers:
        peer.stop()
    sysctls += [sysctl(n, "ipv4/conf/eth0/promote_secondaries") for n in nodes]
    assert sysctls == ["1", "1", "0", "0"], sysctls


def fifo_conf(tmp: Path, who: str, base: int, instances: tuple[str, ...]) -> str:
    """VI_1 MASTER tracking a file (weight 1); VI_2 (notify_deleted), VI_3 and VI_5 in FAULT
    (their tracked interface is down); VI_4 MASTER. VRIDs from `base`: two daemons on one LAN
    with different bases hear each other's adverts as unknown VRIDs."""
    reader = tmp / f"{who}.reader.sh"
    reader.write_text(f"#!/bin/sh\nwhile read line; do echo \"$line\" >> {tmp}/{who}.lines; done"
                      " < \"$1\"\n")
    reader.chmod(0o755)
    if not (tmp / f"{who}.track").exists():       # (the reload's config keeps its value)
        (tmp / f"{who}.track").write_text("0\n")
    n = base % 10
    blocks = {
        "VI_1": f"state MASTER\n interface eth0\n virtual_router_id {base + 1}\n priority 150\n"
                f" advert_int 0.25\n kernel_rx_buf_size 50000\n track_file {{\n  TF\n }}\n"
                f" virtual_ipaddress {{\n  192.0.2.{100 + n}/24\n }}",
        "VI_2": f"interface eth0\n virtual_router_id {base + 2}\n priority 100\n notify_deleted\n"
                f" track_interface {{\n  dum0\n }}\n virtual_ipaddress {{\n  192.0.2.{110 + n}/24\n }}",
        "VI_3": f"interface eth0\n virtual_router_id {base + 3}\n priority 100\n"
                f" track_interface {{\n  dum0\n }}\n virtual_ipaddress {{\n  192.0.2.{120 + n}/24\n }}",
        "VI_4": f"state MASTER\n interface eth0\n virtual_router_id {base + 4}\n priority 150\n"
                " advert_int 0.25\n"
                f" virtual_ipaddress {{\n  192.0.2.{130 + n}/24\n }}",
        "VI_5": f"interface eth0\n virtual_router_id {base + 5}\n priority 100\n"
                f" track_interface {{\n  dum0\n }}\n virtual_ipaddress {{\n  192.0.2.{140 + n}/24\n }}",
    }
    return (f"global_defs {{\n vrrp_notify_fifo {tmp}/{who}.fifo\n"
            f" vrrp_notify_fifo_script {reader}\n fifo_write_vrrp_states_on_reload\n"
            f" vrrp_notify_priority_changes\n log_unknown_vrids\n disable_local_igmp\n"
            " vrrp_version 3\n}}\n"
            f"track_group TG {{\n group {{\n  VI_1\n }}\n}}\n"
            "linkbeat_interfaces {\n tg0\n}\n"
            f"static_ipaddress {{\n 198.51.100.{n}/24\n"
            f" 2001:db8:5::{n + 1}/64 dev tg0 track_group TG\n}}\n"
            f"track_file TF {{\n file {tmp}/{who}.track\n weight 1\n}}\n"
            + "".join(f"vrrp_instance {name} {{\n {blocks[name]}\n}}\n" for name in instances))


def raw_rcvbufs(pid: int) -> set[int]:
    """SO_RCVBUF of each raw socket of process `pid`, read through a copy of its descriptor
    (pidfd_getfd(2): ss shows no buffer sizes for raw sockets)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
            except OSError:
                continue
            mine = libc.syscall(438, pidfd, int(fd), 0)             # SYS_pidfd_getfd
            if mine < 0:
                continue
            s = socket.socket(fileno=mine)
            try:
                if s.type == socket.SOCK_RAW and s.family in (socket.AF_INET, socket.AF_INET6):
                    out.add(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
            finally:
                s.close()
    finally:
        os.close(pidfd)
    return out


def by_instance(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines() if path.exists() else ():
        words = line.split()
        out.setdefault(words[1].strip('"'), []).append(" ".join(words[2:]))
    return out


def test_fifo_lines_deleted_priority_reload_and_globals_as_keepalived(lab: Lab, tmp_path: Path
                                                                      ) -> None:
    """notify_deleted (DELETED; FAULT for a MASTER without it; nothing for a FAULT one),
    notify_priority_changes, fifo_write_vrrp_states_on_reload: the FIFO lines of ours and of
    keepalived 2.2.7 for the same start, tracker change and reload are the same. Beside it:
    log_unknown_vrids (each hears the other's VRIDs), disable_local_igmp, a static address
    without dev on default_interface, kernel_rx_buf_size on the socket."""
    need_keepalived()
    lan = lab.lan()
    nodes = [lab.node(w, lan, f"192.0.2.{i}/24") for i, w in ((1, "o"), (2, "k"))]
    all5 = ("VI_1", "VI_2", "VI_3", "VI_4", "VI_5")
    peers = []
    for node, who, base, ours in ((nodes[0], "o", 50, True), (nodes[1], "k", 60, False)):
        node.run("ip", "link", "add", "dum0", "type", "veth", "peer", "dum1")   # down: FAULT
        node.run("ip", "link", "add", "tg0", "type", "veth", "peer", "tg1")     # track_group
        node.run("ip", "link", "set", "tg1", "up")
        node.run("ip", "link", "set", "tg0", "up")
        peers.append(Peer(node, tmp_path, fifo_conf(tmp_path, who, base, all5), ours=ours).start())
    lines = [tmp_path / "o.lines", tmp_path / "k.lines"]
    assert wait_for(lambda: all(len(by_instance(p)) == 5 and by_instance(p)["VI_1"][-1:] ==
                                ["MASTER 150"] for p in lines), 10), [by_instance(p) for p in lines]
    time.sleep(0.5)
    for who in ("o", "k"):
        (tmp_path / f"{who}.track").write_text("5\n")                  # priority 150 -> 155
    assert wait_for(lambda: all("MASTER_PRIORITY 155" in by_instance(p)["VI_1"] for p in lines),
                    10), [by_instance(p) for p in lines]
    # track_group TG: VI_1 tracks tg0, the interface of a static address naming the group;
    # when tg0 returns, its static (IPv6, dropped by the kernel on link down) address too
    for node in nodes:
        node.run("ip", "link", "set", "tg0", "down")
    assert wait_for(lambda: all(by_instance(p)["VI_1"][-1] == "FAULT 155" for p in lines), 10), \
        [by_instance(p) for p in lines]
    # linkbeat_interfaces: tg0's state is polled, not taken from netlink
    assert all("Linkbeat reports tg0 down" in p.log() for p in peers), [p.log() for p in peers]
    for node in nodes:
        node.run("ip", "link", "set", "tg0", "up")
    assert wait_for(lambda: all(by_instance(p)["VI_1"][-1] == "MASTER 155" for p in lines), 10), \
        [by_instance(p) for p in lines]
    for node in nodes:
        assert wait_for(lambda nd=node: any(a.startswith("2001:db8:5::")
                                            for a in nd.addresses("tg0")), 5), node.addresses("tg0")
    for peer, who, base in zip(peers, ("o", "k"), (50, 60), strict=True):
        peer.conf.write_text(fifo_conf(tmp_path, who, base, ("VI_1", "VI_5")))
        assert peer.proc is not None
        os.kill(int((peer.dir / "p.pid").read_text()), signal.SIGHUP)
    assert wait_for(lambda: all("DELETED 100" in by_instance(p).get("VI_2", []) and
                                by_instance(p)["VI_4"][-1] == "FAULT 150" and
                                len(by_instance(p)["VI_5"]) == 2 for p in lines),
                    10), [by_instance(p) for p in lines]
    wait_for(lambda: by_instance(lines[0]) == by_instance(lines[1]), 5)   # both written out
    ours_l, theirs_l = (by_instance(p) for p in lines)
    # VI_1 up to the reload: keepalived 2.2.7 then writes a priority line for an unchanged
    # priority, with a state it is not in ('BACKUP_PRIORITY 155' while MASTER) - not copied
    assert theirs_l["VI_1"][6:] in ([], ["BACKUP_PRIORITY 155"]), theirs_l["VI_1"]
    assert ours_l["VI_1"][6:] == [], ours_l["VI_1"]
    ours_l["VI_1"], theirs_l["VI_1"] = ours_l["VI_1"][:6], theirs_l["VI_1"][:6]
    assert ours_l == theirs_l, (ours_l, theirs_l)
    assert ours_l["VI_2"][-1] == "DELETED 100" and ours_l["VI_4"][-1] == "FAULT 150"
    assert ours_l["VI_3"] == ["FAULT 100"]                      # FAULT when removed: nothing
    assert ours_l["VI_5"][-1] == "FAULT 100" and len(ours_l["VI_5"]) == 2   # reload line
    for node, peer in zip(nodes, peers, strict=True):
        # kernel_rx_buf_size 50000: the kernel doubles it (keepalived has a socket more)
        assert 100000 in raw_rcvbufs(int((peer.dir / "v.pid").read_text())), peer.log()
        assert "Unknown VRID(" in peer.log(), peer.log()
        assert "198.51.100." in " ".join(node.addresses("eth0"))
        assert sysctl(node, "ipv4/igmp_link_local_mcast_reports") == "0"
    for node, peer in zip(nodes, peers, strict=True):
        peer.stop()
        assert sysctl(node, "ipv4/igmp_link_local_mcast_reports") == "1"


ARP_TIMES = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((sys.argv[3] if len(sys.argv) > 3 else "eth0", 0))
s.settimeout(0.1)
end, want, seen = time.monotonic() + float(sys.argv[1]), int(sys.argv[2]), 0
while time.monotonic() < end:
    try:
        fr = s.recv(2000)
    except TimeoutError:
        continue
    if fr[28:32] == fr[38:42]:                      # gratuitous: sender IP == target IP
        print(f"{time.monotonic():.4f} {socket.inet_ntoa(fr[28:32])}", flush=True)
        seen += 1
        if seen == want:                            # then 0.8 s more: no extra frame may come
            end = min(end, time.monotonic() + 0.8)
"""


def garp_conf(base: int, n: int) -> str:
    return ("global_defs {\n vrrp_version 3\n}\n"
            "garp_group {\n garp_interval 0.3\n interfaces {\n  eth0\n }\n}\n"
            "interface_up_down_delays {\n eth0 0.9\n}\n"
            f"vrrp_instance VI_1 {{\n state MASTER\n interface eth0\n"
            f" virtual_router_id {base + 1}\n"
            " priority 150\n advert_int 0.5\n garp_master_delay 0\n garp_master_repeat 3\n"
        f" virtual_ipaddress {{\n  192.0.2.{100 + n}/24\n  192.0.2.{110 + n}/24\n"
        f"  192.0.2.{120 + n}/24\n }}\n}}\n")


def test_garp_group_paces_gratuitous_arps_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    """garp_group garp_interval 0.3 on eth0: the gratuitous ARPs of a new master's three VIPs
    (garp_master_repeat 3) leave at least 0.3 s apart, a repeat waiting for its slot is not
    queued twice; the same frames, in number and spacing, as keepalived 2.2.7 sends. Then
    interface_up_down_delays: a short flap of eth0 goes unnoticed, an outage longer than the
    down delay faults the instance, in ours as in keepalived."""
    need_keepalived()
    lan = lab.lan()
    nodes = [lab.node(w, lan, f"192.0.2.{i}/24") for i, w in ((1, "o"), (2, "k"), (9, "s"))]
    sniff = nodes[2].popen([_sys.executable, "-c", ARP_TIMES, "10", "8"], stdout=subprocess.PIPE,
                           text=True)
    time.sleep(0.3)
    peers = [Peer(nodes[0], tmp_path, garp_conf(50, 0), ours=True).start(),
             Peer(nodes[1], tmp_path, garp_conf(60, 1), ours=False).start()]
    out, _ = sniff.communicate(timeout=20)
    # interface_up_down_delays eth0 0.9 (down): a 0.2 s flap is not seen, a 2 s outage is
    for node in nodes[:2]:
        node.run("sh", "-c", "ip link set eth0 down; sleep 0.2; ip link set eth0 up")
    time.sleep(1.2)
    assert not any("Entering FAULT STATE" in p.log() for p in peers), [p.log() for p in peers]
    for node in nodes[:2]:
        node.run("ip", "link", "set", "eth0", "down")
    assert wait_for(lambda: all("Entering FAULT STATE" in p.log() for p in peers), 5), \
        [p.log() for p in peers]
    # keepalived logs each delayed change; the flap is dropped without a word (same flags)
    assert all(p.log().count("eth0: Adding flags change from 0x11043 to 0x1002 delay by 900000")
               == 2 and "cancelled" not in p.log() for p in peers), [p.log() for p in peers]
    for p in peers:
        assert p.proc is not None
        p.proc.send_signal(signal.SIGTERM)
    for p in peers:
        p.stop()
    seen: dict[int, list[tuple[float, str]]] = {0: [], 1: []}
    for line in out.split("\n"):
        if line:
            t, ip = line.split()
            last = int(ip.rsplit(".", 1)[1]) % 10
            seen[last].append((float(t), ip))
    gaps = {k: [round(b[0] - a[0], 2) for a, b in zip(v, v[1:], strict=False)]
            for k, v in seen.items()}
    order = {k: [ip.rsplit(".", 1)[1][:2] for _, ip in v] for k, v in seen.items()}

    assert seen[0] and seen[1], out
    assert min(gaps[0]) >= 0.28 and min(gaps[1]) >= 0.28, gaps
    assert order[0] == order[1], (order, gaps)

