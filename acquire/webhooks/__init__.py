"""Completion webhooks: the message format, Standard Webhooks signing and verification.

When a job with a ``callback_url`` reaches a final status, the worker ``POST``s::

    {"data": {...}, "job_id": "...", "status": "completed", "timestamp": "2025-01-31T12:00:00.000Z"}

(compact JSON, sorted keys; ``timestamp`` is when the job finished), signed as the
`Standard Webhooks <https://www.standardwebhooks.com/>`_ specification describes:

``webhook-id``
    ``msg_<job_id>``: the same for every retry of the message, so receivers can deduplicate.
``webhook-timestamp``
    Unix seconds when this attempt was signed (each retry is signed afresh, so a late retry
    still passes the receiver's freshness check).
``webhook-signature``
    ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``, one per
    secret in ``WEBHOOK_SECRET`` (comma-separated), separated by spaces: during a rotation
    receivers holding either secret accept the message.

Verifying webhooks in a host application
----------------------------------------
Verify the **raw** request body (before any JSON parsing) and reject what fails::

    from acquire.webhooks import WebhookVerificationError, verify

    @app.post("/hooks/acquire")
    async def acquire_hook(request: Request) -> Response:
        body = await request.body()
        try:
            event = verify(body, request.headers, os.environ["WEBHOOK_SECRET"])
        except WebhookVerificationError:
            return Response(status_code=400)
        if await already_seen(request.headers["webhook-id"]):  # retries repeat the id
            return Response(status_code=204)
        await handle(event["job_id"], event["status"], event["data"])
        return Response(status_code=204)

Any Standard Webhooks library works the same way, e.g.
``standardwebhooks.webhooks.Webhook(secret).verify(body, headers)``. Answer 2xx quickly
(do the work afterwards); 410 Gone tells acquire to stop sending this message.

The message is built in :mod:`~acquire.webhooks.message`, signed and verified in
:mod:`~acquire.webhooks.signing`, and delivered (SSRF guard in :mod:`~acquire.webhooks.ssrf`,
retries, ``Retry-After``) by :mod:`~acquire.webhooks.delivery`.
"""

from __future__ import annotations

from acquire.webhooks.message import WebhookMessage, build_message, encode_payload
from acquire.webhooks.signing import (
    DEFAULT_TOLERANCE,
    Signer,
    WebhookVerificationError,
    generate_secret,
    sign,
    verify,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "Signer",
    "WebhookMessage",
    "WebhookVerificationError",
    "build_message",
    "encode_payload",
    "generate_secret",
    "sign",
    "verify",
]
