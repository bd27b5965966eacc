"""Starlette router, SSE and authorisation for host applications."""
