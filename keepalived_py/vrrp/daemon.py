"""Child entry point for the vrrp child (placeholder until the real daemon lands: it loads the
configuration and idles, so the supervisor can be built and tested against the contract)."""
from __future__ import annotations

from keepalived_py.config.model import Config
from keepalived_py.core.child import DumpKind
from keepalived_py.options import Options


class VrrpDaemon:
    role = "vrrp"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config: Config | None = None

    async def start(self, config: Config) -> None:
        self.config = config

    async def reload(self, config: Config) -> None:
        self.config = config

    async def stop(self, release: bool) -> None:
        self.config = None

    def dump(self, kind: DumpKind) -> None:
        pass


def create(options: Options) -> VrrpDaemon:
    return VrrpDaemon(options)
