"""Outbound HTTP shared by the sources: the client with retries, backoff, the cache, the rate limiter."""
