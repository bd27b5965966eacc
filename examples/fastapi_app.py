"""A FastAPI host application: acquire's router mounted at ``/acquire``, the dashboard at ``/``.

Run it like the Starlette example (same environment variables; see ``_config.py``)::

    export REDIS_URL=redis://localhost:6379/0
    export SEC_USER_AGENT="Your Company admin@example.com"
    export EXAMPLE_API_KEYS="acme-key-0123456789abcdef:acme"
    arq acquire.WorkerSettings &
    python -m examples.fastapi_app                     # uvicorn on :8080 (HOST, PORT)

Open http://127.0.0.1:8080/ for the dashboard; FastAPI's own docs stay at ``/docs`` and the
app's own endpoints (here ``/healthz``) sit beside the mounted router. The router is plain
Starlette, so it is mounted (``app.mount``) rather than included; its routes do not appear
in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Mount

from acquire import AcquireClient, Settings
from acquire.web import api_key_authorizer, create_router
from acquire.web.dashboard import dashboard_routes
from examples._config import API_PREFIX, api_keys_from_env, serve, token_secret_from_env

__all__ = ["app", "create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    api_keys: Mapping[str, str] | None = None,
    token_secret: str | None = None,
) -> FastAPI:
    """The host app. Arguments default to the environment (``Settings.from_env()`` etc.)."""
    authorize = api_key_authorizer(dict(api_keys) if api_keys is not None else api_keys_from_env())
    secret = token_secret or token_secret_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await AcquireClient.connect(settings or Settings.from_env())
        router = create_router(client, authorize, token_secret=secret)
        app.mount(API_PREFIX, router)  # needs the connected client, hence here and not at import
        try:
            yield
        finally:
            app.router.routes[:] = [
                r for r in app.router.routes if not (isinstance(r, Mount) and r.app is router)
            ]
            await router.aclose()  # ends open event streams
            await client.close()

    # FastAPI builds trailing-slash redirects from the request's Host header, which the client
    # chooses (a redirect to any host it names): paths match exactly.
    app = FastAPI(title="acquire example", lifespan=lifespan, redirect_slashes=False)
    app.router.routes.extend(dashboard_routes(API_PREFIX))

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()


if __name__ == "__main__":
    serve(app)
