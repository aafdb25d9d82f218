"""core/channel.py: a ("reload", config) message of the same configuration is framed once."""
from __future__ import annotations

import pickle

from keepalived_py.config.model import Config, VrrpInstance
from keepalived_py.core import channel


def _decode(framed: bytes) -> object:
    (n,) = channel._LEN.unpack(framed[:channel._LEN.size])
    assert n == len(framed) - channel._LEN.size
    return pickle.loads(framed[channel._LEN.size:])


def test_same_config_is_framed_once_and_decodes_equal() -> None:
    cfg = Config(vrrp_instances=(VrrpInstance(name="VI_1", interface="eth0",
                                              virtual_router_id=1),))
    first = channel.encode(("reload", cfg))
    assert channel.encode(("reload", cfg)) is first          # the second child: same bytes
    assert _decode(first) == ("reload", cfg)
    other = Config(vrrp_instances=(VrrpInstance(name="VI_1", interface="eth0",
                                                virtual_router_id=2),))
    framed = channel.encode(("reload", other))                # another object: encoded anew
    assert framed is not first and _decode(framed) == ("reload", other)
    equal_copy = pickle.loads(pickle.dumps(other))
    assert channel.encode(("reload", equal_copy)) is not framed   # identity, not equality
    assert _decode(channel.encode(("dump", "data"))) == ("dump", "data")
