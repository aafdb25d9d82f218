"""The accept-mode, VMAC and strict-mode rules of keepalived 2.2.7's vrrp_complete_instance
that build.py's instance pass delegates here (issue 12): each reports keepalived's message
and falls back as keepalived does.

- accept defaults to on for the address owner, else to off in strict mode and on otherwise;
  strict mode with VRRPv2 turns an explicit `accept` off ("does not comply with RFC3768").
- `vmac_xmit_base` needs `use_vmac`, and strict mode resets it.
- strict mode wants the first IPv6 VIP of a multicast instance to be link-local (an error that
  changes nothing).
- strict mode sends no lower-priority GARPs and no lower-priority adverts and never answers a
  higher priority with an advert: explicit settings saying otherwise are reset with an error.
"""
from __future__ import annotations

from typing import Any

from keepalived_py.config.model import VrrpInstance
from keepalived_py.config.tree import Diagnostics, SourcePos

VRRP_PRIO_OWNER = 255
IFNAMSIZ = 16


def vmac_name(args: tuple[str, ...], vid: str, existing: set[str] | None, pos: SourcePos,
              d: Diagnostics) -> str:
    """use_vmac [NAME] [MAC]: the configured name, '' for a generated one (vrrp/vmac.py).
    keepalived's parser refuses a bad name and one held by an interface that is not a private
    macvlan (`existing`: the interface names, None when interfaces are not checked)."""
    name = next((a for a in args if ":" not in a), "")
    if not name:
        return ""
    if len(name) >= IFNAMSIZ or "/" in name or any(ch.isspace() for ch in name):
        d.error(pos, f"VMAC interface name '{name}' too long or invalid characters - ignoring")
        return ""
    if existing is not None and name in existing and not _private_macvlan(name):
        d.error(pos, f"{vid} interface {name} already exists and is not a private macvlan;"
                     " ignoring vmac if_name")
        return ""
    return name


def _private_macvlan(name: str) -> bool:
    """Whether an existing interface is a private-mode macvlan (ip -d -j link, as sysfs does
    not tell the link kind). Unknown counts as yes: the daemon checks again when it runs."""
    import subprocess           # (a VMAC with a private macvlan only: not for every -t)
    try:
        out = subprocess.run(["ip", "-d", "-j", "link", "show", "dev", name],
                             capture_output=True, text=True, timeout=2).stdout
        import json
        info = json.loads(out or "[]")[0].get("linkinfo", {})
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, AttributeError):
        return True
    return bool(info.get("info_kind") == "macvlan"
                and info.get("info_data", {}).get("mode") == "private")


def complete_accept_vmac(inst: VrrpInstance, f: dict[str, Any], seen: dict[str, Any],
                         strict: bool, d: Diagnostics) -> None:
    """Set f["accept"] and f["vmac_xmit_base"] from `inst` and what build.py resolved in `f`."""
    vid = f"({inst.name})"
    priority = f.get("priority", inst.priority)
    version = f.get("version", inst.version)
    family = f.get("family", inst.family)
    vips = f.get("virtual_ipaddress", inst.virtual_ipaddress)
    if family == 6 and strict and not inst.unicast_peer and vips \
            and not vips[0].address.ip.is_link_local:
        d.error(vips[0].pos, f"{vid} the first IPv6 VIP address must be link local")
    accept = inst.accept if seen.get("accept") else (priority == VRRP_PRIO_OWNER or not strict)
    if accept and priority != VRRP_PRIO_OWNER and strict and version == 2:
        d.error(inst.pos, f"{vid} warning - accept mode for VRRP version 2 does not comply with"
                          " RFC3768 - resetting")
        accept = False
    f["accept"] = accept
    if inst.vmac_xmit_base and inst.use_vmac is None:
        d.error(inst.pos, f"{vid} vmac_xmit_base is only valid with a vmac")
        f["vmac_xmit_base"] = False
    elif inst.vmac_xmit_base and strict:
        d.error(inst.pos, f"{vid} xmit_base is incompatible with strict mode - resetting")
        f["vmac_xmit_base"] = False


def complete_strict_adverts(inst: VrrpInstance, f: dict[str, Any], seen: dict[str, Any],
                            strict: bool, d: Diagnostics) -> None:
    """Strict mode's GARP and advert rules (after build.py applied the global defaults)."""
    if not strict:
        return
    vid = f"({inst.name})"
    if inst.garp_lower_prio_repeat:
        d.error(inst.pos, f"{vid} Strict mode requires no repeat garps. resetting")
    if inst.garp_lower_prio_delay:
        d.error(inst.pos, f"{vid} Strict mode requires no repeat garp delay. resetting")
    f["garp_lower_prio_repeat"] = 0
    f["garp_lower_prio_delay"] = 0.0
    if "lower_prio_no_advert" in seen and not inst.lower_prio_no_advert:
        d.error(seen["lower_prio_no_advert"], f"{vid} Strict mode requires no lower priority"
                                              " advert. resetting")
    f["lower_prio_no_advert"] = True
    if "higher_prio_send_advert" in seen and inst.higher_prio_send_advert:
        d.error(seen["higher_prio_send_advert"], f"{vid} strict mode requires"
                                                 " higher_prio_send_advert to be clear. resetting")
    f["higher_prio_send_advert"] = False
