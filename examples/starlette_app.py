"""A Starlette host application: acquire's router at ``/acquire``, the dashboard at ``/``.

Run it (from a source checkout, with Redis reachable at ``REDIS_URL`` and a worker running)::

    export REDIS_URL=redis://localhost:6379/0
    export SEC_USER_AGENT="Your Company admin@example.com"
    export EXAMPLE_API_KEYS="acme-key-0123456789abcdef:acme,globex-key-0123456789abcdef:globex"
    export EXAMPLE_TOKEN_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    arq acquire.WorkerSettings &                       # the worker, in another terminal
    python -m examples.starlette_app                   # uvicorn on :8080 (HOST, PORT)

then open http://127.0.0.1:8080/, paste an API key and submit a job. Or call the API::

    curl -X POST localhost:8080/acquire/jobs -H 'X-API-Key: acme-key-0123456789abcdef' \\
         -H 'Content-Type: application/json' \\
         -d '{"kind": "risk_drift", "ticker": "NVDA", "years": [2025, 2024]}'

``EXAMPLE_API_KEYS`` (``key:org`` pairs) and ``EXAMPLE_TOKEN_SECRET`` are described in
``examples/_config.py``; unset, the key ``local-dev-key-0123456789`` is accepted for the
organisation ``demo`` (local development only).

``python -m`` runs uvicorn with :func:`acquire.web.serving.uvicorn_limits` (a connection cap,
bounded request heads, a keep-alive timeout). With the ``uvicorn`` command, pass the same:
``uvicorn examples.starlette_app:app --http h11 --limit-concurrency 1024
--h11-max-incomplete-event-size 16384 --timeout-keep-alive 5``.

The client connects in the lifespan, so importing this module does no I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from acquire import AcquireClient, Settings
from acquire.web import api_key_authorizer, create_router
from acquire.web.dashboard import dashboard_routes
from examples._config import API_PREFIX, api_keys_from_env, serve, token_secret_from_env

__all__ = ["app", "create_app"]


async def health(request: Request) -> JSONResponse:
    """The host's own routes live alongside acquire's."""
    return JSONResponse({"status": "ok"})


def create_app(
    settings: Settings | None = None,
    *,
    api_keys: Mapping[str, str] | None = None,
    token_secret: str | None = None,
) -> Starlette:
    """The host app. Arguments default to the environment (``Settings.from_env()`` etc.)."""
    authorize = api_key_authorizer(dict(api_keys) if api_keys is not None else api_keys_from_env())
    secret = token_secret or token_secret_from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = await AcquireClient.connect(settings or Settings.from_env())
        router = create_router(client, authorize, token_secret=secret)
        # The router needs a connected client, so it is mounted here rather than at construction.
        mount = Mount(API_PREFIX, router)
        app.router.routes.append(mount)
        try:
            yield
        finally:
            app.router.routes.remove(mount)
            await router.aclose()  # ends open event streams
            await client.close()

    app = Starlette(
        routes=[*dashboard_routes(API_PREFIX), Route("/healthz", health)],
        lifespan=lifespan,
    )
    # Starlette answers "/acquire" with a redirect to "/acquire/" built from the request's Host
    # header, which the client chooses (a redirect to any host it names): paths match exactly.
    app.router.redirect_slashes = False
    return app


app = create_app()


if __name__ == "__main__":
    serve(app)
