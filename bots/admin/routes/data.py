"""People's data: who is there, what they used, their conversations as JSONL, and deleting them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bots.admin import erase
from bots.admin.deps import Caller, Svc, scope_of, tenant_row
from db import export as exported
from db.models import Message, Usage, User

router = APIRouter(prefix="/api", tags=["data"])


@router.get("/tenants/{tenant_id}/users", summary="People LLMOS has seen in a tenant")
def users(
    tenant_id: int, svc: Svc, caller: Caller, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)
) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        counted = (
            select(User, func.count(Message.id))
            .outerjoin(Message, (Message.user_id == User.id) & (Message.role == "user"))
            .where(User.tenant_id == tenant_id)
            .group_by(User.id)
            .order_by(User.id)
            .limit(limit)
            .offset(offset)
        )
        return [
            {"user": u.external_id, "name": u.display_name, "messages": int(n), "created_at": u.created_at.isoformat()}
            for u, n in session.execute(counted).all()
        ]


def _usage_rows(
    svc: Svc, scope: int | None, since: date | None, until: date | None
) -> list[tuple[int, str | None, date, int, int, int]]:
    """(tenant, user, day, requests, prompt tokens, completion tokens), oldest day first."""
    query = (
        select(
            Usage.tenant_id,
            User.external_id,
            Usage.day,
            func.count(Usage.id),
            func.coalesce(func.sum(Usage.prompt_tokens), 0),
            func.coalesce(func.sum(Usage.completion_tokens), 0),
        )
        .outerjoin(User, User.id == Usage.user_id)
        .group_by(Usage.tenant_id, User.external_id, Usage.day)
        .order_by(Usage.day, Usage.tenant_id, User.external_id)
    )
    if scope is not None:
        query = query.where(Usage.tenant_id == scope)
    if since is not None:
        query = query.where(Usage.day >= since)
    if until is not None:
        query = query.where(Usage.day <= until)
    with svc.sessions() as session:
        return [(int(t), u, d, int(n), int(p), int(c)) for t, u, d, n, p, c in session.execute(query).all()]


@router.get("/usage", summary="Tokens and requests per tenant, user and day")
def usage(
    svc: Svc,
    caller: Caller,
    tenant_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    found = _usage_rows(svc, scope_of(caller, tenant_id), since, until)
    rows: list[dict[str, Any]] = []
    totals: dict[int, list[int]] = {}
    for tenant, user, day, requests, prompt, completion in found:
        # `user` is None once the person's data was deleted: the tokens stay counted, without a name.
        rows.append(
            {
                "tenant_id": tenant,
                "user": user,
                "day": day.isoformat(),
                "requests": requests,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        )
        total = totals.setdefault(tenant, [0, 0, 0])
        total[0], total[1], total[2] = total[0] + requests, total[1] + prompt, total[2] + completion
    tenants = [
        {"tenant_id": t, "requests": r, "prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        for t, (r, p, c) in sorted(totals.items())
    ]
    return {"rows": rows, "tenants": tenants}


def _lines(sessions: sessionmaker[Session], tenant_id: int, user_id: int | None) -> Iterator[str]:
    """The messages, what people asked the assistant to remember, and their ratings, one JSON line each."""
    with sessions() as session:
        for record in exported.messages(session, tenant_id=tenant_id, user_id=user_id):
            yield exported.line(record)
        for record in exported.memories(session, tenant_id=tenant_id, user_id=user_id):
            yield exported.line(record)
        for record in exported.feedback(session, tenant_id=tenant_id, user_id=user_id):
            yield exported.line(record)


@router.get(
    "/tenants/{tenant_id}/export",
    summary="A tenant's conversations, or one person's (user=...), as JSON Lines",
    response_class=StreamingResponse,
)
def export(tenant_id: int, svc: Svc, caller: Caller, user: str | None = None) -> StreamingResponse:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        user_id = None
        if user is not None:
            user_id = _user(session, tenant_id, user).id
    name = f"llmos-tenant{tenant_id}" + (f"-{user_id}" if user_id else "") + ".jsonl"
    return StreamingResponse(
        _lines(svc.sessions, tenant_id, user_id),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _user(session: Session, tenant_id: int, external_id: str) -> User:
    found = session.scalars(select(User).where(User.tenant_id == tenant_id, User.external_id == external_id)).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {external_id!r} in tenant {tenant_id}")
    return found


@router.delete("/tenants/{tenant_id}/users/{user}", summary="Delete everything LLMOS holds about one person")
def delete_user(tenant_id: int, user: str, svc: Svc, caller: Caller) -> dict[str, int]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        person = _user(session, tenant_id, user)
        gone = erase.person(session, tenant_id=tenant_id, user=person)
    svc.broker.forget_streams(gone.event_keys)
    return {
        "conversations": gone.conversations,
        "messages": gone.messages,
        "preferences": gone.preferences,
        "memories": gone.memories,
        "events_scrubbed": len(gone.event_keys),
    }
