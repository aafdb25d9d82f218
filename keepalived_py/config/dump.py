"""The resolved configuration, printed: readable text (`-d`) or JSON (`-d --dump-format=json`).

Both walk the frozen model generically, so every field (defaults resolved by build.py) shows,
with the source position of each block. JSON output is stable (sorted keys) and re-loadable.
"""
from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
from typing import Any

from keepalived_py.config.model import Config
from keepalived_py.config.tree import SourcePos


def to_data(obj: Any) -> Any:
    """Model -> plain JSON-able data (positions kept as "file:line")."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "pos":
                if value.line:
                    out["pos"] = str(value)
                continue
            out[f.name.rstrip("_")] = to_data(value)
        return out
    if isinstance(obj, (tuple, list)):
        return [to_data(x) for x in obj]
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
                        ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network,
                        SourcePos)):
        return str(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    return obj


def to_json(config: Config) -> str:
    return json.dumps(to_data(config), indent=2, sort_keys=True) + "\n"


def _text(name: str, value: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        where = f"  # {value['pos']}" if "pos" in value else ""
        out.append(f"{pad}{name} {{{where}")
        for k, v in value.items():
            if k != "pos" and v not in (None, [], {}, False):
                _text(k, v, indent + 1, out)
        out.append(f"{pad}}}")
    elif isinstance(value, list):
        if all(not isinstance(x, (dict, list)) for x in value):
            out.append(f"{pad}{name} {' '.join(str(x) for x in value)}")
        else:
            for x in value:
                label = x.get("name", "") if isinstance(x, dict) else ""
                _text(f"{name} {label}".rstrip(), x, indent, out)
    elif value is True:
        out.append(f"{pad}{name}")
    else:
        out.append(f"{pad}{name} {value}")


def to_text(config: Config) -> str:
    data = to_data(config)
    out: list[str] = ["# keepalived-py resolved configuration (defaults applied)"]
    for key, value in data.items():
        if value in (None, [], {}):
            continue
        if isinstance(value, list):
            singular = key[:-1] if key.endswith("s") else key
            for item in value:
                label = item.get("name", "") if isinstance(item, dict) else ""
                _text(f"{singular} {label}".rstrip(), item, 0, out)
        else:
            _text(key, value, 0, out)
    return "\n".join(out) + "\n"
