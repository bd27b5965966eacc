"""Reliability scenarios run against real worker processes: a fleet, kills, restarts, chaos, tenancy.

Shared by the tests in ``tests/reliability`` (which assert on the reports) and
``bench/reliability.py`` (which prints them).
"""
