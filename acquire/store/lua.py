"""Lua script texts with their constants written in.

A constant in a script's text costs Redis nothing per call, where each argument costs about
as much as a decoded JSON element; so a store's scripts are built once per setting from
templates whose ``@NAME@`` placeholders :func:`fill` replaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["fill"]

_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def fill(template: str, values: Mapping[str, object]) -> str:
    """``template`` with each ``@NAME@`` replaced by ``str(values["NAME"])``.

    A placeholder without a value raises ``KeyError``: left in place, it would reach Redis as
    a syntax error or, inside a string, as a wrong key name.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for {match.group()} in a Lua script")
        return str(values[name])

    return _PLACEHOLDER.sub(value, template)
