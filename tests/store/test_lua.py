from __future__ import annotations

import pytest

from acquire.store.lua import fill


def test_fill_writes_each_placeholder_once_and_refuses_one_without_a_value() -> None:
    # a value is not scanned again: Lua text put in for one placeholder keeps its own '@'
    assert fill("return '@A@' .. @B@", {"A": "x@B@", "B": 2}) == "return 'x@B@' .. 2"
    with pytest.raises(KeyError, match="@TTL@"):
        fill("redis.call('EXPIRE', KEYS[1], '@TTL@')", {"MAXLEN": 5})
