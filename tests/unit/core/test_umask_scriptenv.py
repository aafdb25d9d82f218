"""core/umask.py (keepalived's umask and the modes of its files) and core/scriptenv.py
exec_argv (a script started under setpriv --pdeathsig TERM, exec errors raised as exec's)."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from keepalived_py.config.model_process import ProcessDefs
from keepalived_py.core import umask
from keepalived_py.core.scriptenv import exec_argv


@pytest.mark.parametrize(("mask", "dump", "pid"), [
    (0o177, 0o600, 0o644), (0o027, 0o640, 0o644), (0o022, 0o644, 0o644),
    (0o200, 0o466, 0o444), (0o066, 0o600, 0o644)])
def test_umask_file_modes_follow_keepalived(mask: int, dump: int, pid: int) -> None:
    old = os.umask(mask)
    umask._current = None                        # read it again
    try:
        assert umask.current() == mask
        assert umask.dump_mode() == dump and umask.pidfile_mode() == pid
    finally:
        os.umask(old)
        umask._current = None


def test_umask_command_line_then_config_then_keepalived_default() -> None:
    assert umask.of(None, ProcessDefs()) == 0o177
    assert umask.of(None, ProcessDefs(umask=0o027)) == 0o027
    assert umask.of(0o002, ProcessDefs(umask=0o027)) == 0o002


def test_exec_argv_wraps_in_setpriv_and_raises_as_exec(tmp_path: Path) -> None:
    ok = tmp_path / "ok.sh"
    ok.write_text("#!/bin/sh\nexit 0\n")
    ok.chmod(0o755)
    argv = exec_argv([str(ok), "a"])
    assert argv[-2:] == [str(ok), "a"]
    assert argv[0].endswith("setpriv") and argv[1:4] == ["--pdeathsig", "TERM", "--"]
    assert exec_argv(["true"])[-1] == "/usr/bin/true" or exec_argv(["true"])[-1] == "/bin/true"
    bare = tmp_path / "bare.sh"                  # no #!: keepalived's execve fails too
    bare.write_text("exit 0\n")
    bare.chmod(0o755)
    noexec = tmp_path / "noexec.sh"
    noexec.write_text("#!/bin/sh\n")
    for path, code in ((str(bare), errno.ENOEXEC), (str(tmp_path / "missing"), errno.ENOENT),
                       ("no-such-program-kp", errno.ENOENT), (str(tmp_path), errno.EACCES),
                       (str(noexec), errno.EACCES)):          # no x bit: root neither
        with pytest.raises(OSError) as e:
            exec_argv([path])
        assert e.value.errno == code, path
