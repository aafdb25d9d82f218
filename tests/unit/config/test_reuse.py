"""config/reuse.py: a load is reused only when everything it read is the same."""
from __future__ import annotations

import _socket
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from keepalived_py.config import load_config, reuse

INSTANCE = """vrrp_instance VI_{n} {{
    interface {dev}
    virtual_router_id {n}
    priority 100
    virtual_ipaddress {{
        192.0.2.{n}/24
    }}
}}
"""


@pytest.fixture(autouse=True)
def _fresh() -> object:
    reuse.forget()
    yield None
    reuse.forget()


def _write(p: Path, text: str) -> None:
    p.write_text(text)


def test_unchanged_is_reused_and_a_change_is_not(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    _write(conf, INSTANCE.format(n=1, dev="lo") + "vrrp_instance X {\n}\n")   # an error too
    first = load_config(str(conf))
    again = load_config(str(conf))
    assert again.config is first.config
    assert again.diagnostics.items == first.diagnostics.items and again.diagnostics.items
    assert again.diagnostics is not first.diagnostics
    again.diagnostics.items.clear()                    # the caller's copy: the kept one is intact
    assert load_config(str(conf)).diagnostics.items == first.diagnostics.items
    _write(conf, INSTANCE.format(n=2, dev="lo"))
    changed = load_config(str(conf))
    assert changed.config is not first.config
    assert changed.config is not None and changed.config.vrrp_instances[0].virtual_router_id == 2
    # another option or path is another load
    assert load_config(str(conf), check_interfaces=True).config is not changed.config
    assert load_config(str(conf), config_id="other").config is not changed.config


def test_includes_their_files_matches_and_modes(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    d = tmp_path / "conf.d"
    d.mkdir()
    _write(conf, "include conf.d/*.conf\n")
    _write(d / "a.conf", INSTANCE.format(n=1, dev="lo"))
    first = load_config(str(conf))
    assert first.config is not None and len(first.config.vrrp_instances) == 1
    assert load_config(str(conf)).config is first.config
    _write(d / "b.conf", INSTANCE.format(n=2, dev="lo"))                 # a new match
    second = load_config(str(conf))
    assert second.config is not None and len(second.config.vrrp_instances) == 2
    os.chmod(d / "b.conf", 0o755)                 # executable: skipped by the include
    third = load_config(str(conf))
    assert third.config is not None and len(third.config.vrrp_instances) == 1
    _write(d / "a.conf", INSTANCE.format(n=3, dev="lo"))                 # an included file edited
    fourth = load_config(str(conf))
    assert fourth.config is not None and fourth.config.vrrp_instances[0].virtual_router_id == 3
    (d / "a.conf").unlink()
    (d / "b.conf").unlink()
    fifth = load_config(str(conf))                # nothing matches now: said, and rebuilt
    assert fifth.config is not None and not fifth.config.vrrp_instances
    assert any("No config files matched" in d.message for d in fifth.diagnostics.items)


def test_missing_file_then_created(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    assert load_config(str(conf)).config is None
    _write(conf, INSTANCE.format(n=4, dev="lo"))
    got = load_config(str(conf))
    assert got.config is not None and got.config.vrrp_instances[0].virtual_router_id == 4


def test_random_is_never_reused(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    _write(conf, "$P=${_RANDOM 1 200}\n" + INSTANCE.format(n=5, dev="lo").replace(
        "priority 100", "priority $P"))
    first = load_config(str(conf))
    assert first.config is not None
    assert load_config(str(conf)).config is not first.config


def test_pwd_and_host_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "keepalived.conf"
    _write(conf, "global_defs {\n  router_id $_PWD\n}\n" + INSTANCE.format(n=6, dev="kpdummy0"))
    monkeypatch.chdir(tmp_path)
    fake = [(1, "lo"), (2, "kpdummy0")]
    monkeypatch.setattr(_socket, "if_nameindex", lambda: list(fake))     # (config/context.py)
    first = load_config(str(conf), check_interfaces=True)
    assert first.config is not None and first.config.global_defs.router_id == str(tmp_path)
    assert load_config(str(conf), check_interfaces=True).config is first.config
    fake.pop()                                    # the interface went away: -t says so again
    gone = load_config(str(conf), check_interfaces=True)
    assert gone.config is not first.config
    assert len(gone.diagnostics.items) > len(first.diagnostics.items)
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)                        # $_PWD: another directory, another value
    moved = load_config(str(conf), check_interfaces=True)
    assert moved.config is not None and moved.config.global_defs.router_id == str(sub)


def test_default_config_id_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "keepalived.conf"
    _write(conf, "@alpha " + INSTANCE.format(n=7, dev="lo").replace("\n", "\n@alpha ", 7))
    monkeypatch.setattr(os, "uname", lambda: SimpleNamespace(nodename="alpha.example"))
    first = load_config(str(conf))
    assert first.config is not None and len(first.config.vrrp_instances) == 1
    monkeypatch.setattr(os, "uname", lambda: SimpleNamespace(nodename="beta.example"))
    other = load_config(str(conf))
    assert other.config is not None and not other.config.vrrp_instances


def test_the_start_load_serves_the_first_reload_when_checking_interfaces_changed_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon starts with interfaces checked and reloads without: when no interface was
    missing nor looked at, the start's load is the reload's (the same object, the same
    messages as a load without the checks); otherwise the reload loads again."""
    monkeypatch.setattr(_socket, "if_nameindex", lambda: [(1, "lo"), (2, "kpdummy0")])
    conf = tmp_path / "keepalived.conf"
    _write(conf, INSTANCE.format(n=1, dev="kpdummy0") + "vrrp_instance X {\n}\n")
    start = load_config(str(conf), check_interfaces=True)
    reload = load_config(str(conf))
    assert reload.config is start.config and reload.diagnostics.items == start.diagnostics.items
    reuse.forget()
    assert load_config(str(conf)).config == start.config        # what a fresh load gives
    assert [str(x) for x in load_config(str(conf)).diagnostics.items] == \
        [str(x) for x in start.diagnostics.items]
    # the other way round: a load without the checks does not stand for one with them
    assert load_config(str(conf), check_interfaces=True).config is not start.config
    for text in (INSTANCE.format(n=2, dev="kpmissing0"),                 # missing: a message
                 INSTANCE.format(n=3, dev="kpdummy0").replace(           # VMAC: names looked at
                     "priority 100", "priority 100\n    use_vmac")):
        _write(conf, text)
        reuse.forget()
        start = load_config(str(conf), check_interfaces=True)
        assert load_config(str(conf)).config is not start.config


def test_a_start_load_standing_for_a_reload_is_what_the_reload_would_load(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the golden configurations: whenever the load with interfaces checked is served to
    a lookup without, it equals (model and messages) a fresh load without the checks."""
    import glob
    here = os.path.dirname(os.path.abspath(__file__))
    names = [(i + 1, n) for i, n in enumerate(("lo", "eth0", "eth1", "eth2", "eth3", "veth0"))]
    monkeypatch.setattr(_socket, "if_nameindex", lambda: list(names))
    served = 0
    for path in sorted(glob.glob(os.path.join(here, "..", "..", "golden", "config", "*.conf"))):
        reuse.forget()
        start = load_config(path, check_interfaces=True)
        reload = load_config(path)
        if reload.config is None or reload.config is not start.config:
            continue
        served += 1
        reuse.forget()
        fresh = load_config(path)
        assert fresh.config == reload.config, path
        assert [str(x) for x in fresh.diagnostics.items] == \
            [str(x) for x in reload.diagnostics.items], path
    assert served > 20
