"""Tenants, their allow/block lists and their limits.

A tenant-scoped key manages its own tenant's access rules but only reads its limits: quotas are the
operator's to set (global key), or a tenant could lift its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bots.admin.deps import Caller, GlobalCaller, Svc, tenant_row
from db import access, limits
from db.models import Channel, Tenant, User
from workers.events import Platform

router = APIRouter(prefix="/api/tenants", tags=["tenants"])


def tenant_view(session: Session, tenant: Tenant) -> dict[str, Any]:
    users = session.scalar(select(func.count(User.id)).where(User.tenant_id == tenant.id))
    channels = session.scalar(select(func.count(Channel.id)).where(Channel.tenant_id == tenant.id))
    return {
        "id": tenant.id,
        "platform": tenant.platform,
        "external_id": tenant.external_id,
        "name": tenant.name,
        "created_at": tenant.created_at.isoformat(),
        "users": int(users or 0),
        "channels": int(channels or 0),
    }


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: Platform = Platform.ADMIN
    external_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    name: str = Field(default="", max_length=256)


class TenantChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=256)


@router.get("", summary="Tenants you may see")
def list_tenants(svc: Svc, caller: Caller) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        query = select(Tenant).order_by(Tenant.id)
        if caller.tenant_id is not None:
            query = query.where(Tenant.id == caller.tenant_id)
        return [tenant_view(session, t) for t in session.scalars(query)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a tenant (global key)")
def create_tenant(body: NewTenant, svc: Svc, _caller: GlobalCaller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        found = session.scalars(
            select(Tenant).where(Tenant.platform == body.platform, Tenant.external_id == body.external_id)
        ).first()
        if found is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"tenant {body.platform}:{body.external_id} exists")
        tenant = Tenant(platform=str(body.platform), external_id=body.external_id, name=body.name)
        session.add(tenant)
        session.flush()
        return tenant_view(session, tenant)


@router.get("/{tenant_id}", summary="One tenant")
def get_tenant(tenant_id: int, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions() as session:
        return tenant_view(session, tenant_row(session, caller, tenant_id))


@router.patch("/{tenant_id}", summary="Rename a tenant")
def rename_tenant(tenant_id: int, body: TenantChange, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        tenant = tenant_row(session, caller, tenant_id)
        tenant.name = body.name
        return tenant_view(session, tenant)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_type: access.Subject
    subject: str = Field(min_length=1, max_length=128, description="the platform's own id of the user/role/channel")
    effect: access.Effect


@router.get("/{tenant_id}/access", summary="Allow and block rules")
def list_rules(tenant_id: int, svc: Svc, caller: Caller) -> list[dict[str, str]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        rules = access.rules(session, tenant_id=tenant_id)
        return [{"subject_type": str(t), "subject": s, "effect": str(e)} for t, s, e in rules]


@router.put("/{tenant_id}/access", summary="Allow or block one user, role or channel")
def set_rule(tenant_id: int, body: Rule, svc: Svc, caller: Caller) -> dict[str, str]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        access.set_rule(
            session, tenant_id=tenant_id, subject_type=body.subject_type, subject=body.subject, effect=body.effect
        )
    return {"subject_type": str(body.subject_type), "subject": body.subject, "effect": str(body.effect)}


@router.delete("/{tenant_id}/access/{subject_type}/{subject}", summary="Remove a rule")
def remove_rule(
    tenant_id: int, subject_type: access.Subject, subject: str, svc: Svc, caller: Caller
) -> dict[str, bool]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        removed = access.remove_rule(session, tenant_id=tenant_id, subject_type=subject_type, subject=subject)
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no rule for {subject_type} {subject}")
    return {"removed": True}


INT32_MAX = 2**31 - 1


class Limits(BaseModel):
    """Only the fields sent change; an explicit null goes back to the deployment's default."""

    model_config = ConfigDict(extra="forbid")
    # Bounded by the 32-bit columns that hold them.
    user_requests_per_minute: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tenant_tokens_per_day: int | None = Field(default=None, ge=1, le=INT32_MAX)
    weight: float | None = Field(default=None, gt=0, le=1000, allow_inf_nan=False)


def _limits_view(session: Session, tenant_id: int) -> dict[str, Any]:
    row = limits.get(session, tenant_id=tenant_id)
    values: dict[str, Any] = {name: getattr(row, name) if row else None for name in limits.FIELDS}
    if row is None:
        values["weight"] = 1.0
    return {"tenant_id": tenant_id, **values}


@router.get("/{tenant_id}/limits", summary="Quota, rate limit and fair-share weight")
def get_limits(tenant_id: int, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        return _limits_view(session, tenant_id)


@router.put("/{tenant_id}/limits", summary="Change limits (global key)")
def set_limits(tenant_id: int, body: Limits, svc: Svc, caller: GlobalCaller) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        limits.update(session, tenant_id=tenant_id, changes={k: getattr(body, k) for k in body.model_fields_set})
        session.flush()
        return _limits_view(session, tenant_id)
