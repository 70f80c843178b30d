"""The web chat's list of conversations: this browser's threads, newest first, and deleting one.

Names given to a conversation stay in the browser (they are the person's labels, not data LLMOS
needs); the list itself comes from the store, so it survives a cleared browser storage as long as the
identity cookie does.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bots.admin.chatter import Chatter
from bots.admin.deps import Svc
from bots.admin.routes.webchat import CHANNEL, THREAD, who_is
from db.models import Channel, Conversation, Message, Tenant

router = APIRouter(tags=["web chat"], include_in_schema=False)

LISTED = 100
TITLE_CHARS = 60


def _mine(chatter: Chatter) -> list[ColumnElement[bool]]:
    """Conditions on Conversation that keep to this browser's web chat threads in its tenant."""
    return [
        Tenant.platform == chatter.tenant_platform,
        Tenant.external_id == chatter.tenant,
        Channel.external_id == CHANNEL,
        Conversation.thread_key.startswith(f"{chatter.browser}:", autoescape=True),
    ]


def _conversations(session: Session, chatter: Chatter) -> list[tuple[Conversation, str | None]]:
    first_question = (
        select(Message.content)
        .where(Message.conversation_id == Conversation.id, Message.role == "user")
        .order_by(Message.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Conversation, first_question)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Tenant, Tenant.id == Conversation.tenant_id)
        .where(*_mine(chatter))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(LISTED)
    ).all()
    return [(conversation, question) for conversation, question in rows]


@router.get("/chat/threads")
def threads(request: Request, svc: Svc) -> list[dict[str, str]]:
    chatter = who_is(request, svc)
    with svc.sessions() as session:
        found = _conversations(session, chatter)
    prefix = f"{chatter.browser}:"
    return [
        {
            "thread": conversation.thread_key.removeprefix(prefix),
            "title": " ".join((question or "").split())[:TITLE_CHARS] or "New conversation",
            "updated": conversation.updated_at.isoformat(),
        }
        for conversation, question in found
    ]


@router.delete("/chat/threads/{thread}")
def delete_thread(thread: str, request: Request, svc: Svc) -> dict[str, int]:
    """Delete one of this browser's conversations with its messages (and their feedback)."""
    chatter = who_is(request, svc)
    if not THREAD.fullmatch(thread):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="bad thread id")
    with svc.sessions.begin() as session:
        conversation = session.scalar(
            select(Conversation)
            .join(Channel, Channel.id == Conversation.channel_id)
            .join(Tenant, Tenant.id == Conversation.tenant_id)
            .where(*_mine(chatter), Conversation.thread_key == f"{chatter.browser}:{thread}")
        )
        if conversation is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such conversation of yours")
        messages = len(conversation.messages)
        session.delete(conversation)
    return {"messages": messages}
