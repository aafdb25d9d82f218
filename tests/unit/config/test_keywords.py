"""Every keyword accounted for: the generated table is current, every model field is either read
outside keepalived_py/config/ or listed as not implemented, and a not-implemented keyword is
reported with its file:line without changing -t's exit code."""
from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from keepalived_py.config import keywords as kw
from keepalived_py.config import load_config, model, model_lvs
from keepalived_py.config.tree import Severity

ROOT = Path(__file__).resolve().parents[3]


def test_keywords_table_is_up_to_date() -> None:
    assert (ROOT / "docs" / "KEYWORDS.md").read_text() == kw.keyword_table(), \
        "regenerate: python3 -m keepalived_py.config.keywords --table > docs/KEYWORDS.md"


def test_model_fields_are_read_or_listed_as_not_implemented() -> None:
    pkg = ROOT / "keepalived_py"
    # printing a field in a dump is not acting on it: the dump renderers do not count, nor
    # the SNMP MIB tables (they serve configuration values as the dumps print them)
    printers = {"vrrp_data.py", "dumps.py"}
    src = "\n".join(p.read_text() for p in pkg.rglob("*.py")
                    if p.parent.name not in ("config", "snmp") and p.name not in printers)
    unread = []
    for mod in (model, model_lvs):
        for _, cls in inspect.getmembers(mod, dataclasses.is_dataclass):
            if cls.__module__ != mod.__name__:
                continue
            for f in dataclasses.fields(cls):
                if f.name != "pos" and not re.search(rf"\b{re.escape(f.name)}\b", src):
                    unread.append(f"{cls.__name__}.{f.name}")
    missing = sorted(set(unread) - set(kw.UNREAD_FIELDS))
    assert not missing, f"fields nobody reads and not listed in keywords.UNREAD_FIELDS: {missing}"
    stale = sorted(set(kw.UNREAD_FIELDS) - set(unread))
    assert not stale, f"now read, remove from keywords.UNREAD_FIELDS: {stale}"


def test_not_implemented_keyword_is_reported_with_its_line(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    # a vrrp_instance keyword still listed as not implemented, if any is left
    later = sorted(k for b, k in kw.NOT_IMPLEMENTED if b == "vrrp_instance")
    word = later[0] if later else "promote_secondaries"
    conf.write_text("static_ipaddress {\n 192.0.2.5/24 dev eth0\n}\nvrrp_instance V {\n"
                    f" interface eth0\n virtual_router_id 1\n {word}\n"
                    " authentication {\n  auth_type AH\n  auth_pass x\n }\n"
                    " virtual_ipaddress {\n  192.0.2.9\n }\n}\n")
    r = load_config(str(conf))
    notes = [str(d) for d in r.diagnostics.items if d.severity is Severity.NOTICE]
    assert not any("static_ipaddress" in n for n in notes), notes  # implemented (issue 12)
    assert any(f"{conf}:7:" in n and word in n for n in notes) == bool(later), notes
    assert not any("auth_type" in n for n in notes), notes        # AH is implemented
    assert r.diagnostics.exit_code == 0
