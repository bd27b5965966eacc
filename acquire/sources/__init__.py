"""Upstream clients: HTTP only, no Redis keys or job logic (limiter and cache are injected)."""
