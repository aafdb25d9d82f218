from __future__ import annotations

import shutil
import subprocess

import pytest

from keepalived_py import __version__
from keepalived_py.cli import SIGNUMS, UsageError, main, parse, parse_args
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


@pytest.mark.parametrize("flag", ["-m", "-M", "--perf", "--no-mem-check", "-a", "-X",
                                  "-e"])
def test_options_without_a_subsystem_are_reported(flag: str) -> None:
    argv = [flag, "/sock"] if flag == "-A" else [flag]
    options, notes = parse_args(argv)
    assert notes or (flag == "-e" and options.all_config)


def test_no_bfd_option_disables_the_bfd_child() -> None:
    options, notes = parse_args(["-B"])
    assert options.no_bfd and not notes
    assert parse_args(["--no_bfd"])[0].no_bfd


def test_snmp_options_turn_every_snmp_part_on_and_name_the_socket() -> None:
    from keepalived_py.config.model import Config
    from keepalived_py.snmp import with_command_line
    options, notes = parse_args(["-x", "-A", "tcp:localhost:705"])
    assert notes == []
    g = with_command_line(Config(), options).global_defs
    assert (g.enable_snmp_vrrp, g.enable_snmp_checker, g.enable_snmp_rfcv2,
            g.enable_snmp_rfcv3, g.snmp_socket) == (True, True, True, True, "tcp:localhost:705")
    assert with_command_line(Config(), parse_args([])[0]) == Config()


def test_unknown_option_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bogus"]) == 1
    assert "Unknown option --bogus" in capsys.readouterr().err
    with pytest.raises(UsageError, match="Missing parameter for option -f"):
        parse_args(["-f"])


def test_signum_matches_keepalived(capsys: pytest.CaptureFixture[str]) -> None:
    assert SIGNUMS == {"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12, "STATS_CLEAR": 63,
                       "JSON": 36}
    assert main(["--signum=JSON"]) == 0 and capsys.readouterr().out == "36\n"
    assert main(["--signum=NOPE"]) == 1


def test_version_and_help_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("Keepalived v2.2.7 (01/16,2022)\n\n")
    assert f"keepalived-py v{__version__}" in out.err and "\nConfig options:  " in out.err
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


@pytest.mark.parametrize(("argv", "field", "value"), [
    (["--use=/x.conf"], "config_file", "/x.conf"), (["--log-con"], "log_console", True),
    (["--dont-f"], "dont_fork", True), (["--dont-res"], "dont_respawn", True),
    (["--dump"], "dump_conf", True),                 # keepalived's --dump-conf, not our --dump-format
    (["--vrrp"], "use_vrrp", True),                  # exact beats the longer --vrrp_pid
    (["--vrrp_p", "/v.pid"], "vrrp_pid_file", "/v.pid"), (["--check"], "use_checker", True),
    (["--checkers=/c.pid"], "checkers_pid_file", "/c.pid"), (["--no-"], "no_syslog", True),
    (["--all-"], "all_config", True), (["--config-t=/o"], "config_test_file", "/o"),
    (["--prom=127.0.0.1:9651"], "prometheus", "127.0.0.1:9651"),   # ours: unique among ours
])
def test_long_option_abbreviations_as_getopt_long(argv: list[str], field: str, value: object) -> None:
    options, _ = parse_args(argv)
    assert getattr(options, field) == value


# (argv, exit status, keepalived's messages on stderr, stdout): never anything that would run a
# daemon — each case ends in an error, -v, or --signum before any start-up
GETOPT_CASES = [
    (["--vers"], 0, ["Keepalived v2.2.7 (01/16,2022)"], ""),
    (["--dont"], 1, ["Unknown option --dont"], ""),                # ambiguous: four --dont-*
    (["--d"], 1, ["Unknown option --d"], ""),
    (["--l"], 1, ["Unknown option --l"], ""),
    (["--al", "--vers"], 0, ["Unknown option --al", "Keepalived v2.2.7 (01/16,2022)"], ""),
    (["--no", "--vers"], 0, ["Unknown option --no", "Keepalived v2.2.7 (01/16,2022)"], ""),
    (["--dont-f", "--log-con", "--vers"], 0, ["Keepalived v2.2.7 (01/16,2022)"], ""),
    (["--vers=3"], 1, ["Unknown option --vers=3"], ""),           # takes no argument
    (["--use-file="], 1, ["Missing parameter for option --use-file"], ""),
    (["-Z"], 1, ["Unknown option -Z"], ""),
    (["-f"], 1, ["Missing parameter for option -f"], ""),
    (["--bogus", "-Z", "--dont"], 1,
     ["Unknown option --bogus", "Unknown option -Z", "Unknown option --dont"], ""),
    (["--sig=JSON"], 0, [], "36\n"),
    (["stray", "--signum", "STOP"], 0, [], "15\n"),
    (["--signum=NOPE"], 1, ["Unknown sigfunc NOPE"], ""),
]


def _keepalived_lines(err: str) -> list[str]:
    """The lines both programs share: messages and the version's first line."""
    return [ln for ln in err.splitlines()
            if ln.startswith(("Unknown option", "Missing parameter", "Unknown sigfunc"))
            or ln.startswith("Keepalived v")]


@pytest.mark.parametrize(("argv", "code", "lines", "out"), GETOPT_CASES)
def test_getopt_messages_and_exit_codes_as_keepalived(
        capsys: pytest.CaptureFixture[str], argv: list[str], code: int, lines: list[str],
        out: str) -> None:
    assert main(argv) == code
    got = capsys.readouterr()
    assert _keepalived_lines(got.err) == lines and got.out == out


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived 2.2.7 is not installed")
@pytest.mark.parametrize(("argv", "code", "lines", "out"), GETOPT_CASES)
def test_getopt_table_agrees_with_the_keepalived_binary(
        argv: list[str], code: int, lines: list[str], out: str) -> None:
    r = subprocess.run(["keepalived", *argv], capture_output=True, text=True, timeout=10)
    assert (r.returncode, _keepalived_lines(r.stderr), r.stdout) == (code, lines, out)


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived 2.2.7 is not installed")
def test_version_layout_matches_the_keepalived_binary(capsys: pytest.CaptureFixture[str]) -> None:
    r = subprocess.run(["keepalived", "-v"], capture_output=True, text=True, timeout=10)
    assert main(["-v"]) == 0
    ours = capsys.readouterr().err.splitlines()
    theirs = r.stderr.splitlines()
    assert ours[:2] == theirs[:2]                       # "Keepalived v2.2.7 (01/16,2022)", ""
    for prefix in ("Running on ", "Distro: "):
        assert [ln for ln in ours if ln.startswith(prefix)] == \
               [ln for ln in theirs if ln.startswith(prefix)]
    for prefix in ("configure options: ", "Config options: ", "System options: "):
        assert sum(ln.startswith(prefix) for ln in ours) == 1
    assert set(ours[ours.index(next(ln for ln in ours if ln.startswith("Config options")))]
               .split()[2:]) <= set(next(ln for ln in theirs if ln.startswith("Config options"))
                                    .split()[2:])


def test_unexpected_arguments_are_set_aside_as_getopt_does() -> None:
    options, _, errors, unexpected = parse(["foo", "-n", "bar", "--", "-l"])
    assert options.dont_fork and not options.log_console and not errors
    assert unexpected == ["foo", "bar", "-l"]
