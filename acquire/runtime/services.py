"""What a job receives and returns, and what a worker shares between its jobs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from arq.connections import ArqRedis
from pydantic import BaseModel

from acquire.models import JobKind, JobRequest, parse_request
from acquire.runtime.redaction import UpstreamRedactor
from acquire.runtime.watchdog import Watchdog
from acquire.serialization import dumps
from acquire.settings import Settings
from acquire.store.fairness import FairGate
from acquire.store.jobs import JobStore, StoredResult

if TYPE_CHECKING:
    from acquire.analysis import SummaryRewriter
    from acquire.sources.sec.edgar import EdgarClient
    from acquire.sources.yahoo.client import YahooClient
    from acquire.store.documents import DocumentStore

__all__ = ["Envelope", "Outcome", "ResourceFactory", "Services", "Spread"]


#: Requests a worker keeps validated (a few spread jobs' worth: a worker runs tens of jobs at once).
_REQUESTS_KEPT = 64


@dataclass
class Services:
    """What a worker builds once at startup and every job shares (clients, pools, store)."""

    settings: Settings
    redis: ArqRedis
    store: JobStore
    resources: dict[str, Any] = field(default_factory=dict)
    #: Looks after running jobs' deferred start writes and soft time limits.
    watchdog: Watchdog = field(default_factory=Watchdog)
    #: Puts public upstream URLs in place of internal ones in what tenants read.
    redact: UpstreamRedactor = field(init=False)

    def __post_init__(self) -> None:
        self.redact = UpstreamRedactor.from_settings(self.settings)

    _fair: FairGate | None = field(default=None, init=False, repr=False)
    #: Requests this worker validated lately, by job id and JSON text (see :meth:`validated`).
    _requests: OrderedDict[tuple[str, str], JobRequest] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    def validated(self, job_id: str, request: dict[str, Any]) -> JobRequest:
        """``request`` validated as its kind's model; once per worker for the item jobs of a job.

        Every item job of a spread job carries the job's whole request, so each would validate
        every company of it again (a 500-company job: 500 x 500). The memo is keyed by the
        request's exact JSON text, so only the very payload already validated skips it: a
        request that differs in any byte is validated. Raises :class:`pydantic.ValidationError`.
        """
        key = (job_id, dumps(request))
        known = self._requests.get(key)
        if known is not None:
            self._requests.move_to_end(key)
            return known
        parsed = parse_request(request)  # frozen: safe to share between item jobs
        self._requests[key] = parsed
        if len(self._requests) > _REQUESTS_KEPT:
            self._requests.popitem(last=False)
        return parsed

    @property
    def fair(self) -> FairGate:
        """The per-org admission gate of item jobs (:mod:`acquire.store.fairness`)."""
        if self._fair is None:
            self._fair = FairGate(self.redis, self.settings)
        return self._fair

    @property
    def edgar(self) -> EdgarClient:
        """The EDGAR client (paced by the fleet-wide limiter, backed by the document cache)."""
        client: EdgarClient = self.get("edgar")
        return client

    @property
    def yahoo(self) -> YahooClient:
        """The Yahoo client (fleet-wide budget, cookie and crumb shared through Redis)."""
        client: YahooClient = self.get("yahoo")
        return client

    @property
    def documents(self) -> DocumentStore | None:
        """Where the SEC job keeps filings for their org, when a document store is configured."""
        store: DocumentStore | None = self.resources.get("documents")
        return store

    @property
    def summary_rewriter(self) -> SummaryRewriter | None:
        """Rephrases the risk-drift summary, when one is registered."""
        rewriter: SummaryRewriter | None = self.resources.get("summary_rewriter")
        return rewriter

    def get(self, name: str) -> Any:
        """A shared resource by name (e.g. ``"edgar"``), with a clear error when missing."""
        try:
            return self.resources[name]
        except KeyError:
            raise RuntimeError(f"worker resource {name!r} is not configured") from None


class Envelope(BaseModel):
    """The JSON payload of an acquire arq job."""

    job_id: str
    org: str
    kind: JobKind
    request: dict[str, Any]
    item: str | None = None
    item_payload: dict[str, Any] | None = None


#: What a job returns: its result model (or, for test kinds, a mapping).
R = TypeVar("R", bound=StoredResult)


@dataclass
class Outcome(Generic[R]):
    """What a job's ``run`` returns: its result and a short summary for the status record."""

    result: R
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Spread:
    """Returned by ``run`` after :meth:`JobContext.spread`: the item jobs will finish the job."""


#: Opens a shared resource (an HTTP client, ...) for the worker's lifetime.
ResourceFactory = Callable[[Services], AbstractAsyncContextManager[None]]
