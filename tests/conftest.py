from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from netlab import Lab, have_netns


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A namespace lab that is always torn down; skips only when namespaces are truly unavailable."""
    ok, why = have_netns()
    if not ok:
        pytest.skip(why)
    tag = request.node.name.replace("test_", "")[:6].replace("[", "").replace("]", "")
    with Lab(tag=tag) as lab:
        yield lab
