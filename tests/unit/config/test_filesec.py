"""config/filesec.py: configuration files other users could change are reported (a notice:
keepalived 2.2.7 says nothing, so -t's exit status is unchanged)."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from keepalived_py.config import filesec
from keepalived_py.config.source import read_lines
from keepalived_py.config.tree import Diagnostics, Severity


def st(mode: int, uid: int = 0, gid: int = 0) -> SimpleNamespace:
    return SimpleNamespace(st_mode=0o100000 | mode, st_uid=uid, st_gid=gid)


@pytest.mark.parametrize(("mode", "uid", "gid", "euid", "bad"), [
    (0o644, 0, 0, 0, False), (0o600, 0, 0, 0, False), (0o664, 0, 0, 0, False),
    (0o666, 0, 0, 0, True), (0o602, 0, 0, 0, True), (0o664, 0, 100, 0, True),
    (0o644, 1000, 0, 0, True), (0o644, 1000, 1000, 1000, False), (0o664, 1000, 1000, 1000, False),
    (0o646, 1000, 1000, 1000, True),
])
def test_insecure(mode: int, uid: int, gid: int, euid: int, bad: bool) -> None:
    assert (filesec.insecure(st(mode, uid, gid), euid) is not None) is bad


def test_not_a_regular_file_is_not_judged() -> None:
    assert filesec.insecure(SimpleNamespace(st_mode=0o020666, st_uid=0, st_gid=0), 0) is None


def test_world_writable_include_is_a_notice_with_its_include_line(tmp_path: Path) -> None:
    main = tmp_path / "keepalived.conf"
    inc = tmp_path / "inc.conf"
    main.write_text(f"global_defs {{\n  router_id a\n}}\ninclude {inc}\n")
    inc.write_text("global_defs {\n  router_id b\n}\n")
    os.chmod(main, 0o644)
    os.chmod(inc, 0o666)
    diags = Diagnostics()
    list(read_lines(str(main), config_id=None, diagnostics=diags))
    found = [d for d in diags.items if "writable" in d.message]
    assert len(found) == 1 and found[0].severity is Severity.NOTICE, diags.items
    assert str(inc) in found[0].message and found[0].pos is not None and found[0].pos.line == 4
    assert diags.exit_code == 0
