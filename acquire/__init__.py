"""acquire: financial-data acquisition as typed, observable, multi-tenant arq jobs."""

from __future__ import annotations

__version__ = "0.1.0"
