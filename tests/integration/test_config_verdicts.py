"""Our `-t` verdict against keepalived 2.2.7's on the same files, in the same namespace (so the
interface checks see the same interfaces): keepalived's samples and a corpus of good and broken
configurations."""
from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
from verdictlab import KEEPALIVED, config_test_both, verdict_host

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

HERE = Path(__file__).resolve().parent.parent
CORPUS = sorted(glob.glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")) + \
    sorted(str(p) for p in (HERE / "golden" / "config").glob("*.conf"))


@pytest.fixture(scope="module")
def host() -> object:
    with verdict_host("verdict", ("192.0.2.1/24", "2001:db8::1/64"),
                      (("eth1", "198.51.100.1/24"),)) as node:
        yield node


@pytest.mark.parametrize("path", CORPUS, ids=[os.path.basename(p) for p in CORPUS])
def test_config_test_verdict_matches_keepalived(host: object, path: str) -> None:
    theirs, ours = config_test_both(host, path)
    assert ours.returncode == theirs.returncode, (
        f"keepalived {theirs.returncode}: {theirs.stderr[-1500:]}\n"
        f"keepalived-py {ours.returncode}: {ours.stderr[-1500:]}")
    assert "Traceback" not in ours.stderr


def test_corpus_is_not_trivial() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("name", ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON"])
def test_signum_equals_the_binary(name: str) -> None:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("keepalived is not installed (tests/run.sh installs it)")
    theirs = subprocess.run([KEEPALIVED, f"--signum={name}"], capture_output=True, text=True)
    ours = subprocess.run([sys.executable, "-m", "keepalived_py", f"--signum={name}"],
                          capture_output=True, text=True)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
