"""Identifier formats of organisations and jobs, checked at the edge and in every key builder."""

from __future__ import annotations

import re
import secrets

__all__ = ["ID_PATTERN", "ORG_PATTERN", "new_job_id"]

#: Organisation ids: letters, digits, ``_`` and ``-``. No ``:``, ``*``, ``..`` or whitespace,
#: so an org can never reach into another org's keys or form a glob pattern.
ORG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Job ids: 22 url-safe base64 characters (128 random bits), see :func:`new_job_id`.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_job_id() -> str:
    """22 url-safe characters from 128 random bits: unguessable and safe in keys and URLs.

    Never starting with ``-``: a command line (``acquire watch ID``) would read it as an option.
    """
    while (job_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return job_id
