"""Upstream clients (SEC, Yahoo): HTTP and the upstreams' quirks, no job logic (limiter, cache and
session store are injected)."""
