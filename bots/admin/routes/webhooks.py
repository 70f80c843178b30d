"""Outbound webhooks, their delivery log, and the notices they carry."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bots.admin import urls
from bots.admin.deps import Caller, Svc, scope_of, tenant_row
from bots.admin.keys import Principal
from db import notices
from db.admin import Delivery, Webhook
from db.models import Notice, utcnow

router = APIRouter(prefix="/api", tags=["webhooks"])

KINDS = (
    notices.JOB_COMPLETED,
    notices.JOB_FAILED,
    notices.QUOTA_EXCEEDED,
    notices.ENGINE_UNAVAILABLE,
    notices.ENGINE_RECOVERED,
    notices.FEEDBACK_RECEIVED,
)


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)
    kinds: list[str] = Field(default_factory=list, description=f"any of {', '.join(KINDS)}; empty: all")
    tenant_id: int | None = Field(default=None, description="a global key may leave it out to hear every tenant")


def webhook_view(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "tenant_id": hook.tenant_id,
        "url": hook.url,
        "kinds": hook.kinds,
        "created_at": hook.created_at.isoformat(),
        "disabled": hook.disabled_at is not None,
    }


def delivery_view(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "job_id": row.job_id,
        "kind": row.kind,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "log": row.log,
        "payload": row.payload,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def _webhook(session: Session, caller: Principal, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or not caller.may_see(hook.tenant_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no webhook {webhook_id}")
    return hook


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to notices; its signing secret is shown once")
def create_webhook(body: NewWebhook, svc: Svc, caller: Caller) -> dict[str, Any]:
    unknown = sorted(set(body.kinds) - set(KINDS))
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"unknown kinds {unknown}; use {KINDS}")
    try:
        urls.check(body.url, allow_private=svc.settings.allow_private_urls)
    except urls.UnsafeURL as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"url: {exc}") from None
    tenant_id = scope_of(caller, body.tenant_id)
    with svc.sessions.begin() as session:
        if tenant_id is not None:
            tenant_row(session, caller, tenant_id)
        secret = secrets.token_urlsafe(32)
        hook = Webhook(tenant_id=tenant_id, url=body.url, secret=svc.box.seal(secret), kinds=sorted(set(body.kinds)))
        session.add(hook)
        session.flush()
        return {**webhook_view(hook), "secret": secret}


@router.get("/webhooks", summary="Webhooks you may see")
def list_webhooks(svc: Svc, caller: Caller) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        query = select(Webhook).order_by(Webhook.id)
        if caller.tenant_id is not None:
            query = query.where(Webhook.tenant_id == caller.tenant_id)
        return [webhook_view(h) for h in session.scalars(query)]


@router.delete("/webhooks/{webhook_id}", summary="Stop delivering to a webhook (its log stays)")
def disable_webhook(webhook_id: int, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        hook = _webhook(session, caller, webhook_id)
        hook.disabled_at = hook.disabled_at or utcnow()
        return webhook_view(hook)


Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's delivery log, newest first")
def webhook_deliveries(webhook_id: int, svc: Svc, caller: Caller, limit: Limit = 100) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        _webhook(session, caller, webhook_id)
        rows = session.scalars(
            select(Delivery).where(Delivery.webhook_id == webhook_id).order_by(Delivery.id.desc()).limit(limit)
        )
        return [delivery_view(r) for r in rows]


@router.get("/deliveries", summary="Every delivery you may see (webhooks and job callbacks), newest first")
def deliveries(
    svc: Svc,
    caller: Caller,
    delivery_status: Annotated[str | None, Query(alias="status")] = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if caller.tenant_id is not None:
        query = query.where(Delivery.tenant_id == caller.tenant_id)
    if delivery_status:
        query = query.where(Delivery.status == delivery_status)
    with svc.sessions() as session:
        return [delivery_view(r) for r in session.scalars(query)]


@router.post("/deliveries/{delivery_id}/retry", summary="Send a failed delivery again, with a fresh set of tries")
def retry_delivery(delivery_id: int, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        row = session.get(Delivery, delivery_id)
        if row is None or not caller.may_see(row.tenant_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no delivery {delivery_id}")
        if row.status == "delivered":
            raise HTTPException(status.HTTP_409_CONFLICT, detail="this delivery already succeeded")
        row.status, row.attempts, row.next_attempt_at, row.lease_until = "pending", 0, time.time(), None
        return delivery_view(row)


@router.get("/notices", summary="Recent notices: your tenant's and the engine's")
def list_notices(svc: Svc, caller: Caller, kind: str | None = None, limit: Limit = 100) -> list[dict[str, Any]]:
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if caller.tenant_id is not None:
        query = query.where(or_(Notice.tenant_id == caller.tenant_id, Notice.tenant_id.is_(None)))
    if kind:
        query = query.where(Notice.kind == kind)
    with svc.sessions() as session:
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "tenant_id": n.tenant_id,
                "data": n.data,
                "created_at": n.created_at.isoformat(),
            }
            for n in session.scalars(query)
        ]
