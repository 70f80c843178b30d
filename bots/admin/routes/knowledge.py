"""A tenant's knowledge over the API: add a document for the whole tenant or one channel, list, remove.

The same store and chunking as `/learn` on a surface; a document added with no channel is retrieved in
every channel of the tenant. Keys see only their own tenant (`tenant_row`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.admin.deps import Caller, Services, Svc, tenant_row
from bots.admin.files import FileIn, read_all
from bots.admin.keys import Principal
from db import directory, knowledge
from db.models import Channel, KnowledgeDocument
from workers.documents.convert import Unreadable
from workers.documents.learning import learn_text

router = APIRouter(prefix="/api/tenants/{tenant_id}", tags=["knowledge"])
ChannelId = Field(default=None, max_length=128, description="the platform's channel id; none: the whole tenant")


class NewDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: FileIn
    channel: str | None = ChannelId


def _channel_id(session: Session, tenant_id: int, channel: str | None, *, create: bool) -> int | None:
    if channel is None:
        return None
    if create:
        row = directory.channel(session, tenant_id=tenant_id, external_id=channel)
        session.flush()
        return row.id
    found = session.scalar(select(Channel.id).where(Channel.tenant_id == tenant_id, Channel.external_id == channel))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no channel {channel!r} in tenant {tenant_id}")
    return int(found)


def _view(row: KnowledgeDocument, channels: dict[int, str]) -> dict[str, Any]:
    return {
        "name": row.name,
        "channel": channels.get(row.channel_id) if row.channel_id is not None else None,
        "characters": row.chars,
        "sha256": row.sha256,
        "added_by": row.added_by,
        "created_at": row.created_at.isoformat(),
    }


@router.post("/knowledge", status_code=status.HTTP_201_CREATED, summary="Add a document to the tenant's knowledge")
async def add_document(tenant_id: int, body: NewDocument, svc: Svc, caller: Caller) -> dict[str, Any]:
    return await run_in_threadpool(_add, tenant_id, body, svc, caller)


def _add(tenant_id: int, body: NewDocument, svc: Services, caller: Principal) -> dict[str, Any]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
    try:
        read = read_all([body.file], limits=svc.documents, allow_private=svc.settings.allow_private_urls)
    except Unreadable as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    with svc.sessions.begin() as session:
        channel_id = _channel_id(session, tenant_id, body.channel, create=True)
        learned = learn_text(
            session,
            tenant_id=tenant_id,
            channel_id=channel_id,
            name=body.file.name,
            text=read.attachments[0].text or "",
            added_by=f"admin key {caller.key_id}" if caller.key_id else "admin",
            embedder=svc.embedder,
        )
    return {
        "name": learned.name,
        "channel": body.channel,
        "passages": learned.chunks,
        "replaced": learned.replaced,
        # True or False with an embeddings endpoint (False: it failed, the passages are found by words only).
        "vectors": learned.embedded,
        "notes": list(read.notes),
    }


@router.get("/knowledge", summary="The tenant's documents (with a channel: what that channel is answered from)")
def list_documents(
    tenant_id: int, svc: Svc, caller: Caller, channel: str | None = Query(None, max_length=128)
) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        query = select(KnowledgeDocument).where(KnowledgeDocument.tenant_id == tenant_id)
        if channel is not None:
            rows = knowledge.listed(
                session, tenant_id=tenant_id, channel_id=_channel_id(session, tenant_id, channel, create=False)
            )
        else:
            rows = list(session.scalars(query.order_by(KnowledgeDocument.name, KnowledgeDocument.id)))
        names = dict(
            session.execute(select(Channel.id, Channel.external_id).where(Channel.tenant_id == tenant_id)).all()
        )
        return [_view(row, names) for row in rows]


@router.delete("/knowledge/{name}", summary="Remove a document (the tenant's, or with a channel, that channel's)")
def remove_document(
    tenant_id: int, name: str, svc: Svc, caller: Caller, channel: str | None = Query(None, max_length=128)
) -> dict[str, Any]:
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        channel_id = _channel_id(session, tenant_id, channel, create=False)
        gone = knowledge.forget(session, tenant_id=tenant_id, channel_id=channel_id, name=name)
    if not gone:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no document {name!r} there")
    return {"removed": name, "channel": channel}
