"""disable_local_igmp: keepalived 2.2.7's VRRP process turns off the kernel's IGMP reports for
link-local multicast groups (224.0.0.x, VRRP's 224.0.0.18 among them: some switches drop
traffic on ports that send them) in its network namespace, by writing 0 to
net.ipv4.igmp_link_local_mcast_reports, and puts 1 back at stop if it was 1. A reload cannot
change it (keepalived logs that a restart is needed)."""
from __future__ import annotations

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.vrrp")

PATH = "/proc/sys/net/ipv4/igmp_link_local_mcast_reports"


class LocalIgmp:
    def __init__(self) -> None:
        self.saved: str | None = None     # "1": we turned it off and restore it at stop
        self.wanted = False

    def start(self, disable: bool) -> None:
        self.wanted = disable
        if not disable:
            return
        try:
            with open(PATH, "r+") as f:
                value = f.read(1)
                if value == "1":
                    f.seek(0)
                    f.write("0")
            self.saved = value
        except OSError as e:
            log.info("vrrp.igmp.failed", errno=e.errno, compat=f"Unable to open {PATH} - errno {e.errno}")

    def reload(self, disable: bool) -> None:
        if disable != self.wanted:
            log.info("vrrp.igmp.reload", compat="Cannot change disable_local_igmp at a reload"
                                                " - please restart keepalived")

    def stop(self) -> None:
        if self.saved == "1":
            try:
                with open(PATH, "w") as f:
                    f.write("1")
            except OSError as e:
                log.info("vrrp.igmp.failed", errno=e.errno,
                         compat=f"Unable to write {PATH} - errno {e.errno}")
        self.saved = None
