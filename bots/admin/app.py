"""The FastAPI application: routers, static files, host check, security headers, OpenAPI description."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic.json_schema import models_json_schema
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bots.admin import errors
from bots.admin.deps import Services
from bots.admin.jobs import JobRequest
from bots.admin.limits import BodyLimit
from bots.admin.routes import (
    dashboard,
    data,
    hooks,
    jobs,
    keys,
    knowledge,
    ops,
    prefs,
    tenants,
    tools,
    webchat,
    webhooks,
    webthreads,
)  # fmt: skip

HERE = Path(__file__).resolve().parent
SWAGGER = "/static/swagger-ui"
ROUTERS = (
    ops.router,
    keys.router,
    tenants.router,
    prefs.router,
    tools.router,
    knowledge.router,
    data.router,
    hooks.router,
    jobs.router,
    webhooks.router,
    dashboard.router,
    webchat.router,
    webthreads.router,
)
# Our pages load scripts and styles only from this service; the API docs page is left as FastAPI makes it.
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
DESCRIPTION = """\
The admin service of LLMOS: tenants, preferences, access rules, limits, usage, export and deletion of
people's data, inbound job hooks, outbound webhooks, the dashboard and the web chat.

Every `/api` route needs `Authorization: Bearer <admin key>` (`llmos admin create-key`). A tenant
key sees only its own tenant. `/hooks/{id}/jobs` is signed with the hook's secret instead:
`X-LLMOS-Timestamp: <unix seconds>` and `X-LLMOS-Signature: v1=<hex HMAC-SHA256 of "v1:<timestamp>:" + body>`.
"""


def templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description plus the job body, which the hook route reads raw to check its signature first."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema([(JobRequest, "validation")], ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema


async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.headers.get("content-type", "").startswith("text/html") and not request.url.path.startswith("/docs"):
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _docs() -> HTMLResponse:
    """Swagger UI from our own static files (swagger-ui-dist, vendored), so /docs works offline."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="LLMOS admin API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )


def build_app(services: Services) -> FastAPI:
    app = FastAPI(title="LLMOS admin", version="1", description=DESCRIPTION, redoc_url=None, docs_url=None)
    app.state.services = services
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.get("/docs", include_in_schema=False)(_docs)
    app.middleware("http")(_headers)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=services.settings.trusted_hosts)
    app.add_middleware(BodyLimit, read_timeout=services.settings.body_timeout_seconds)
    errors.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
