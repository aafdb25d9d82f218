"""Scripts run as their user (issue 12.5): script_user, per-script users, keepalived_script."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepalived_py.config import load_config
from keepalived_py.config.model import GlobalDefs, Script
from keepalived_py.notify.scripts import ScriptDefaults, as_user, script_defaults_of, set_script_defaults
from keepalived_py.track.script import run_command

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def world() -> Iterator[Path]:
    """A root-owned directory other users can reach (pytest's tmp dirs are 0700): the script,
    and an `out` directory anyone may write to. Removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="kp-user-", dir="/tmp"))
    try:
        d.chmod(0o755)
        (d / "out").mkdir()
        (d / "out").chmod(0o777)
        script = d / "id.sh"
        script.write_text('#!/bin/sh\necho "$(id -u) $(id -g) $(id -G)" > "$1"\n')
        script.chmod(0o755)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        set_script_defaults(GlobalDefs())


def _ids(world: Path, script: Script) -> list[str]:
    out = world / "out" / f"ids{len(list((world / 'out').iterdir()))}"
    outcome = asyncio.run(run_command(Script(argv=(*script.argv, str(out)), text=script.text,
                                             user=script.user, group=script.group), 10))
    assert outcome.success, outcome
    return out.read_text().split()


def test_as_user_applies_only_to_scripts_without_a_user() -> None:
    d = ScriptDefaults("nobody", "nogroup")
    assert as_user(Script(argv=("x",), text="x"), d).user == "nobody"
    assert as_user(Script(argv=("x",), text="x", user="daemon"), d).user == "daemon"
    assert as_user(Script(argv=("x",), text="x"), ScriptDefaults()).user is None


def test_script_defaults_from_global_defs() -> None:
    assert script_defaults_of(GlobalDefs(script_user="nobody", script_group="daemon")) == \
        ScriptDefaults("nobody", "daemon", False)
    import pwd
    try:
        pwd.getpwnam("keepalived_script")
        want: str | None = "keepalived_script"
    except KeyError:
        want = None                                  # then scripts run as the daemon's user
    assert script_defaults_of(GlobalDefs(enable_script_security=True)) == \
        ScriptDefaults(want, None, True)


@root_only
def test_script_reports_its_user_group_and_groups(world: Path) -> None:
    script = Script(argv=(str(world / "id.sh"),), text="id.sh")
    assert _ids(world, script) == ["0", "0", *os.popen("id -G").read().split()]
    assert _ids(world, Script(argv=script.argv, text="t", user="nobody")) == ["65534", "65534", "65534"]
    assert _ids(world, Script(argv=script.argv, text="t", user="nobody", group="daemon")) == \
        ["65534", "1", "1"]
    set_script_defaults(GlobalDefs(script_user="daemon"))
    assert _ids(world, script) == ["1", "1", "1"]               # script_user for the rest
    assert _ids(world, Script(argv=script.argv, text="t", user="nobody"))[0] == "65534"


@root_only
def test_unknown_user_fails_the_script_not_the_daemon(world: Path) -> None:
    outcome = asyncio.run(run_command(Script(argv=(str(world / "id.sh"), "x"), text="t",
                                             user="no-such-user-kp"), 5))
    assert not outcome.success and "cannot execute" in outcome.reason


@root_only
def test_unsafe_script_refused_under_script_security(world: Path) -> None:
    (world / "id.sh").chmod(0o777)
    set_script_defaults(GlobalDefs(enable_script_security=True, script_user="nobody"))
    outcome = asyncio.run(run_command(Script(argv=(str(world / "id.sh"), "x"), text="t"), 5))
    assert not outcome.success and "unsafe" in outcome.reason


def test_notify_script_trailing_words_are_user_and_group(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("""global_defs {
  enable_script_security
}
vrrp_instance VI_1 {
  interface lo
  virtual_router_id 51
  notify_master /bin/true nobody
  notify_backup "/bin/echo a b" daemon daemon
  notify_fault /bin/true no-such-user-kp
  virtual_ipaddress { 192.0.2.10 }
}
virtual_server 192.0.2.10 80 {
  protocol TCP
  real_server 192.0.2.2 80 {
    notify_down /bin/true daemon
    MISC_CHECK {
      misc_path "/bin/true x"
      user nobody daemon
    }
  }
}
""")
    result = load_config(str(conf))
    assert result.config is not None
    n = result.config.vrrp_instances[0].notify if result.config.vrrp_instances else None
    if n is None:
        pytest.skip("the instance was not built on this host")
    assert (n.notify_master.argv, n.notify_master.user) == (("/bin/true",), "nobody")
    assert (n.notify_backup.argv, n.notify_backup.user, n.notify_backup.group) == \
        (("/bin/echo", "a", "b"), "daemon", "daemon")
    assert n.notify_fault is None                      # keepalived drops it
    assert any("Script user 'no-such-user-kp' does not exist" in str(d) for d in result.diagnostics.items)
    rs = result.config.virtual_servers[0].real_servers[0]
    assert rs.notify_down.user == "daemon"                       # type: ignore[attr-defined]
    misc = rs.checkers[0].misc_path
    assert (misc.argv, misc.user, misc.group) == (("/bin/true", "x"), "nobody", "daemon")
