"""The dashboard page, its refreshing panel, and signing in with an admin key (a cookie, never a URL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bots.admin import board, keys
from bots.admin.deps import COOKIE, PageCaller, Services, Svc
from bots.admin.keys import Principal

router = APIRouter(tags=["pages"], include_in_schema=False)


def render(svc: Services, name: str, **values: Any) -> HTMLResponse:
    return HTMLResponse(svc.templates.get_template(name).render(**values))


def who(caller: Principal) -> str:
    scope = "global key" if caller.is_global else f"tenant {caller.tenant_id} key"
    return f"{caller.name or caller.key_id} · {scope}"


def _safe_next(target: str) -> str:
    """Only a path on this site: an open redirect would turn the login page into a phishing aid."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/dashboard"


@router.get("/login")
def login_form(request: Request, svc: Svc) -> HTMLResponse:
    target = _safe_next(request.query_params.get("next", "/dashboard"))
    return render(svc, "login.html", page="login", next=target, error=None, who=None)


@router.post("/login")
async def login(request: Request, svc: Svc) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    token = (form.get("key") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/dashboard"])[0])

    def check() -> Principal | None:
        with svc.sessions.begin() as session:
            return keys.authenticate(session, token) if token else None

    if await run_in_threadpool(check) is None:
        page = render(svc, "login.html", page="login", next=target, error="That key is not valid.", who=None)
        page.status_code = 401
        return page
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=12 * 3600
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/dashboard")
def dashboard(svc: Svc, caller: PageCaller) -> HTMLResponse:
    values = board.context(sessions=svc.sessions, caller=caller, watch=svc.watch, broker=svc.broker)
    return render(svc, "dashboard.html", page="dashboard", who=who(caller), **values)


@router.get("/dashboard/panel")
def panel(svc: Svc, caller: PageCaller) -> HTMLResponse:
    values = board.context(sessions=svc.sessions, caller=caller, watch=svc.watch, broker=svc.broker)
    response = render(svc, "panel.html", **values)
    response.headers["Cache-Control"] = "no-store"
    return response
