"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from bots.admin.deps import Bearer, GlobalCaller, Svc, authenticate
from bots.admin.health import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The service is up (no dependency is checked)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready only when the database, the broker and the engine answer; details for a global key only",
)
def readyz(svc: Svc, credentials: Bearer) -> JSONResponse:
    checks = readiness(sessions=svc.sessions, broker=svc.broker, watch=svc.watch)
    ready = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"ready": ready}
    # Which check failed and why names internal addresses and errors: not for whoever asks.
    caller = authenticate(svc, credentials.credentials if credentials else None)
    if caller is not None and caller.is_global:
        body["checks"] = checks
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics: queue depth and wait, time to first token, end-to-end latency, tokens, errors",
    response_class=Response,
)
def metrics(svc: Svc, _caller: GlobalCaller) -> Response:
    return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
