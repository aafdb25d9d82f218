"""SNMP through AgentX (RFC 2741): keepalived's subagent, imported only when enabled.

agentx.py (codec), session.py (the subagent session) and mib.py (views) are pure; client.py
is the asyncio connection to the master agent; vrrp_mib.py / check_mib.py hold the MIB rows and
notifications; vrrp.py / check.py glue them to the VRRP and checker children.
"""
