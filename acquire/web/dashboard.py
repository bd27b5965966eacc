"""A self-contained jobs dashboard (HTML, JS, CSS; no build step, nothing from the network).

Serve it next to the mounted router so a browser can submit jobs, follow their progress
live and read their results::

    app.mount("/acquire", create_router(client, authorize, token_secret=secret))
    app.mount("/", create_dashboard("/acquire"))    # after the router: "/" matches everything

or, to add plain routes instead of a catch-all mount::

    app = Starlette(routes=[*dashboard_routes("/acquire"), Mount("/acquire", router)])

The page asks for an API key (kept in the tab's ``sessionStorage``) and sends it as
``X-API-Key`` to the router at ``api_prefix``: the path (or absolute URL) under which the
browser reaches the router. Live progress uses ``EventSource`` with the signed per-job
token from ``POST /jobs/{id}/token``, so the router needs ``token_secret``.

Responses carry a strict Content-Security-Policy (scripts, styles and connections only from
this origin) and ``Referrer-Policy: no-referrer``, since event-stream URLs contain tokens.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router

__all__ = ["create_dashboard", "dashboard_routes"]

_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "favicon.svg": "image/svg+xml"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'{api_origin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_ROUTE = "acquire_dashboard"
_ASSET_ROUTE = "acquire_dashboard_asset"
_ICON_ROUTE = "acquire_dashboard_icon"


@cache
def _static(name: str) -> str:
    return resources.files("acquire.web").joinpath("static", name).read_text(encoding="utf-8")


@cache
def _icon() -> bytes:
    return resources.files("acquire.web").joinpath("static", "favicon.ico").read_bytes()


def dashboard_routes(api_prefix: str = "/acquire", *, title: str = "acquire") -> list[Route]:
    """The dashboard page at ``/``, its assets under ``/_dashboard/`` and ``/favicon.ico``.

    ``api_prefix`` is where the browser reaches the router (``"/acquire"``, or an absolute URL
    if the API is on another origin; that origin must then allow CORS). ``title`` is shown
    in the page header and the browser tab.
    """
    if not api_prefix or any(c in api_prefix for c in "\"'<>\\ \n"):
        raise ValueError("api_prefix must be a URL path such as '/acquire' or an absolute http(s) URL")
    if not (api_prefix.startswith("/") or api_prefix.startswith(("http://", "https://"))):
        raise ValueError("api_prefix must start with '/' or be an absolute http(s) URL")
    api = api_prefix.rstrip("/")
    api_origin = "" if api.startswith("/") else " " + "/".join(api.split("/", 3)[:3])
    headers = {
        "Content-Security-Policy": _CSP.format(api_origin=api_origin),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }

    async def page(request: Request) -> Response:
        asset = {name: request.url_for(_ASSET_ROUTE, name=name).path for name in _ASSETS}
        body = (
            _static("dashboard.html")
            .replace("{{favicon}}", html.escape(asset["favicon.svg"], quote=True))
            .replace("{{title}}", html.escape(title))
            .replace("{{api}}", html.escape(api, quote=True))
            .replace("{{css}}", html.escape(asset["dashboard.css"], quote=True))
            .replace("{{js}}", html.escape(asset["dashboard.js"], quote=True))
        )
        return HTMLResponse(body, headers={**headers, "Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = _ASSETS.get(name)
        if media_type is None:
            return Response("not found", 404, media_type="text/plain")
        return Response(
            _static(name), media_type=media_type, headers={**headers, "Cache-Control": "no-cache"}
        )

    async def icon(_: Request) -> Response:
        # Browsers and tools that ignore <link rel="icon"> ask for /favicon.ico.
        icon_headers = {**headers, "Cache-Control": "max-age=86400"}
        return Response(_icon(), media_type="image/x-icon", headers=icon_headers)

    return [
        Route("/", page, methods=["GET"], name=_PAGE_ROUTE),
        Route("/_dashboard/{name}", asset, methods=["GET"], name=_ASSET_ROUTE),
        Route("/favicon.ico", icon, methods=["GET"], name=_ICON_ROUTE),
    ]


def create_dashboard(api_prefix: str = "/acquire", *, title: str = "acquire") -> Router:
    """:func:`dashboard_routes` as a router, for ``app.mount(path, create_dashboard(...))``."""
    return Router(routes=dashboard_routes(api_prefix, title=title))
