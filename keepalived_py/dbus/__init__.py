"""keepalived's org.keepalived.Vrrp1 D-Bus service (enable_dbus), imported only when enabled.

objects.py is the pure part (object paths, introspection, method and property answers);
service.py is the asyncio edge on the system bus (jeepney).
"""
