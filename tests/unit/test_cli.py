from __future__ import annotations

import pytest

from keepalived_py.cli import SIGNUMS, UsageError, main, parse_args
from keepalived_py.options import Options, resolve_pidfiles


@pytest.mark.parametrize(("argv", "field", "value"), [
    (["-f", "/x.conf"], "config_file", "/x.conf"),
    (["--use-file=/y.conf"], "config_file", "/y.conf"),
    (["-P"], "use_vrrp", True), (["--vrrp"], "use_vrrp", True),
    (["-C"], "use_checker", True), (["--all"], "all_children", True),
    (["-lDn"], "log_console", True), (["-lDn"], "dont_fork", True),
    (["-S", "3"], "log_facility", 19), (["--log-facility=local7"], "log_facility", 23),
    (["-G"], "no_syslog", True), (["-g"], "log_file", "/tmp/keepalived.log"),
    (["-g/var/log/k.log"], "log_file", "/var/log/k.log"), (["--flush-log-file"], "flush_log_file", True),
    (["-V"], "dont_release_vrrp", True), (["-I"], "dont_release_ipvs", True),
    (["-R"], "dont_respawn", True), (["-d"], "dump_conf", True),
    (["-p", "/a.pid"], "pid_file", "/a.pid"), (["-r/b.pid"], "vrrp_pid_file", "/b.pid"),
    (["--checkers_pid=/c.pid"], "checkers_pid_file", "/c.pid"), (["-b", "/d.pid"], "bfd_pid_file", "/d.pid"),
    (["-s", "ns1"], "namespace", "ns1"), (["-i", "node1"], "config_id", "node1"),
    (["-u", "027"], "umask", 0o27), (["-t"], "config_test", True),
    (["--config-test=/tmp/out"], "config_test_file", "/tmp/out"),
    (["--ignore-sigint"], "ignore_sigint", True), (["--debug"], "debug", ("all",)),
])
def test_every_keepalived_option_is_accepted(argv: list[str], field: str, value: object) -> None:
    options, _ = parse_args(argv)
    assert getattr(options, field) == value


@pytest.mark.parametrize("flag", ["-x", "-A", "-m", "-M", "--perf", "--no-mem-check", "-a", "-X",
                                  "-B", "-e"])
def test_options_without_a_subsystem_are_reported(flag: str) -> None:
    argv = [flag, "/sock"] if flag == "-A" else [flag]
    options, notes = parse_args(argv)
    assert notes or (flag == "-e" and options.all_config)


def test_unknown_option_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bogus"]) == 1
    assert "Unknown option --bogus" in capsys.readouterr().err
    with pytest.raises(UsageError):
        parse_args(["-f"])


def test_signum_matches_keepalived(capsys: pytest.CaptureFixture[str]) -> None:
    assert SIGNUMS == {"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12, "STATS_CLEAR": 63,
                       "JSON": 36}
    assert main(["--signum=JSON"]) == 0 and capsys.readouterr().out == "36\n"
    assert main(["--signum=NOPE"]) == 1


def test_version_and_help_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "Keepalived" in out.err
    assert main(["-h"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "--config-test" in out.err


def test_pidfile_defaults_as_keepalived_2_2_7() -> None:
    assert resolve_pidfiles(Options()) == {
        "parent": "/run/keepalived.pid", "vrrp": "/run/vrrp.pid",
        "checker": "/run/checkers.pid", "bfd": "/run/bfd.pid"}
    ns = resolve_pidfiles(Options(namespace="blue"))
    assert ns["parent"] == "/run/keepalived/blue/keepalived.pid"
    assert resolve_pidfiles(Options(), instance="i1")["vrrp"] == "/run/keepalived/vrrp_i1.pid"
    assert resolve_pidfiles(Options(vrrp_pid_file="/x"))["vrrp"] == "/x"
