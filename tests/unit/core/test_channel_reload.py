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


def test_the_child_decodes_an_unchanged_reload_once() -> None:
    """The same bytes of a ("reload", config) again: the configuration read last, the same
    object (no unpickling); other bytes, and other messages, are unpickled as ever."""
    cfg = Config(vrrp_instances=(VrrpInstance(name="VI_1", interface="eth0",
                                              virtual_router_id=3),))
    body = channel.encode(("reload", cfg))[channel._LEN.size:]
    first = channel.decode(body)
    assert first == ("reload", cfg)
    again = channel.decode(bytes(body))                   # another bytes object, same content
    assert again is first and again[1] is first[1]
    other = Config(vrrp_instances=(VrrpInstance(name="VI_1", interface="eth0",
                                                virtual_router_id=4),))
    changed = channel.decode(channel.encode(("reload", other))[channel._LEN.size:])
    assert changed == ("reload", other) and changed[1] is not first[1]
    dump = pickle.dumps(("dump", "data"))
    assert channel.decode(dump) == ("dump", "data") and channel.decode(dump) is not \
        channel.decode(dump)
    assert channel.decode(pickle.dumps(["not", "a", "tuple"])) is None
