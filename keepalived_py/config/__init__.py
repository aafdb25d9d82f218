"""Configuration: keepalived.conf text -> block tree -> frozen model, with diagnostics.

    result = load_config("/etc/keepalived/keepalived.conf", config_id=None)
    if result.ok: use(result.config)
    for d in result.diagnostics.items: print(d)

Pipeline: source.py (files, include, @conditionals, $DEFS, ~SEQ) -> blocks.py ({ } tree of Node)
-> build.py (keywords tables, defaults, cross references) -> model.Config.
"""
from __future__ import annotations

import gc

from keepalived_py.config.model import Config
from keepalived_py.config.tree import Diagnostics
from keepalived_py.record import Record


class LoadResult(Record, kw_only=False):
    """What load_config read and built."""
    config: Config | None        # None only when nothing usable could be read (file missing...)
    diagnostics: Diagnostics
    files: tuple[str, ...]       # every file read (main file and includes), for reload and dumps

    @property
    def ok(self) -> bool:
        return self.config is not None and self.diagnostics.ok


def load_config(path: str, *, config_id: str | None = None,
                check_interfaces: bool = False) -> LoadResult:
    """Read, expand and build `path`. Never raises for bad input: problems are diagnostics.

    config_id: the -i value (None: keepalived's default, the host name without domain).
    check_interfaces: -t checks that interfaces named in the config exist, as keepalived does.
    When nothing the last load of `path` read has changed, its result is reused (reuse.py).
    """
    from keepalived_py.config import reuse

    again = reuse.lookup(path, config_id, check_interfaces)
    if again is not None:
        return again
    # The load allocates hundreds of thousands of small objects that all live on (lines,
    # nodes, the model): the cyclic collector would walk them again and again for nothing
    # (~15% of a 1,000-instance load). Off for the load, as it was after.
    was = gc.isenabled()
    gc.disable()
    try:
        return _load(path, config_id, check_interfaces)
    finally:
        if was:
            gc.enable()


def _load(path: str, config_id: str | None, check_interfaces: bool) -> LoadResult:
    from keepalived_py.config import reuse
    from keepalived_py.config.blocks import read_trees
    from keepalived_py.config.build import build_config

    diags = Diagnostics()
    inputs: list[tuple[object, ...]] = []
    tree, files, views = read_trees(path, config_id=config_id, diagnostics=diags, inputs=inputs)
    if tree is None:
        reuse.forget()
        return LoadResult(None, diags, files)
    host = reuse.RecordingHost()
    config = build_config(tree, diags, check_interfaces=check_interfaces, views=views, host=host)
    result = LoadResult(config, diags, files)
    reuse.remember(path, config_id, check_interfaces, inputs, host, result)
    return result
