"""The one task path: claim the event, build the context, ask the engine, stream into the sink, store.

Exactly once as the user sees it: the event's lease keeps two deliveries from answering at the same
time, the answer message's platform handle is saved as soon as it exists so a redelivery after a
killed worker edits that message rather than posting another, and the answer, its usage and the
`done` mark are committed together.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr
from sqlalchemy.orm import Session

from db import conversations, events, preferences
from db import usage as usage_store
from db.conversations import Turn
from db.directory import Place
from db.events import Status
from engine.base import ChatRequest, EngineBadRequest, EngineError, EngineRateLimited
from engine.salt import cache_salt
from workers import commands, prompt, trim
from workers.events import Event, Kind
from workers.places import place_of
from workers.queues import route_for
from workers.runtime import Runtime
from workers.sinks import ReplySink
from workers.skills import SKILLS, Skill

log = logging.getLogger(__name__)

COMMAND_KINDS = tuple(str(k) for k in commands.COMMANDS)
SOMETHING_WRONG = "Sorry, something went wrong on my side. Your message is saved; please try again."


class Outcome(StrEnum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Busy(Exception):
    """Another live worker holds this event; try again once its lease could have run out."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"event busy for {retry_in:.1f}s")
        self.retry_in = retry_in


class LeaseLost(Exception):
    """Another worker took this event over (ours stalled past the lease); stop without storing."""


def apology(exc: EngineError) -> str:
    if isinstance(exc, EngineRateLimited):
        wait = f"about {exc.retry_after:.0f} s" if exc.retry_after else "a minute"
        return f"Sorry, the language engine is overloaded. Your message is saved; please ask again in {wait}."
    if isinstance(exc, EngineBadRequest):
        return (
            "Sorry, the language engine refused this request. Try a shorter message, "
            "or /forget to start a fresh conversation."
        )
    return "Sorry, the language engine is not answering right now. Your message is saved; please ask again in a minute."


class Lease:
    def __init__(self, runtime: Runtime, key: str, owner: str) -> None:
        self._rt = runtime
        self.key = key
        self.owner = owner
        self._ttl = runtime.settings.event_lease_seconds
        self._renewed = time.monotonic()

    def keep(self) -> None:
        """Renew the lease once a third of it has passed; raise LeaseLost if it was taken over."""
        if time.monotonic() - self._renewed < self._ttl / 3:
            return
        with self._rt.sessions.begin() as session:
            if not events.renew(session, key=self.key, owner=self.owner, ttl=self._ttl):
                raise LeaseLost(self.key)
        self._renewed = time.monotonic()

    def remember_reply(self, reply_ref: str) -> None:
        with self._rt.sessions.begin() as session:
            events.set_reply_ref(session, key=self.key, owner=self.owner, reply_ref=reply_ref)

    def first_token(self) -> None:
        with self._rt.sessions.begin() as session:
            events.first_token(session, key=self.key, owner=self.owner)

    def done(self) -> None:
        with self._rt.sessions.begin() as session:
            events.finish(session, key=self.key, owner=self.owner, status=Status.DONE)

    def fail(self, error: str) -> None:
        with self._rt.sessions.begin() as session:
            events.finish(session, key=self.key, owner=self.owner, status=Status.FAILED, error=error[:2000])


def process(event: Event, runtime: Runtime) -> Outcome:
    owner = f"{runtime.worker_id}:{threading.get_ident()}"
    with runtime.sessions.begin() as session:
        claim = events.claim(session, key=event.key, owner=owner, ttl=runtime.settings.event_lease_seconds)
    if claim.status is None:
        log.error("event %s was never registered by its adapter; dropped", event.key)
        return Outcome.UNKNOWN
    if not claim.owned:
        if claim.status is Status.DONE:
            log.info("event %s already answered; redelivery ignored", event.key)
            return Outcome.DUPLICATE
        raise Busy(claim.retry_in)
    lease = Lease(runtime, event.key, owner)
    sink = runtime.sinks.for_event(event)
    try:
        if claim.status is Status.ANSWERED and _redeliver(event, runtime, sink, lease, claim.reply_ref):
            return Outcome.ANSWERED
        if event.kind in commands.COMMANDS or runtime.skills.for_event(event) is None:
            return _command(event, runtime, sink, lease, claim.reply_ref)
        return _answer(event, runtime, sink, lease, claim.reply_ref)
    except LeaseLost:
        log.warning("event %s was taken over by another worker; this attempt stops", event.key)
        return Outcome.DUPLICATE
    except EngineError as exc:
        log.warning("event %s: engine error: %s", event.key, exc)
        _tell(sink, apology(exc), event)
        lease.fail(str(exc))
        return Outcome.FAILED
    except Exception as exc:
        log.exception("event %s failed", event.key)
        _tell(sink, SOMETHING_WRONG, event)
        lease.fail(f"{type(exc).__name__}: {exc}")
        return Outcome.FAILED


def _redeliver(event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, resume: str | None) -> bool:
    """The answer was stored but the worker died before the platform showed all of it: show it again."""
    with runtime.sessions() as session:
        place = place_of(session, event)
        stored = conversations.find_message(session, tenant_id=place.tenant_id, event_key=event.key, role="assistant")
        session.rollback()
    if stored is None:
        return False
    _show(sink, lease, resume, stored.content)
    lease.done()
    return True


def _tell(sink: ReplySink, message: str, event: Event) -> None:
    try:
        sink.fail(message)
    except Exception:
        log.exception("event %s: could not tell the user about the failure", event.key)


def _command(event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, resume: str | None) -> Outcome:
    models: tuple[str, ...] = ()
    if event.kind is Kind.PREFS and event.args.get("key") == "model":
        models = runtime.engine.health().models
    with runtime.sessions.begin() as session:
        place = place_of(session, event)
        text = commands.run(
            session, kind=event.kind, place=place, args=event.args, models=models, skills=runtime.skills
        )
        if event.kind is Kind.FORGET:
            # Nothing of the person is kept, not even this exchange.
            if not events.finish(session, key=event.key, owner=lease.owner, status=Status.ANSWERED):
                raise LeaseLost(event.key)
        else:
            _record_answer(session, event, lease, place, text=text, model="")
    _show(sink, lease, resume, text)
    lease.done()
    return Outcome.ANSWERED


def _show(sink: ReplySink, lease: Lease, resume: str | None, text: str) -> None:
    ref = sink.start(resume_ref=resume)
    if ref != resume:
        lease.remember_reply(ref)
    sink.finish(text)


@dataclass(frozen=True, slots=True)
class _Context:
    place: Place
    prefs: dict[str, str]
    history: list[Turn]


def _context(event: Event, runtime: Runtime, skill: Skill) -> _Context:
    with runtime.sessions.begin() as session:
        place = place_of(session, event)
        inbound = conversations.find_message(session, tenant_id=place.tenant_id, event_key=event.key, role="user")
        wanted = skill.history or (skill.transcript and not event.context)
        limit = int(event.args.get("n", skill.defaults.get("n", "0"))) if skill.transcript else 0
        history = (
            conversations.history(
                session,
                tenant_id=place.tenant_id,
                conversation_id=place.conversation_id,
                before_id=inbound.id if inbound else None,
                limit=limit or runtime.settings.history_messages,
                exclude_kinds=COMMAND_KINDS,
            )
            if wanted
            else []
        )
        prefs = preferences.effective(
            session, tenant_id=place.tenant_id, channel_id=place.channel_id, user_id=place.user_id
        )
    return _Context(place=place, prefs=prefs, history=history)


def _answer(event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, resume: str | None) -> Outcome:
    settings, engine = runtime.settings, runtime.engine
    ref = sink.start(resume_ref=resume)
    if ref != resume:
        lease.remember_reply(ref)
    skill = runtime.skills.for_event(event) or SKILLS[Kind.ASK]
    ctx = _context(event, runtime, skill)
    model = ctx.prefs.get("model") or engine.default_model
    max_tokens = commands.LENGTHS.get(ctx.prefs.get("length", ""), skill.max_tokens or settings.answer_max_tokens)
    window = engine.context_window(model)
    max_tokens = min(max_tokens, window // 2)
    messages = prompt.build(
        event=event,
        skill=skill,
        base_system=settings.system_prompt,
        prefs=ctx.prefs,
        history=ctx.history,
        vision=prompt.sees_images(model, settings.vision_models),
    )
    fitted = trim.fit(
        messages,
        budget=window - max_tokens,
        count_text=lambda text: engine.count_text(text, model=model),
        count_prompt=lambda kept: engine.count_tokens(kept, model=model),
    )
    if fitted.dropped or fitted.truncated:
        log.info(
            "event %s: trimmed prompt to %d tokens (dropped %d turns, cut=%s)",
            event.key,
            fitted.prompt_tokens,
            fitted.dropped,
            fitted.truncated,
        )
    request = ChatRequest(
        messages=tuple(fitted.messages),
        model=model,
        max_tokens=max_tokens,
        temperature=settings.answer_temperature if skill.temperature is None else skill.temperature,
        priority=route_for(event.priority).engine_priority,
        cache_salt=cache_salt(f"{event.platform}:{event.tenant}", key=_secret(settings.engine_cache_salt_key)),
        user=f"{ctx.place.tenant_id}:{ctx.place.user_id}",
        affinity=f"{ctx.place.tenant_id}:{ctx.place.conversation_id}",
        show_reasoning=ctx.prefs.get("reasoning") == "show",
    )
    parts: list[str] = []
    prompt_tokens = completion_tokens = None
    for chunk in engine.stream(request):
        if chunk.text:
            if not parts:
                lease.first_token()
            parts.append(chunk.text)
            sink.append(chunk.text)
        prompt_tokens = chunk.prompt_tokens or prompt_tokens
        completion_tokens = chunk.completion_tokens or completion_tokens
        lease.keep()
    answer = "".join(parts).strip() or "(The model returned an empty answer. Try rephrasing the question.)"
    if completion_tokens is None:
        completion_tokens = engine.count_text(answer, model=model) if parts else 0
    # Store before the final update: a follow-up sent the moment the answer shows must see it in
    # the history. A crash between the two is mended by `_redeliver` on the next delivery.
    _store(
        event,
        runtime,
        lease,
        ctx.place,
        answer=answer,
        model=model,
        prompt_tokens=prompt_tokens or fitted.prompt_tokens,
        completion_tokens=completion_tokens,
    )
    sink.finish(answer)
    lease.done()
    return Outcome.ANSWERED


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _store(
    event: Event,
    runtime: Runtime,
    lease: Lease,
    place: Place,
    *,
    answer: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> None:
    with runtime.sessions.begin() as session:
        _record_answer(
            session, event, lease, place, text=answer, model=model, tokens=(prompt_tokens, completion_tokens)
        )
        usage_store.record(
            session,
            tenant_id=place.tenant_id,
            user_id=place.user_id,
            event_key=event.key,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )


def _record_answer(
    session: Session,
    event: Event,
    lease: Lease,
    place: Place,
    *,
    text: str,
    model: str,
    tokens: tuple[int, int] = (0, 0),
) -> None:
    """Store the answer and mark the event answered, in the caller's transaction, if we still own it."""
    if not events.finish(session, key=event.key, owner=lease.owner, status=Status.ANSWERED):
        raise LeaseLost(event.key)
    conversations.add_message(
        session,
        tenant_id=place.tenant_id,
        conversation_id=place.conversation_id,
        user_id=place.user_id,
        event_key=event.key,
        role="assistant",
        content=text,
        kind=str(event.kind),
        model=model,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
    )
