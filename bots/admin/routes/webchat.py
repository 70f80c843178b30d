"""The web chat: a browser page on the same queue, worker, engine and store as every other surface.

The page posts a line, gets the event's key back, and follows the reply bus for that key as
server-sent events. Who is chatting is decided in `bots.admin.chatter`: a random id in an HttpOnly
cookie on the open chat (only for requests from this machine), else the admin key the person signed
in with; each browser's threads are its own, and a stream is only shown to the browser whose message
it answers.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sse_starlette import EventSourceResponse

from bots.admin.answers import answer_events
from bots.admin.chatter import WEB_USER, Chatter, identify, is_open
from bots.admin.deps import Services, Svc
from bots.admin.files import FileIn, read_all
from bots.admin.routes.dashboard import render
from db import conversations
from db.models import Channel, Conversation, Message, ProcessedEvent, Tenant
from workers import feedback, regenerating
from workers.commands import COMMANDS
from workers.documents.convert import Unreadable
from workers.events import Event, Kind, Platform
from workers.intake import HTTP_STATUS, hand_over
from workers.requests import clean, parse, unusable
from workers.skills import SKILLS
from workers.stopping import MESSAGES, Asker, Verdict, ask_to_stop

router = APIRouter(tags=["web chat"], include_in_schema=False)

CHANNEL = "web"
# Answers LLMOS writes itself (commands) take no feedback.
COMMAND_KINDS = frozenset(str(kind) for kind in COMMANDS)
THREAD = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_CHARS = 20_000
TOO_LONG = "This message is {n:,} characters; a message may have {most:,}. Shorten it, or Attach the text as a file."


def chatter(request: Request, svc: Services) -> Chatter | None:
    """Who is chatting: the browser on the open chat, else the key the person signed in with."""
    with svc.sessions.begin() as session:
        return identify(request, svc.settings, session)


def who_is(request: Request, svc: Services) -> Chatter:
    found = chatter(request, svc)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="open /chat first (or sign in) to get a chat identity")
    return found


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/chat", status_code=307)


@router.get("/chat")
def page(request: Request, svc: Svc) -> Response:
    open_chat = is_open(request, svc.settings)
    if not open_chat and chatter(request, svc) is None:
        return RedirectResponse("/login?next=/chat", status_code=303)
    response = render(
        svc,
        "chat.html",
        page="chat",
        who=None,
        timeout=int(svc.settings.chat_reply_timeout_seconds),
        skills=picker_skills(svc.skills),
    )
    if open_chat and chatter(request, svc) is None:
        response.set_cookie(
            WEB_USER, f"web-{secrets.token_urlsafe(18)}", httponly=True, samesite="strict", max_age=365 * 86400
        )
    return response


def picker_skills(plugins: frozenset[str]) -> list[tuple[str, str]]:
    """The skill picker's entries, (name, what it does): the built-in skills, then the plugins' by name."""
    built_in = [(skill.key, skill.summary) for skill in SKILLS.values() if skill.kind is not Kind.ASK]
    return built_in + [(name, "a skill added by a plugin") for name in sorted(plugins)]


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Its length is checked in `send`, to say so in words the page can show.
    text: str = Field(min_length=1)
    thread: str = Field(pattern=THREAD.pattern)
    # Documents sent with the line (the page's Attach button), read like any surface's attachments.
    files: list[FileIn] = Field(default_factory=list, max_length=5)

    @field_validator("text", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        """A lone surrogate (valid JSON, not valid Unicode) becomes U+FFFD instead of refusing the line."""
        return clean(value) if isinstance(value, str) else value


@router.post("/chat/messages")
def send(body: Line, request: Request, svc: Svc) -> JSONResponse:
    # A JSON body cannot be sent cross-site without a CORS preflight, which this service never grants.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
    who = who_is(request, svc)
    if len(body.text) > MAX_CHARS:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=TOO_LONG.format(n=len(body.text), most=MAX_CHARS))
    asked = unusable(parse(body.text, skills=svc.skills))
    try:
        read = read_all(body.files, limits=svc.documents, allow_private=False)
    except Unreadable as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    event = Event(
        platform=Platform.WEB,
        tenant=who.tenant,
        channel=CHANNEL,
        thread=f"{who.browser}:{body.thread}",
        user=who.user,
        message_id=uuid.uuid4().hex,
        text=asked.text,
        kind=asked.kind,
        priority=asked.priority,
        args=asked.args,
        attachments=read.attachments,
        tenant_name=who.tenant_name,
        channel_name="web chat",
        ref=who.ref,
    )
    return _handed(event, svc, notes=read.notes)


def _handed(event: Event, svc: Services, *, notes: tuple[str, ...] = (), replaces: str = "") -> JSONResponse:
    """Hand the event over and tell the page where its answer streams (or why it was not taken)."""
    handed = hand_over(event, sessions=svc.sessions, enqueue=svc.enqueue)
    if handed.retry_after is not None:
        # A limit, not a rule: the browser may ask again once it has passed.
        wait = str(max(1, math.ceil(handed.retry_after)))
        return JSONResponse({"detail": handed.message}, status_code=429, headers={"Retry-After": wait})
    if handed.turned is not None:
        return JSONResponse({"detail": handed.message}, status_code=HTTP_STATUS[handed.turned])
    accepted: dict[str, Any] = {"key": event.key, "stream": f"/chat/stream?key={event.key}", "notes": list(notes)}
    if replaces:
        accepted["replaces"] = replaces
    return JSONResponse(accepted, status_code=202)


class StopAsked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=300)


STOP_STATUS = {
    Verdict.STOPPING: status.HTTP_202_ACCEPTED,
    Verdict.FINISHED: status.HTTP_409_CONFLICT,
    Verdict.NOT_YOURS: status.HTTP_403_FORBIDDEN,
    Verdict.UNKNOWN: status.HTTP_404_NOT_FOUND,
}


@router.post("/chat/stop")
def stop(body: StopAsked, request: Request, svc: Svc) -> JSONResponse:
    """Stop this browser's answer while it streams; the worker keeps what it had said, marked stopped."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
    who = who_is(request, svc)
    if svc.leases is None or _owner(svc, body.key) != who.browser:
        verdict = Verdict.UNKNOWN
    else:
        asker = Asker(platform=who.tenant_platform, tenant=who.tenant, user=who.user)
        verdict = ask_to_stop(svc.sessions, svc.leases, key=body.key, asker=asker)
    return JSONResponse({"detail": MESSAGES[verdict], "verdict": str(verdict)}, status_code=STOP_STATUS[verdict])


REGENERATE_STATUS = {
    regenerating.Verdict.NOT_YOURS: status.HTTP_403_FORBIDDEN,
    regenerating.Verdict.ANSWERING: status.HTTP_409_CONFLICT,
    regenerating.Verdict.NOT_AN_ANSWER: status.HTTP_409_CONFLICT,
    regenerating.Verdict.SUPERSEDED: status.HTTP_409_CONFLICT,
    regenerating.Verdict.REGENERATING: status.HTTP_409_CONFLICT,
    regenerating.Verdict.UNKNOWN: status.HTTP_404_NOT_FOUND,
}


@router.post("/chat/regenerate")
def regenerate(body: StopAsked, request: Request, svc: Svc) -> JSONResponse:
    """Ask one of this browser's answers again; the page follows the new answer in the old one's place."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
    who = who_is(request, svc)
    found: Event | regenerating.Verdict = regenerating.Verdict.UNKNOWN
    if _owner(svc, body.key) == who.browser:
        asker = Asker(platform=who.tenant_platform, tenant=who.tenant, user=who.user)
        found = regenerating.again(svc.sessions, key=body.key, asker=asker, ref=who.ref)
    if not isinstance(found, Event):
        return JSONResponse({"detail": regenerating.MESSAGES[found]}, status_code=REGENERATE_STATUS[found])
    return _handed(found, svc, replaces=body.key)


class Rated(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=300)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)


@router.post("/chat/feedback")
def rate(body: Rated, request: Request, svc: Svc) -> JSONResponse:
    """👍/👎 (and an optional comment) on one of this browser's answers; a second one replaces it."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
    who = who_is(request, svc)
    said = feedback.NO_ANSWER
    if _owner(svc, body.key) == who.browser:
        said = feedback.give(
            svc.sessions,
            platform=who.tenant_platform,
            tenant=who.tenant,
            key=body.key,
            user=who.user,
            rating=feedback.UP if body.rating == "up" else feedback.DOWN,
            comment=clean(body.comment),
        )
    code = status.HTTP_404_NOT_FOUND if said == feedback.NO_ANSWER else status.HTTP_200_OK
    return JSONResponse({"detail": said}, status_code=code)


def _owner(svc: Services, key: str) -> str | None:
    """The browser a web chat answer belongs to."""
    with svc.sessions() as session:
        payload = session.scalar(select(ProcessedEvent.payload).where(ProcessedEvent.key == key))
    if not payload or payload.get("platform") != Platform.WEB:
        return None
    return str((payload.get("ref") or {}).get("browser") or "") or None


@router.get("/chat/stream")
def stream(key: str, request: Request, svc: Svc) -> EventSourceResponse:
    """Server-sent events (sse-starlette), with a comment ping while the answer is slow to start, so
    proxies that close idle connections keep this one open."""
    who = who_is(request, svc)
    if _owner(svc, key) != who.browser:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such answer for you")
    answer = answer_events(svc.bus, svc.sessions, key, idle_timeout=svc.settings.chat_reply_timeout_seconds)
    return EventSourceResponse(answer, ping=svc.settings.chat_ping_seconds, headers={"Cache-Control": "no-store"})


@router.get("/chat/history")
def history(thread: str, request: Request, svc: Svc) -> list[dict[str, str | bool]]:
    who = who_is(request, svc)
    if not THREAD.fullmatch(thread):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="bad thread id")
    with svc.sessions() as session:
        rows = session.execute(
            select(Message.role, Message.kind, Message.content, Message.stopped, Message.event_key)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Channel, Channel.id == Conversation.channel_id)
            .join(Tenant, Tenant.id == Message.tenant_id)
            .where(
                Tenant.platform == who.tenant_platform,
                Tenant.external_id == who.tenant,
                Channel.external_id == CHANNEL,
                Conversation.thread_key == f"{who.browser}:{thread}",
            )
            .where(~Message.superseded)  # a regenerated answer shows as its newest version only
            .order_by(*conversations.turn_order())
        ).all()
    return [_turn(role, kind, content, stopped, key) for role, kind, content, stopped, key in rows]


def _turn(role: str, kind: str, content: str, stopped: bool, key: str) -> dict[str, str | bool]:
    """One message as the page shows it; an answer carries its event key, for its 👍/👎."""
    turn: dict[str, str | bool] = {"role": role, "content": _shown(role, kind, content)}
    if role == "assistant" and kind not in COMMAND_KINDS:
        turn["key"] = key
    if stopped:
        turn["stopped"] = True
    return turn


def _shown(role: str, kind: str, content: str) -> str:
    """What the person typed: commands and skills are stored without their /word, so put it back."""
    if role != "user" or kind == Kind.ASK:
        return content
    return f"/{kind} {content}".strip()
