"""Configuration files other users could change (issue 15's security review).

A configuration file is code run as root: notify scripts, track scripts and MISC_CHECKs name
programs the daemon starts. Whoever can write keepalived.conf, or any file it includes, can make
the daemon run what they like. `insecure` says why a file read by config/source.py is writable
by someone other than the user the daemon runs as (root): writable by all, group-writable
with a group other than root's, or owned by another user.

keepalived 2.2.7 says nothing here: it checks the scripts it runs (enable_script_security)
but not the configuration files themselves. keepalived-py reports it as a notice (printed by
`-t`, logged at start and reload) so that `-t`'s exit status stays keepalived's.
Pure: the caller passes the fstat of the file it opened (no race with a swapped path).
"""
from __future__ import annotations

import stat
from typing import Protocol


class _Stat(Protocol):
    @property
    def st_mode(self) -> int: ...
    @property
    def st_uid(self) -> int: ...
    @property
    def st_gid(self) -> int: ...


def insecure(st: _Stat, euid: int) -> str | None:
    """Why a configuration file with this status is unsafe for a daemon running as `euid`,
    or None."""
    if not stat.S_ISREG(st.st_mode):
        return None
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_IWOTH:
        return f"is writable by every user (mode {mode:04o})"
    if mode & stat.S_IWGRP and st.st_gid != 0 and euid == 0:
        return f"is writable by group {st.st_gid} (mode {mode:04o})"
    if st.st_uid not in (0, euid):
        return f"is owned by user {st.st_uid}, who can change it"
    return None


def notice(path: str, why: str) -> str:
    return (f"configuration file '{path}' {why}: whoever can write it can make the daemon run"
            f" any program as root")
