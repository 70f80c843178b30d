"""The web chat: a browser page on the same queue, worker, engine and store as every other surface.

The page posts a line, gets the event's key back, and follows the reply bus for that key as
server-sent events. Who is chatting is a random id in an HttpOnly cookie (or, when the chat is not
open, the admin key the person signed in with); each person's threads are their own, and a stream
is only shown to the person whose message it answers.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bots.admin import keys
from bots.admin.deps import COOKIE, Services, Svc
from bots.admin.routes.dashboard import render
from bots.core.handover import HTTP_STATUS, hand_over
from db.models import Channel, Conversation, Message, ProcessedEvent, Tenant
from workers.events import Event, Kind, Platform
from workers.replybus import follow
from workers.requests import parse

router = APIRouter(tags=["web chat"], include_in_schema=False)

WEB_USER = "llmos_web_user"
TENANT, CHANNEL = "local", "web"
THREAD = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def chatter(request: Request, svc: Services) -> str | None:
    """Who is chatting: the signed-in key when the chat needs one, else the browser's own id."""
    if not svc.settings.chat_is_open:
        token = request.cookies.get(COOKIE)
        with svc.sessions.begin() as session:
            principal = keys.authenticate(session, token) if token else None
        return f"key-{principal.key_id}" if principal else None
    found = request.cookies.get(WEB_USER, "")
    return found if re.fullmatch(r"web-[A-Za-z0-9_-]{16,64}", found) else None


def _who(request: Request, svc: Services) -> str:
    user = chatter(request, svc)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="open /chat first (or sign in) to get a chat identity")
    return user


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/chat", status_code=307)


@router.get("/chat")
def page(request: Request, svc: Svc) -> Response:
    if not svc.settings.chat_is_open and chatter(request, svc) is None:
        return RedirectResponse("/login?next=/chat", status_code=303)
    response = render(svc, "chat.html", page="chat", who=None, timeout=int(svc.settings.chat_reply_timeout_seconds))
    if svc.settings.chat_is_open and chatter(request, svc) is None:
        response.set_cookie(
            WEB_USER, f"web-{secrets.token_urlsafe(18)}", httponly=True, samesite="strict", max_age=365 * 86400
        )
    return response


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    thread: str = Field(pattern=THREAD.pattern)


@router.post("/chat/messages")
def send(body: Line, request: Request, svc: Svc) -> JSONResponse:
    # A JSON body cannot be sent cross-site without a CORS preflight, which this service never grants.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
    user = _who(request, svc)
    asked = parse(body.text, skills=svc.skills)
    event = Event(
        platform=Platform.WEB,
        tenant=TENANT,
        channel=CHANNEL,
        thread=f"{user}:{body.thread}",
        user=user,
        message_id=uuid.uuid4().hex,
        text=asked.text,
        kind=asked.kind,
        priority=asked.priority,
        args=asked.args,
        tenant_name="this machine",
        channel_name="web chat",
    )
    handed = hand_over(event, sessions=svc.sessions, enqueue=svc.enqueue)
    if handed.turned is not None:
        return JSONResponse({"detail": handed.message}, status_code=HTTP_STATUS[handed.turned])
    return JSONResponse({"key": event.key, "stream": f"/chat/stream?key={event.key}"}, status_code=202)


def _owner(svc: Services, key: str) -> str | None:
    with svc.sessions() as session:
        payload = session.scalar(select(ProcessedEvent.payload).where(ProcessedEvent.key == key))
    if not payload or payload.get("platform") != Platform.WEB:
        return None
    return str(payload.get("user"))


def _sse(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    try:
        for item in items:
            yield f"event: {item.get('type', 'delta')}\ndata: {json.dumps(item)}\n\n"
    except TimeoutError as exc:
        yield f"event: error\ndata: {json.dumps({'type': 'error', 'text': f'No answer came: {exc}.'})}\n\n"


@router.get("/chat/stream")
def stream(key: str, request: Request, svc: Svc) -> StreamingResponse:
    user = _who(request, svc)
    if _owner(svc, key) != user:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such answer for you")
    items = follow(svc.bus, key, idle_timeout=svc.settings.chat_reply_timeout_seconds)
    return StreamingResponse(
        _sse(items), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get("/chat/history")
def history(thread: str, request: Request, svc: Svc) -> list[dict[str, str]]:
    user = _who(request, svc)
    if not THREAD.fullmatch(thread):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="bad thread id")
    with svc.sessions() as session:
        rows = session.execute(
            select(Message.role, Message.kind, Message.content)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Channel, Channel.id == Conversation.channel_id)
            .join(Tenant, Tenant.id == Message.tenant_id)
            .where(
                Tenant.platform == Platform.WEB,
                Tenant.external_id == TENANT,
                Channel.external_id == CHANNEL,
                Conversation.thread_key == f"{user}:{thread}",
            )
            .order_by(Message.id)
        ).all()
    return [{"role": role, "content": _shown(role, kind, content)} for role, kind, content in rows]


def _shown(role: str, kind: str, content: str) -> str:
    """What the person typed: commands and skills are stored without their /word, so put it back."""
    if role != "user" or kind == Kind.ASK:
        return content
    return f"/{kind} {content}".strip()
