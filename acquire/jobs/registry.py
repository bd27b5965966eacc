"""The built-in job kinds, their shared worker resources and extra arq functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acquire.runtime.run import JobSpec
    from acquire.runtime.services import ResourceFactory
    from acquire.settings import Settings

__all__ = ["extra_functions", "resources", "specs"]


def specs() -> list[JobSpec[Any, Any]]:
    """One :class:`JobSpec` per job kind."""
    from acquire.jobs import risk_drift, sec_filings, xbrl_facts, yahoo

    return [sec_filings.SPEC, xbrl_facts.SPEC, yahoo.SPEC, risk_drift.SPEC]


def resources() -> list[ResourceFactory]:
    """Clients opened once per worker (HTTP clients, rate limiters, caches)."""
    from acquire.jobs.resources import sec_resources, yahoo_resources

    return [sec_resources, yahoo_resources]


def extra_functions(settings: Settings) -> list[Any]:
    """arq functions that are not job kinds (webhook delivery)."""
    from acquire.jobs.webhook import webhook_function

    return [webhook_function(settings)]
