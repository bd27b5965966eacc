"""``acquire.web.dashboard``: the page and assets, wherever the host mounts them."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.web.dashboard import create_dashboard, dashboard_routes

from .conftest import serve


async def test_dashboard_under_a_sub_path_links_its_assets_there() -> None:
    app = Starlette(routes=[Mount("/ops/jobs", create_dashboard("/api/acquire", title="Acme <ops>"))])
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/ops/jobs/")
        assert page.status_code == 200
        assert 'href="/ops/jobs/_dashboard/dashboard.css"' in page.text
        assert 'src="/ops/jobs/_dashboard/dashboard.js"' in page.text
        assert 'data-api="/api/acquire"' in page.text
        assert "Acme &lt;ops&gt;" in page.text and "<ops>" not in page.text
        assert page.headers["cache-control"] == "no-store"
        css = await http.get("/ops/jobs/_dashboard/dashboard.css")
        assert css.headers["content-type"].startswith("text/css") and ".heatmap" in css.text


async def test_api_on_another_origin_is_allowed_by_the_csp() -> None:
    app = Starlette(routes=dashboard_routes("https://api.example.com/acquire/"))
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/")
        assert 'data-api="https://api.example.com/acquire"' in page.text
        assert "connect-src 'self' https://api.example.com;" in page.headers["content-security-policy"]


@pytest.mark.parametrize("prefix", ["", "acquire", "/acq'uire", "javascript:alert(1)", "/a b"])
def test_bad_api_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="api_prefix"):
        dashboard_routes(prefix)


async def test_favicon_is_served_at_the_root_and_linked_from_the_page() -> None:
    app = Starlette(routes=dashboard_routes("/acquire"))
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/")
        assert '<link rel="icon" href="/_dashboard/favicon.svg" type="image/svg+xml">' in page.text
        svg = await http.get("/_dashboard/favicon.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg")
        ico = await http.get("/favicon.ico")
        assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
        # An ICO directory with one 32x32 image, which is a PNG.
        assert ico.content[:4] == b"\x00\x00\x01\x00" and ico.content[6:8] == b"\x20\x20"
        assert ico.content[22:30] == b"\x89PNG\r\n\x1a\n"
