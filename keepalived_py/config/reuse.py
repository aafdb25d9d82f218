"""Reuse the last load when nothing it read has changed (issue 16: a reload of an unchanged
configuration costs the parent almost nothing instead of a full parse and build).

A load is a function of what it read: the files' bytes (and who may write them: filesec's
notice), what each include's glob matched and the facts it checked about each match, the
config id, the working directory when $_PWD was used, and the build's questions to the host
(interfaces, users, groups, scripts: `RecordingHost`), plus the number of CPUs (cpu_affinity).
load_config records all of that (SourceReader.inputs, RecordingHost.answers); the next load of
the same path asks the same questions again, and when every answer is the same, returns the
last result (the frozen Config itself, a copy of its diagnostics). Never reused: a load that
used $_RANDOM, or a configuration naming config_save_dir (its build checks directories itself).
Only the parent loads configurations more than once (reloads); `-t` loads once.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keepalived_py.config.context import SystemHost
from keepalived_py.config.source import default_config_id, path_facts, read_bytes
from keepalived_py.config.tree import Diagnostics

if TYPE_CHECKING:
    from keepalived_py.config import LoadResult
    from keepalived_py.config.model import Script


class RecordingHost(SystemHost):
    """SystemHost that remembers each question and its answer (a question asked again -
    is_script of the same notify script for 1,000 instances - is kept once)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: dict[tuple[str, object], object] = {}
        self.interfaces_mattered = True     # build_config says (BuildContext.interfaces_mattered)

    @property
    def answers(self) -> list[tuple[str, object, object]]:
        return [(what, arg, answer) for (what, arg), answer in self.asked.items()]

    def interfaces(self) -> set[str]:
        names = super().interfaces()
        self.asked[("interfaces", None)] = frozenset(names)
        return names

    def user_exists(self, name: str) -> bool:
        ok = self.asked[("user_exists", name)] = super().user_exists(name)
        return ok

    def group_exists(self, name: str) -> bool:
        ok = self.asked[("group_exists", name)] = super().group_exists(name)
        return ok

    def is_script(self, script: Script | None) -> bool:
        if script is None:                  # not a script, on any host
            return False
        ok = self.asked[("is_script", script)] = super().is_script(script)
        return ok

    def resolves(self, name: str) -> bool:
        ok = self.asked[("resolves", name)] = super().resolves(name)
        return ok


_Key = tuple[str, "str | None", bool]
_last: tuple[_Key, list[tuple[object, ...]], list[tuple[str, object, object]], int | None,
             LoadResult, bool] | None = None


def _same_source(inputs: list[tuple[object, ...]]) -> bool:
    for item in inputs:
        kind, name = item[0], str(item[1]) if len(item) > 1 else ""
        if kind == "file":
            try:
                now: tuple[bytes | None, str | None] = read_bytes(name)
            except OSError:
                now = (None, None)
            if now != (item[2], item[3]):
                return False
        elif kind == "glob":
            import glob
            if tuple(sorted(glob.glob(name))) != item[2]:
                return False
        elif kind == "path":
            if path_facts(name) != item[2]:
                return False
        elif kind == "isdir":
            if os.path.isdir(name) != item[2]:
                return False
        elif kind == "cwd":
            if os.getcwd() != item[1]:
                return False
        elif kind == "host":
            if default_config_id() != item[1]:
                return False
        else:                               # "random", or anything not known here
            return False
    return True


def _same_host(answers: list[tuple[str, object, object]]) -> bool:
    host = SystemHost()
    for what, arg, answer in answers:
        if what == "interfaces":
            now: object = frozenset(host.interfaces())
        else:
            now = getattr(host, what)(arg)
        if now != answer:
            return False
    return True


def lookup(path: str, config_id: str | None, check_interfaces: bool) -> LoadResult | None:
    """The last result, if a load of `path` now would read and ask exactly what it did."""
    if _last is None:
        return None
    key, inputs, answers, cpus, result, mattered = _last
    if key != (path, config_id, check_interfaces) and not (
            # a load that checked interfaces, where checking made no difference (none missing,
            # none looked at), is the load without the checks: the daemon's start (-t's
            # checks) serves its first reload (which does not check them)
            key == (path, config_id, True) and not check_interfaces and not mattered):
        return None
    if os.cpu_count() != cpus:
        return None
    if not _same_source(inputs) or not _same_host(answers):
        return None
    from keepalived_py.config import LoadResult
    d = result.diagnostics
    diags = Diagnostics(list(d.items), d.aborted, d.file_error, set(d.escaped))
    return LoadResult(result.config, diags, result.files)


def remember(path: str, config_id: str | None, check_interfaces: bool,
             inputs: list[tuple[object, ...]], host: RecordingHost, result: LoadResult) -> None:
    global _last
    reusable = result.config is not None and all(
        i[0] != "random" and not (i[0] == "file" and isinstance(i[2], bytes)
                                  and b"config_save_dir" in i[2])
        for i in inputs)
    if not reusable:
        _last = None
        return
    d = result.diagnostics
    kept = Diagnostics(list(d.items), d.aborted, d.file_error, set(d.escaped))
    from keepalived_py.config import LoadResult
    _last = ((path, config_id, check_interfaces), inputs, host.answers, os.cpu_count(),
             LoadResult(result.config, kept, result.files), host.interfaces_mattered)


def forget() -> None:
    global _last
    _last = None
