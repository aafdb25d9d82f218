"""What every block builder shares: diagnostics, the host probe, script words, notices.

Theory of operation. `build.py` (VRRP, globals, trackers) and `build_lvs.py` (virtual servers,
groups, BFD, SSL) both read blocks into model objects. Each gets one `BuildContext`: it owns
the `Diagnostics`, the list of keywords accepted but not acted on yet ("later"), and the
`Host` - the one door to the machine's state (interface names, users, groups, scripts on
disk). A test fakes `Host` to build a configuration for a machine it is not running on.
Neither builder imports the other's module for these: `build.py` imports `build_lvs.py`,
and both import this one.
"""
from __future__ import annotations

import grp
import os
import pwd
from typing import Any, Protocol

from keepalived_py.config.model import Script
from keepalived_py.config.tree import Diagnostics, Node, SourcePos
from keepalived_py.config.values import script_argv
from keepalived_py.record import evolve as replace


class Host(Protocol):
    """The machine a configuration is built for (what `-t` and the daemons look up)."""

    def interfaces(self) -> set[str]: ...
    def user_exists(self, name: str) -> bool: ...
    def group_exists(self, name: str) -> bool: ...
    def is_script(self, script: Script | None) -> bool: ...
    def resolves(self, name: str) -> bool: ...


class SystemHost:
    """The machine we run on."""

    def __init__(self) -> None:
        self._ifnames: set[str] | None = None

    def interfaces(self) -> set[str]:
        if self._ifnames is None:
            try:
                # socket's own if_nameindex (the socket module's Python part, with its
                # selectors, is not needed by a configuration test)
                from _socket import if_nameindex
                self._ifnames = {name for _, name in if_nameindex()}
            except OSError:
                self._ifnames = set()
        return self._ifnames

    def user_exists(self, name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True

    def group_exists(self, name: str) -> bool:
        try:
            grp.getgrnam(name)
        except KeyError:
            return False
        return True

    def is_script(self, script: Script | None) -> bool:
        return is_script(script)

    def resolves(self, name: str) -> bool:
        """getaddrinfo() finds an address for `name` (keepalived's domain_stosockaddr)."""
        from _socket import getaddrinfo  # (as interfaces(): no socket module needed)
        try:
            return bool(getaddrinfo(name, None))
        except (OSError, UnicodeError, ValueError):
            return False


def is_script(script: Script | None) -> bool:
    """keepalived's SC_ISSCRIPT (notify.c check_script_secure()): a bare name found on PATH, or
    a path that exists (executable or not); '</file' checks are not scripts."""
    if script is None or not script.argv:
        return False
    path = script.argv[0]
    if path.startswith("<"):
        return False
    if "/" not in path:
        import shutil  # (imported on use: -t and start-up need it rarely)
        return shutil.which(path) is not None
    return os.path.exists(path)


class BuildContext:
    """State and helpers shared by the block builders of one configuration."""

    def __init__(self, diags: Diagnostics, check_interfaces: bool, host: Host | None = None
                 ) -> None:
        self.d = diags
        self.check_interfaces = check_interfaces
        self.host: Host = SystemHost() if host is None else host
        self.unimplemented: dict[str, SourcePos] = {}
        self.first_script: SourcePos | None = None
        # script_user names a user/group that does not exist (notify.c default_user_fail):
        # the VRRP process's scripts without a user of their own are dropped
        self.default_user_fails = False
        # a global_defs script or FIFO without a user came before enable_script_security: the
        # default user was settled then (notify.c get_default_script_user), without a check
        self.default_user_early = False
        self.bad_interface = False            # an error naming a missing interface was given
        self.ssl: Any = None                  # the SSL block (build_lvs)
        self.lvs_protocol_set: set[SourcePos] = set()  # group virtual servers with `protocol`
        # checking interfaces made a difference: an interface was missing, or the host's
        # interfaces were looked at (VMAC names, ipvlan, sync group tracking). When False, the
        # load is the one without the checks (config/reuse.py serves a reload with it)
        self.interfaces_mattered = False

    def interfaces(self) -> set[str]:
        if self.check_interfaces:
            self.interfaces_mattered = True
        return self.host.interfaces()

    def interface_missing(self, name: str) -> bool:
        """Is `name` an interface this host lacks (only when interfaces are checked)?"""
        missing = self.check_interfaces and name not in self.host.interfaces()
        if missing:
            self.interfaces_mattered = True
        return missing

    def later(self, node: Node, where: str) -> None:
        """A keyword keepalived accepts but keepalived-py does not act on yet."""
        key = f"{where} {node.keyword}"
        if key not in self.unimplemented:
            self.unimplemented[key] = node.pos

    def unknown(self, node: Node) -> None:
        self.d.error(node.pos, f"Unknown keyword '{node.keyword}'")
        if node.children is not None:
            self.d.error(node.pos, "Unexpected '{' - ignoring")
            for child in node.children:
                self.unknown(child)

    def expect_block(self, node: Node) -> tuple[Node, ...] | None:
        if node.children is None:
            self.d.error(node.pos, "Missing '{' at beginning of configuration block")
            return None
        return node.children

    def script(self, node: Node, words: tuple[str, ...] | None = None) -> Script | None:
        words = node.words[1:] if words is None else words
        if not words:
            self.d.error(node.pos, f"No script specified for {node.keyword}")
            return None
        argv = script_argv(words)
        if not argv:
            self.d.error(node.pos, f"No script specified for {node.keyword}")
            return None
        if self.first_script is None:
            self.first_script = node.pos
        return Script(argv=argv, text=" ".join(words), pos=node.pos)

    def notify_script(self, node: Node) -> Script | None:
        """A notify script (keepalived notify_script_init): the first word is the command (quote
        it to give arguments), the words after it the user and group it runs as. An unknown
        user or group drops the script, as keepalived does (it only logs it)."""
        words = node.words[1:]
        script = self.script(node, words[:1])
        if script is None or len(words) < 2:
            return script
        user, group = words[1], (words[2] if len(words) > 2 else None)
        bad = [f"Script user '{user}' does not exist"] if not self.host.user_exists(user) else []
        if group is not None and not self.host.group_exists(group):
            bad.append(f"Script group '{group}' does not exist")
        if bad:
            for line in bad:
                self.d.notice(node.pos, line)
            self.d.notice(node.pos, f"Invalid user/group for {node.keyword} script"
                                    f" {script.argv[0]} - ignoring")
            return None
        return replace(script, user=user, group=group)

    def user_group_exist(self, args: tuple[str, ...]) -> bool:
        """`user [group]` words name an existing user (and group)."""
        return self.host.user_exists(args[0]) and \
            (len(args) < 2 or self.host.group_exists(args[1]))
