"""The files the install puts on a system: the systemd unit and its hardening drop-in (read by
systemd's own verifier) and the man pages (rendered by groff, warnings on)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (tests/run.sh installs it on Debian)")
    return path


def test_unit_and_hardening_dropin_pass_systemd_verify(tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze")
    unit = tmp_path / "keepalived-py.service"
    unit.write_text((ROOT / "systemd" / "keepalived-py.service").read_text()
                    .replace("/usr/local/sbin/keepalived-py", shutil.which("true") or "/bin/true"))
    dropin = tmp_path / "keepalived-py.service.d"
    dropin.mkdir()
    shutil.copy(ROOT / "systemd" / "hardening.conf", dropin / "hardening.conf")
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True,
                       env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"},
                       timeout=60)
    # the only complaints allowed are about units this host does not have
    bad = [line for line in r.stderr.splitlines()
           if line.strip() and "network-online.target" not in line and "not found" not in line]
    assert not bad, r.stderr
    # and the verifier does read the drop-in: an unknown key in it is reported
    (dropin / "hardening.conf").write_text("[Service]\nNotAKey=1\n")
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True,
                       env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"},
                       timeout=60)
    assert "NotAKey" in r.stderr


@pytest.mark.parametrize("page", ["keepalived-py.8", "keepalived-py-status.8",
                                  "keepalived-py-genhash.1"])
def test_man_page_renders_without_warnings(page: str) -> None:
    groff = _tool("groff")
    r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(ROOT / "docs" / "man" / page)],
                       capture_output=True, text=True, timeout=60, env={"LC_ALL": "C.UTF-8"})
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_man_page_lists_every_option_of_help() -> None:
    """Every option `keepalived-py --help` prints is in keepalived-py(8)."""
    from keepalived_py.cli import USAGE as HELP
    text = (ROOT / "docs" / "man" / "keepalived-py.8").read_text().replace("\\-", "-")
    import re
    options = HELP.split("Subcommands")[0]          # the daemon's options, not the subcommands'
    longs = set(re.findall(r"--([a-z][a-z_-]+)", options))
    missing = sorted(o for o in longs if f"--{o}" not in text)
    assert not missing, missing
