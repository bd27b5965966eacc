"""What every job result shares, and the per-company item result of kinds that spread."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from acquire.models import ItemState, ItemStatus
from acquire.version import __version__

__all__ = ["CompanyItem", "ResultModel", "company_results"]


class ResultModel(BaseModel):
    """Base of every job result: the JSON stored in Redis is this model's JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acquire_version: str = Field(
        __version__,
        description="The acquire version that wrote the result (read back when it does not load).",
    )


class CompanyItem(BaseModel):
    """One company of a job that spreads one item job per company: how it ended, and its data.

    The data fields of a kind's subclass keep their defaults when the company failed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: str = Field(description="The ticker or CIK as requested (normalised).")
    state: ItemState
    error: str | None = None
    error_type: str | None = None


C = TypeVar("C", bound=CompanyItem)


def company_results(model: type[C], items: Sequence[ItemStatus]) -> list[C]:
    """``model`` per item, from the data its item job stored and the item's final state."""
    out: list[C] = []
    for item in items:
        fields: dict[str, Any] = {**item.data, "company": item.key, "state": item.state}
        fields["error"], fields["error_type"] = item.error, item.error_type
        out.append(model.model_validate(fields))
    return out
