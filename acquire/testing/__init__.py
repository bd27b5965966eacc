"""Offline tools: embedded Redis, the replay server of recorded SEC/Yahoo responses, the demo.

The job runtime never imports this package; tests, benchmarks and ``acquire demo`` do.
"""
