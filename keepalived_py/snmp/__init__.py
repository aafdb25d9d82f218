"""SNMP through AgentX (RFC 2741): keepalived's subagent, imported only when enabled.

agentx.py (codec), session.py (the subagent session) and mib.py (views) are pure; client.py
is the asyncio connection to the master agent; vrrp_mib.py / check_mib.py hold the MIB rows and
notifications; vrrp.py / check.py glue them to the VRRP and checker children.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any


def with_command_line(config: Any, options: Any) -> Any:
    """keepalived's -x (every SNMP part on) and -A SOCKET (the master's socket, over the
    configuration's snmp_socket) applied to `config` (global_data.c alloc_global_data)."""
    extra = getattr(options, "extra", {}) or {}
    g = config.global_defs
    if extra.get("snmp"):
        g = replace(g, enable_snmp_vrrp=True, enable_snmp_rfcv2=True, enable_snmp_rfcv3=True,
                    enable_snmp_checker=True)
    sock = extra.get("snmp-agent-socket")
    if isinstance(sock, str) and sock:
        g = replace(g, snmp_socket=sock)
    return config if g is config.global_defs else replace(config, global_defs=g)
