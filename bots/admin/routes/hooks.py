"""Inbound hooks: registering them (admin key), taking signed jobs in, and reading jobs back.

`POST /hooks/{id}/jobs` is not behind an admin key but behind the hook's own secret: the signature is
checked on the raw body before anything is parsed or stored, so an unsigned, badly signed or stale
request gets 401 and changes nothing. `GET /hooks/{id}/jobs/{job}` is signed the same way, with the
request path standing in for the body.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from bots.admin import jobstore, signing, urls
from bots.admin.deps import Caller, Svc, tenant_row
from bots.admin.files import read_all
from bots.admin.jobs import JobRequest
from bots.admin.sealing import SecretUnreadable
from db.admin import InboundHook
from db.models import Tenant, utcnow
from workers.documents.convert import Unreadable
from workers.events import Platform

log = logging.getLogger(__name__)
router = APIRouter(tags=["hooks and jobs"])

Timestamp = Annotated[str | None, Header(alias=signing.TIMESTAMP_HEADER)]
Signature = Annotated[str | None, Header(alias=signing.SIGNATURE_HEADER)]


class NewHook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


@router.post("/api/tenants/{tenant_id}/hooks", status_code=201, summary="Register a hook; its secret is shown once")
def create_hook(tenant_id: int, body: NewHook, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        if any(h.name == body.name for h in jobstore.hooks_of(session, tenant_id=tenant_id)):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"this tenant already has a hook named {body.name!r}")
        hook, secret = jobstore.create_hook(session, tenant_id=tenant_id, name=body.name, box=svc.box)
        return {**jobstore.hook_view(hook), "secret": secret}


@router.get("/api/tenants/{tenant_id}/hooks", summary="A tenant's hooks")
def list_hooks(tenant_id: int, svc: Svc, caller: Caller) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        return [jobstore.hook_view(h) for h in jobstore.hooks_of(session, tenant_id=tenant_id)]


@router.delete("/api/tenants/{tenant_id}/hooks/{hook_id}", summary="Disable a hook (its jobs stay readable)")
def disable_hook(tenant_id: int, hook_id: int, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        hook = session.get(InboundHook, hook_id)
        if hook is None or hook.tenant_id != tenant_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no hook {hook_id} in tenant {tenant_id}")
        hook.disabled_at = hook.disabled_at or utcnow()
        return jobstore.hook_view(hook)


def _verified_hook(svc: Svc, hook_id: int, headers: Mapping[str, str], body: bytes) -> InboundHook:
    """The hook, if the request is signed with its secret in either scheme (signing.py)."""
    with svc.sessions() as session:
        hook = jobstore.active_hook(session, hook_id=hook_id)
    if hook is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no active hook {hook_id}")
    try:
        secret = svc.box.open(hook.secret)
    except SecretUnreadable:
        log.error("hook %d: its secret does not open with ADMIN_SECRET_KEY", hook.id)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="this hook cannot check signatures now"
        ) from None
    try:
        signing.verify_request(secret, headers, body, window=svc.settings.signature_window_seconds)
    except signing.BadSignature as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from None
    return hook


def _check_destination(svc: Svc, job: JobRequest, hook: InboundHook) -> None:
    dest = job.destination
    if dest.type == "callback":
        try:
            urls.check(str(dest.url), allow_private=svc.settings.allow_private_urls)
        except urls.UnsafeURL as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"destination.url: {exc}") from None
        return
    with svc.sessions() as session:
        tenant = session.get(Tenant, hook.tenant_id)
    if tenant is None or tenant.platform != Platform(dest.type):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"a {dest.type} destination must be a channel of this hook's own {dest.type} tenant",
        )
    refusal = destination_refusal(svc, tenant.external_id, dest.model_dump(exclude_none=True))
    if refusal:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"destination: {refusal}")


def destination_refusal(svc: Svc, tenant: str, destination: dict[str, Any]) -> str | None:
    """Ask the platform whether the channel is the tenant's; where this process cannot ask, the worker
    asks again before it sends anything (and fails the job instead)."""
    if svc.destinations is None:
        return None
    try:
        return svc.destinations.refusal(tenant=tenant, destination=destination)
    except Exception as exc:
        log.warning("job destination not checked at intake (%s); the worker checks it", type(exc).__name__)
        return None


@router.post(
    "/hooks/{hook_id}/jobs",
    status_code=202,
    summary="Submit a signed job",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}},
        }
    },
    responses={401: {"description": "unsigned, badly signed or stale"}, 409: {"description": "job id reused"}},
)
async def submit_job(
    request: Request, hook_id: int, svc: Svc, timestamp: Timestamp = None, signature: Signature = None
) -> JSONResponse:
    # `timestamp` and `signature` describe the v1 headers in the OpenAPI document; the check reads
    # them, or the Standard Webhooks ones, from request.headers.
    body = await request.body()
    return await run_in_threadpool(_take, svc, hook_id, request.headers, body)


def _take(svc: Svc, hook_id: int, headers: Mapping[str, str], body: bytes) -> JSONResponse:
    hook = _verified_hook(svc, hook_id, headers, body)
    try:
        job = JobRequest.model_validate_json(body, context={"skills": svc.skills})
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)
    _check_destination(svc, job, hook)
    try:
        read = read_all(job.files, limits=svc.documents, allow_private=svc.settings.allow_private_urls)
    except Unreadable as exc:
        return JSONResponse({"detail": [{"loc": ["body", "files"], "msg": str(exc)}]}, status_code=422)
    signature = headers.get(signing.STANDARD_SIGNATURE) or headers.get(signing.SIGNATURE_HEADER) or ""
    job_id = job.id or "sig-" + hashlib.sha256(signature.encode()).hexdigest()[:24]
    taken = jobstore.take(
        job, job_id=job_id, hook=hook, sessions=svc.sessions, enqueue=svc.enqueue, attachments=read.attachments
    )
    # What a document limit left out is told to the caller with the job.
    return JSONResponse({**taken.body, "notes": list(read.notes)} if read.notes else taken.body, taken.status)


@router.get("/hooks/{hook_id}/jobs/{job_id}", summary="Read a job back, signed (the path is the signed body)")
def read_job(
    *, request: Request, hook_id: int, job_id: str, svc: Svc, timestamp: Timestamp = None, signature: Signature = None
) -> dict[str, Any]:
    hook = _verified_hook(svc, hook_id, request.headers, request.url.path.encode())
    with svc.sessions() as session:
        job = jobstore.find(session, tenant_id=hook.tenant_id, job_id=job_id)
        if job is None or job.hook_id != hook.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id!r} from this hook")
        return jobstore.view(session, job)
