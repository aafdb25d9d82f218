"""keepalived-py: a drop-in Python reimplementation of keepalived."""

__version__ = "0.1.0"
KEEPALIVED_COMPAT_VERSION = "2.2.7"
