"""Tenant and channel preferences, system prompts included (key `system_prompt`).

The same keys people set for themselves with /prefs (persona, language, model, length), checked the
same way, plus the system prompt, which only admins set. Channels are named by the platform's own
id (a Slack channel id, a Discord channel id), so a prompt can be set before anyone speaks there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.admin.deps import Caller, Svc, tenant_row
from db import directory, preferences
from db.models import Channel
from db.preferences import Scope
from workers.commands import PREF_KEYS

router = APIRouter(prefix="/api/tenants/{tenant_id}", tags=["preferences"])

SYSTEM_PROMPT = "system_prompt"
SYSTEM_PROMPT_MAX = 4000
KEYS = (*PREF_KEYS, SYSTEM_PROMPT)
Key = Annotated[str, Path(description=f"one of: {', '.join(KEYS)}")]


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=SYSTEM_PROMPT_MAX)


def _checked(key: str, value: str, models: tuple[str, ...]) -> str:
    if key == SYSTEM_PROMPT:
        return value.strip()
    spec = PREF_KEYS.get(key)
    if spec is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"unknown key {key!r}; use one of {KEYS}")
    cleaned = value.strip().lower() if key == "length" else value.strip()
    problem = spec.check(cleaned, models)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"cannot set {key} to {value!r}: {problem}")
    return cleaned


def _channel(session: Session, tenant_id: int, external_id: str, *, create: bool) -> Channel:
    if create:
        row = directory.channel(session, tenant_id=tenant_id, external_id=external_id)
        session.flush()
        return row
    found = session.scalars(
        select(Channel).where(Channel.tenant_id == tenant_id, Channel.external_id == external_id)
    ).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no channel {external_id!r} in this tenant")
    return found


@router.get("/preferences", summary="The tenant's preferences")
def tenant_prefs(tenant_id: int, svc: Svc, caller: Caller) -> dict[str, str]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.TENANT)


@router.put("/preferences/{key}", summary="Set a tenant preference or the tenant's system prompt")
def set_tenant_pref(tenant_id: int, key: Key, body: Value, svc: Svc, caller: Caller) -> dict[str, str]:
    value = _checked(key, body.value, svc.watch.latest().models)
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        preferences.set_value(session, tenant_id=tenant_id, scope=Scope.TENANT, key=key, value=value)
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.TENANT)


@router.delete("/preferences/{key}", summary="Remove a tenant preference")
def unset_tenant_pref(tenant_id: int, key: Key, svc: Svc, caller: Caller) -> dict[str, str]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        if not preferences.unset(session, tenant_id=tenant_id, scope=Scope.TENANT, key=key):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tenant preference {key!r}")
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.TENANT)


@router.get("/channels", summary="The tenant's channels with their preferences")
def channels(tenant_id: int, svc: Svc, caller: Caller) -> list[dict[str, object]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        rows = session.scalars(select(Channel).where(Channel.tenant_id == tenant_id).order_by(Channel.id))
        return [
            {
                "channel": c.external_id,
                "name": c.name,
                "preferences": preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=c.id),
            }
            for c in rows
        ]


@router.get("/channels/{channel}/preferences", summary="A channel's preferences")
def channel_prefs(tenant_id: int, channel: str, svc: Svc, caller: Caller) -> dict[str, str]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        row = _channel(session, tenant_id, channel, create=False)
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id)


@router.put("/channels/{channel}/preferences/{key}", summary="Set a channel preference or its system prompt")
def set_channel_pref(
    *, tenant_id: int, channel: str, key: Key, body: Value, svc: Svc, caller: Caller
) -> dict[str, str]:
    value = _checked(key, body.value, svc.watch.latest().models)
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        row = _channel(session, tenant_id, channel, create=True)
        preferences.set_value(
            session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id, key=key, value=value
        )
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id)


@router.delete("/channels/{channel}/preferences/{key}", summary="Remove a channel preference")
def unset_channel_pref(tenant_id: int, channel: str, key: Key, svc: Svc, caller: Caller) -> dict[str, str]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        row = _channel(session, tenant_id, channel, create=False)
        if not preferences.unset(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id, key=key):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no preference {key!r} on channel {channel!r}")
        return preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id)
