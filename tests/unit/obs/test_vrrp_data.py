"""keepalived.data from the model and a runtime snapshot (obs/vrrp_data.py). The expected
lines are keepalived 2.2.7's own output for the same configuration (minus the password)."""
from __future__ import annotations

from test_dumps import parse_data_like_exporter

from keepalived_py.config.blocks import read_tree_text
from keepalived_py.config.build import build_config
from keepalived_py.config.model import Config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.obs.vrrp_data import format_vrrp_data, when

T0 = 1796215660.680435


def load(text: str) -> Config:
    d = Diagnostics()
    return build_config(read_tree_text(text, path="k.conf", diagnostics=d), d)


def vi(body: str = "", vips: str = "192.0.2.10/24") -> str:
    return (f"vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n"
            f" virtual_ipaddress {{\n{vips}\n }}\n}}\n")


RUNTIME = {"name": "VI_1", "state": "BACKUP", "wantstate": "BACKUP", "effective_priority": 100,
           "total_priority": 100, "last_transition": T0, "read_timeout": T0 + 3.609377,
           "master_down_interval": 3.609375, "src_ip": "192.0.2.1", "fd": 12,
           "master_router": "0.0.0.0", "master_priority": 0}

# keepalived 2.2.7, the same configuration: the instance section, password line left out
KEEPALIVED_INSTANCE = f"""\
 VRRP Instance = VI_1
   VRRP Version = 2
   State = BACKUP
   Master router = 0.0.0.0
   Master priority = 0
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = {when(T0)}
   Read timeout = {when(T0 + 3.609377)}
   Master down timer = 3609375 usecs
   Interface = eth0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 51
   Priority = 100
   Effective priority = 100
   Total priority = 100
   Advert interval = 1 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = SIMPLE_PASSWORD
   Virtual IP (1):
     192.0.2.10/24 dev eth0 scope global
   fd_in 12, fd_out 12
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
"""


def section(text: str, title: str) -> str:
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("------<"):
            inside = title in line
        elif inside:
            out.append(line)
    return "".join(out)


def test_instance_section_is_keepalived_227s_without_the_password() -> None:
    c = load(vi(" authentication {\n  auth_type PASS\n  auth_pass secret12\n }"))
    text = format_vrrp_data(c, [RUNTIME])
    assert section(text, "VRRP Topology") == KEEPALIVED_INSTANCE
    assert "secret12" not in text and "Password" not in text


def test_sections_in_keepalived_order() -> None:
    c = load("static_ipaddress {\n 192.0.2.50/24 dev eth0\n}\n"
             "vrrp_script chk {\n script /bin/true\n}\n"
             "vrrp_sync_group G {\n group {\n  VI_1\n }\n}\n"
             + vi(" track_script {\n  chk\n }"))
    text = format_vrrp_data(c, [RUNTIME], {"interfaces": [{"name": "eth0", "index": 3}]})
    titles = [ln for ln in text.splitlines() if ln.startswith("------<")]
    assert titles == ["------< Global definitions >------", "------< Static Addresses >------",
                      "------< VRRP Topology >------", "------< VRRP Sync groups >------",
                      "------< VRRP Scripts >------", "------< Interfaces >------"]
    assert "     192.0.2.50/24 dev eth0 scope global" in text
    assert "   Tracking VRRP instances :\n     VI_1, weight 0" in text


def test_v2_interval_in_seconds_v3_in_milliseconds() -> None:
    assert "   Advert interval = 3 sec\n" in format_vrrp_data(load(vi(" advert_int 3")), [RUNTIME])
    v3 = format_vrrp_data(load(vi(" version 3\n advert_int 0.5")), [RUNTIME])
    assert "   Advert interval = 500 milli-sec\n" in v3
    assert "   Master advert int = 0.50 sec\n" in v3 and "Authentication type" not in v3


def test_addresses_keep_brd_and_label_and_a_host_has_no_prefix() -> None:
    c = load(vi(vips="  192.0.2.10/24 brd 192.0.2.255 dev eth0 label eth0:1\n  192.0.2.11\n"
                     "  2001:db8::1 preferred_lft 0"))
    held = format_vrrp_data(c, [{**RUNTIME, "state": "MASTER", "holding": True}])
    assert "     192.0.2.10/24 brd 192.0.2.255 dev eth0 scope global label eth0:1 set\n" in held
    assert "     192.0.2.11 dev eth0 scope global set\n" in held


def test_scripts_and_trackers_with_their_weights() -> None:
    c = load("vrrp_script chk {\n script \"/bin/true x\"\n interval 2\n weight -10\n"
             " rise 2\n fall 3\n}\n"
             "track_file tf {\n file /tmp/tf\n weight 3\n}\n"
             + vi(" track_script {\n  chk\n }\n track_file {\n  tf weight 5 reverse\n }\n"
                  " track_interface {\n  eth1 weight -7\n }"))
    text = format_vrrp_data(c, [RUNTIME], {"scripts": {"chk": 4}, "files": {"tf": 1},
                                           "commands": {"/bin/true": "/usr/bin/true"}})
    scripts = section(text, "VRRP Scripts")
    assert scripts.splitlines()[:13] == [
        " VRRP Script = chk", "   Command = '/usr/bin/true' 'x'", "   Interval = 2 sec",
        "   Timeout = 0 sec", "   Weight = -10", "   Rise = 2", "   Fall = 3", "   Result = 4",
        "   Insecure = no", "   Init state = unknown", "   Status = GOOD",
        "   Script uid:gid = 0:0", "   VRRP instances :"]
    assert "   Tracking instances :\n     VI_1, weight -10\n   State = idle" in scripts
    topo = section(text, "VRRP Topology")
    assert "   Tracked interfaces :\n     eth1 weight -7\n" in topo
    assert "   Tracked scripts :\n     chk weight -10\n" in topo
    assert "   Tracked files :\n     tf, weight 5 reverse\n" in topo
    assert section(text, "VRRP Track files").splitlines() == [
        " Track file = tf", "   File = /tmp/tf", "   Status = 1", "   Weight = 3",
        "   Tracking instances :", "     VI_1, weight 5 reverse"]


def test_exporters_still_read_state_interface_vrid_and_vips() -> None:
    c = load(vi(vips="  192.0.2.10/24\n  192.0.2.11"))
    d = parse_data_like_exporter(format_vrrp_data(c, [{**RUNTIME, "state": "MASTER",
                                                       "wantstate": "MASTER"}]))
    assert d["VI_1"]["State"] == "MASTER" and d["VI_1"]["Wantstate"] == "MASTER"
    assert d["VI_1"]["Interface"] == "eth0" and d["VI_1"]["Virtual Router ID"] == "51"
    assert d["VI_1"]["vips"] == ["192.0.2.10/24 dev eth0 scope global",
                                 "192.0.2.11 dev eth0 scope global"]


def test_global_definitions_show_resolved_defaults() -> None:
    text = format_vrrp_data(load("global_defs {\n vrrp_min_garp\n vrrp_down_timer_adverts 5\n}\n"
                                 + vi()), [RUNTIME], {"router_id": "host1"})
    g = section(text, "Global definitions")
    for line in (" Router ID = host1", " Gratuitous ARP delay = 0", " Gratuitous ARP repeat = 1",
                 " Gratuitous ARP refresh repeat = 0", " Num adverts before down = 5"):
        assert f"{line}\n" in g


def test_vmac_instance_and_interfaces_as_keepalived() -> None:
    """use_vmac: the lines keepalived 2.2.7 prints for the instance, its VMAC and the parent
    (measured against the binary in namespaces; its "Original" ARP values are the ones it
    set)."""
    c = load(vi(" use_vmac"))
    rt = {**RUNTIME, "vmac": "vrrp.51"}
    text = format_vrrp_data(c, [rt], {"interfaces": [{"name": "eth0", "index": 3},
                                                     {"name": "vrrp.51", "index": 6}]})
    assert "   Use VMAC, i/f name vrrp.51, is_up = true, xmit_base = false\n" \
           "   Interface = vrrp.51, vmac on eth0\n" in text
    assert "192.0.2.10/24 dev vrrp.51@eth0 scope global" in text
    assert " nftables table name = keepalived\n" in text
    vmac = text.split(" Name = vrrp.51\n")[1]
    assert "   VMAC type private, underlying interface = eth0, state = UP, RUNNING\n" \
           "   I/f created by keepalived\n" in vmac
    assert "   Original arp_ignore 1\n   Original arp_filter 0\n   rp_filter 0\n" \
           "   Original promote_secondaries 1\n" in vmac
    parent = text.split(" Name = eth0\n")[1].split(" Name = ")[0]
    assert "   Reset ARP config counter 1\n   Original arp_ignore 1\n" \
           "   Original arp_filter 1\n   rp_filter 0\n" in parent
