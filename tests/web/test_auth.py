"""Signed event-stream tokens and the API-key authorizer."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request

from acquire.web import InvalidTokenError, TokenSigner, api_key_authorizer

JOB = "B" * 22
OTHER = "C" * 22
OLD, NEW = "o" * 32, "n" * 32


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""})


def test_a_token_binds_org_job_and_expiry() -> None:
    signer = TokenSigner(NEW, ttl=60)
    token = signer.mint("acme", JOB, now=1000)
    assert signer.expires_at(token) == 1060
    assert signer.verify(token, JOB, now=1059) == "acme"
    with pytest.raises(InvalidTokenError, match="expired"):
        signer.verify(token, JOB, now=1060)
    with pytest.raises(InvalidTokenError, match="another job"):
        signer.verify(token, OTHER, now=1000)


def test_forged_and_malformed_tokens_are_refused() -> None:
    signer = TokenSigner(NEW)
    token = signer.mint("acme", JOB)
    version, _payload, signature = token.split(".")
    other_payload = TokenSigner(NEW).mint("globex", JOB).split(".")[1]
    for bad in [
        f"{version}.{other_payload}.{signature}",
        token + "x",
        "v2." + token[3:],
        "garbage",
        "",
        "a.b.c.d",
    ]:
        with pytest.raises(InvalidTokenError):
            signer.verify(bad, JOB)
    with pytest.raises(InvalidTokenError, match="signature"):
        TokenSigner("x" * 32).verify(token, JOB)


def test_secrets_rotate_and_must_be_long() -> None:
    old_token = TokenSigner(OLD).mint("acme", JOB)
    rotated = TokenSigner([NEW, OLD])
    assert rotated.verify(old_token, JOB) == "acme"
    assert TokenSigner(NEW).verify(rotated.mint("acme", JOB), JOB) == "acme"  # signs with the first
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner("short")
    with pytest.raises(ValueError, match="invalid job id"):
        TokenSigner(NEW).mint("acme", "../etc")
    with pytest.raises(ValueError, match="organisation id"):
        TokenSigner(NEW).mint("acme:*", JOB)


def test_api_key_authorizer() -> None:
    authorize = api_key_authorizer({"k" * 20: "acme", "g" * 20: "globex"})
    assert authorize(request({"X-API-Key": "k" * 20})) == "acme"
    assert authorize(request({"Authorization": "Bearer " + "g" * 20})) == "globex"
    for headers in [{}, {"X-API-Key": "k" * 19}, {"Authorization": "Basic " + "k" * 20}]:
        with pytest.raises(HTTPException) as refused:
            authorize(request(headers))
        assert refused.value.status_code == 401
    with pytest.raises(ValueError, match="at least 16"):
        api_key_authorizer({"short": "acme"})
    with pytest.raises(ValueError, match="organisation id"):
        api_key_authorizer({"k" * 20: "bad org"})
    with pytest.raises(ValueError, match="at least one"):
        api_key_authorizer({})
