"""Configuration read from the environment.

Every setting is an environment variable with the name shown in the README's configuration
table (``REDIS_URL``, ``WORKER_CONCURRENCY``, ...). Values are validated when the worker or
client starts: a malformed value, or an unknown variable that looks like one of ours (a typo
such as ``WORKER_CONCURENCY``), is a :class:`ConfigurationError` naming the variable, never a silent
default.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from acquire.errors import ConfigurationError

__all__ = ["AllowList", "Settings", "get_settings"]

# Env vars starting with these prefixes are ours: an unknown one is most likely a typo.
_OWNED_PREFIXES = ("ACQUIRE_", "WORKER_", "SEC_", "YAHOO_", "WEBHOOK_")
# ...except these, which the test-suite and bench scripts read themselves.
_IGNORED_ENV = frozenset({"ACQUIRE_TEST_REDIS_URL", "ACQUIRE_BENCH_QUICK"})

PositiveFloat = Annotated[float, Field(gt=0)]
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowList:
    """``WEBHOOK_ALLOW_HOSTS`` parsed: the host names and IP networks that the webhook SSRF guard
    (:mod:`acquire.webhooks.ssrf`) exempts from its address check."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[_IPNetwork, ...] = ()

    @staticmethod
    @lru_cache(maxsize=16)
    def parse(value: str) -> AllowList:
        """Parse ``WEBHOOK_ALLOW_HOSTS``: comma-separated names, IPs or CIDRs (``10.0.0.0/8``).

        Raises :class:`~acquire.errors.ConfigurationError` naming the bad entry.
        """
        hosts: set[str] = set()
        networks: list[_IPNetwork] = []
        for raw in value.split(","):
            entry = raw.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or not re.fullmatch(r"[a-z0-9._-]+", entry):
                    raise ConfigurationError(
                        f"WEBHOOK_ALLOW_HOSTS: {raw.strip()!r} is neither a host name nor an IP/CIDR"
                    ) from None
                hosts.add(entry)
        return AllowList(frozenset(hosts), tuple(networks))

    def exempts_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def exempts_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in net for net in self.networks)


class Settings(BaseModel):
    """All of acquire's configuration. Construct directly in code, or with :meth:`from_env`.

    Field names are the environment variable names in lower case.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    # --- names shared with existing deployments (keep them) ---
    redis_url: str = Field("redis://localhost:6379/0", description="Redis connection URL.")
    worker_concurrency: int = Field(10, ge=1, le=1000, description="Jobs run at once per worker.")
    sec_topic: str = Field("data.sec", min_length=1, description="Stream receiving SEC results.")
    yahoo_topic: str = Field("data.yahoo", min_length=1, description="Stream receiving Yahoo results.")
    metrics_port: int = Field(8000, ge=0, le=65535, description="Prometheus port; 0 disables it.")
    metrics_host: str = Field("127.0.0.1", description="Address the metrics bind to (0.0.0.0: all).")
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # --- queue and job runtime ---
    acquire_queue: str = Field("acquire:queue:acquisition", min_length=1, description="Fetch jobs.")
    acquire_analysis_queue: str = Field(
        "acquire:queue:acquisition", min_length=1, description="Risk-drift jobs (set to split)."
    )
    acquire_result_ttl: int = Field(3600, ge=60, description="Seconds results, status, events live.")
    acquire_job_timeout: int = Field(300, ge=1, description="Hard time limit of fetch jobs (s).")
    acquire_analysis_timeout: int = Field(600, ge=1, description="Hard limit of risk drift (s).")
    acquire_analysis_soft_timeout: int = Field(540, ge=1, description="Soft limit of risk drift (s).")
    acquire_max_tries: int = Field(4, ge=1, le=50, description="Attempts for transient failures.")
    acquire_retry_base: PositiveFloat = Field(2.0, description="First retry delay (s), doubles.")
    acquire_retry_max: PositiveFloat = Field(120.0, description="Longest retry delay (s).")
    acquire_poll_delay: PositiveFloat = Field(0.05, le=5, description="Queue poll of burst workers (s).")
    acquire_idle_poll: PositiveFloat = Field(
        10.0, le=300, description="Longest an idle worker waits to be woken before reading its queue (s)."
    )
    acquire_events_maxlen: int = Field(2000, ge=10, description="Events kept per job stream.")
    acquire_topic_maxlen: int = Field(100_000, ge=100, description="Entries kept per topic stream.")
    acquire_jobs_index_max: int = Field(1000, ge=10, description="Recent jobs listed per org.")
    acquire_shutdown_grace: int = Field(
        25, ge=0, le=3600, description="On SIGTERM, seconds running jobs get to finish before re-queueing."
    )
    acquire_reconcile_after: int = Field(
        120, ge=1, description="Seconds before the reconciler checks an unfinished job against arq."
    )
    acquire_reconcile_interval: PositiveFloat = Field(
        30.0, le=3600, description="Seconds between reconciler passes (one worker of the fleet runs each)."
    )
    acquire_queue_depth_interval: PositiveFloat = Field(
        15.0, le=3600, description="Seconds between refreshes of the worker_queue_depth gauge."
    )
    acquire_org_max_inflight_items: int = Field(
        10, ge=0, le=10_000, description="Item jobs of one org on the queue at once (0: no gate)."
    )
    acquire_org_max_queued_items: int = Field(
        10_000, ge=1, description="Item jobs one org may have waiting; beyond, submit is a 429."
    )
    acquire_redis_retries: int = Field(
        20, ge=0, le=1000, description="Reconnects per Redis command (backoff up to 2 s) before it fails."
    )
    acquire_startup_wait: float = Field(
        300.0, ge=0, le=86_400, description="Seconds a starting worker keeps trying to reach Redis."
    )
    acquire_log_json: bool = Field(False, description="Emit logs as JSON lines.")
    acquire_data_dir: str = Field(".acquire", description="Embedded Redis data and file cache.")
    acquire_document_store: str = Field(
        "redis",
        min_length=1,
        description="Where filings are kept: redis, file:///path or s3://bucket/prefix.",
    )
    acquire_document_ttl: int = Field(
        0, ge=0, description="Seconds a stored document outlives its jobs at least (0: as long as they)."
    )

    # --- SEC EDGAR ---
    sec_user_agent: str = Field("", description='Declared UA, e.g. "Acme Research admin@acme.com".')
    sec_max_rps: PositiveFloat = Field(10.0, le=10.0, description="Fleet-wide SEC requests/second.")
    sec_www_base_url: str = "https://www.sec.gov"
    sec_data_base_url: str = "https://data.sec.gov"
    sec_timeout: PositiveFloat = Field(30.0, le=600, description="Seconds per SEC request.")
    sec_block_seconds: PositiveFloat = Field(600.0, description="Pause after a rate-limit page.")
    sec_cache: Literal["redis", "directory", "none"] = "redis"
    sec_cache_max_bytes: int = Field(512 * 1024 * 1024, ge=0, description="Bound of the cache.")
    sec_cache_ttl: int = Field(3600, ge=0, description="Seconds submissions/tickers are fresh.")

    # --- Yahoo Finance ---
    yahoo_base_url: str = "https://query2.finance.yahoo.com"
    yahoo_cookie_url: str = "https://fc.yahoo.com"
    yahoo_max_rps: PositiveFloat = Field(2.0, le=50, description="Fleet-wide Yahoo requests/second.")

    # --- webhooks ---
    webhook_secret: SecretStr | None = Field(None, description="whsec_... (comma-separated rotates).")
    webhook_allow_hosts: str = Field("", description="Comma-separated hosts/CIDRs exempt from SSRF.")
    webhook_timeout: PositiveFloat = 10.0
    webhook_max_tries: int = Field(8, ge=1, le=50)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IP address to bind to (127.0.0.1, 0.0.0.0, ::)") from None

    @field_validator("sec_www_base_url", "sec_data_base_url", "yahoo_base_url", "yahoo_cookie_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("acquire_document_store")
    @classmethod
    def _document_store(cls, value: str) -> str:
        if value != "redis" and not value.startswith(("file:///", "s3://")):
            raise ValueError("must be redis, file:///absolute/path or s3://bucket/prefix")
        return value

    @field_validator("webhook_allow_hosts")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        try:
            AllowList.parse(value)  # a bad entry fails at startup, not at the first delivery
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("WEBHOOK_ALLOW_HOSTS: ")) from None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``), failing loudly on bad input."""
        env = dict(os.environ if environ is None else environ)
        known = {name.upper() for name in cls.model_fields}
        for name in env:
            upper = name.upper()
            if upper.startswith(_OWNED_PREFIXES) and upper not in known and upper not in _IGNORED_ENV:
                hint = difflib.get_close_matches(upper, sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]}?)" if hint else ""
                raise ConfigurationError(f"unknown setting {name}{suggestion}")
        values = {k.lower(): v for k, v in env.items() if k.upper() in known}
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]).upper()
        parts.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
    return "invalid setting " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings.from_env()
