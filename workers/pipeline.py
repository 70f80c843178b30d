"""The one task path: claim the event, build the context, ask the engine, stream into the sink, store.

Exactly once as the user sees it. A worker first takes the event's lease (`workers.leases`; a second
delivery of a live event waits), then claims it in the ledger in the same transaction that loads its
context, which counts the attempt and makes its number the fence. The answer message's handle is kept
beside the lease, so an attempt that takes over after a killed worker edits that message rather than
posting another; the answer, its usage and `done` are committed together, and only by the attempt
that still holds the event. An event whose attempts all died is failed and its person told, once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db import conversations, events
from db.directory import Place
from db.events import Claimed, Failure, Status
from engine.base import EngineBadRequest, EngineError, EngineRateLimited, EngineUnavailable
from workers import answer, commands
from workers.answer import Lease, LeaseLost
from workers.events import Event, Kind
from workers.guides import guide_for
from workers.runtime import Runtime
from workers.sinks import ReplySink

log = logging.getLogger(__name__)

SOMETHING_WRONG = "Sorry, something went wrong on my side; please ask again."
POISONED = "Sorry, I could not answer this message: every attempt failed. Please rephrase it or ask again later."


class Outcome(StrEnum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    # The engine was unreachable: the reconciler sends the event again once it answers.
    DEFERRED = "deferred"
    # The database failed mid-way: the event stays open and the reconciler takes it over.
    INTERRUPTED = "interrupted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    # Prompt plus answer tokens this attempt used at the engine (the scheduler charges its tenant).
    tokens: int = 0


class Busy(Exception):
    """Another live worker holds this event; try again once its lease could have run out."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"event busy for {retry_in:.1f}s")
        self.retry_in = retry_in


def apology(exc: EngineError, *, resend_minutes: float) -> str:
    if isinstance(exc, EngineRateLimited):
        wait = f"about {exc.retry_after:.0f} s" if exc.retry_after else "a minute"
        return f"Sorry, the language engine is overloaded. Please ask again in {wait}."
    if isinstance(exc, EngineBadRequest):
        return (
            "Sorry, the language engine refused this request. Try a shorter message, "
            "or /forget to start a fresh conversation."
        )
    return (
        "Sorry, the language engine is not answering right now. Your message is saved: I will answer here "
        f"as soon as it is back (if that is within {resend_minutes:.0f} min; otherwise I will tell you)."
    )


def process(key: str, runtime: Runtime) -> Result:
    owner = f"{runtime.worker_id}:{threading.get_ident()}"
    taken = runtime.leases.acquire(key, owner, ttl=runtime.keeper.ttl)
    if taken.wait is not None:
        raise Busy(taken.wait)
    runtime.keeper.hold(key, owner)
    lease = Lease(runtime, key, owner, resume=taken.reply)
    try:
        return _claimed(key, runtime, lease)
    finally:
        runtime.keeper.drop(key)


def _claimed(key: str, runtime: Runtime, lease: Lease) -> Result:
    with runtime.sessions.begin() as session:
        answer.fast_commit(session)
        claim = events.claim(session, key=key, owner=lease.owner, max_attempts=runtime.settings.event_max_attempts)
        if isinstance(claim, Claimed):
            event = Event.from_dict(claim.payload)
            place = _place(session, event, claim)
            # A command, or a plugin skill this worker lacks (answered with the help and the reason).
            command = event.kind in commands.COMMANDS or runtime.skills.for_event(event) is None
            ctx = None if command else answer.load_context(session, event, place, runtime)
    if not isinstance(claim, Claimed):
        result = _unclaimed(key, claim, runtime, lease)
        # A failed event keeps its apology's handle: its answer, if sent later, replaces the apology.
        lease.release(keep_reply=claim.status is Status.FAILED)
        return result
    lease.fence = claim.fence
    if lease.resume is None and event.regenerates and event.args.get("replaces"):
        # Regenerate: the new answer is streamed into the old answer's message where the platform can edit it.
        lease.resume = event.args["replaces"]
    sink = runtime.sinks.for_event(event)
    try:
        if ctx is None:
            return _command(event, runtime, sink, lease, place)
        tokens = answer.answer(event, runtime, sink, lease, answer.with_passages(event, runtime, ctx))
        return Result(Outcome.ANSWERED, tokens)
    except LeaseLost:
        log.warning("event %s was taken over by another attempt; this one stops", key)
        return Result(Outcome.DUPLICATE)
    except EngineError as exc:
        log.warning("event %s: engine error: %s", key, exc)
        retried = isinstance(exc, EngineUnavailable) and not isinstance(exc, EngineRateLimited)
        _tell(sink, apology(exc, resend_minutes=runtime.settings.engine_resend_within / 60), key)
        failure = Failure.ENGINE if retried else Failure.ERROR
        return _failed(runtime, lease, failure, str(exc), Outcome.DEFERRED if retried else Outcome.FAILED)
    except DBAPIError:
        # The database went away mid-answer: nothing is lost. The event stays open in the ledger, and
        # once this lease lapses the reconciler hands it to a new attempt, which resumes this message.
        log.exception("event %s: database error; it will be taken over", key)
        lease.release(keep_reply=True)
        return Result(Outcome.INTERRUPTED)
    except Exception as exc:
        log.exception("event %s failed", key)
        _tell(sink, SOMETHING_WRONG, key)
        return _failed(runtime, lease, Failure.ERROR, f"{type(exc).__name__}: {exc}", Outcome.FAILED)


def _place(session: Session, event: Event, claim: Claimed) -> Place:
    if claim.conversation_id and claim.user_id and claim.channel_id:
        return Place(
            tenant_id=claim.tenant_id,
            user_id=claim.user_id,
            channel_id=claim.channel_id,
            conversation_id=claim.conversation_id,
        )
    from workers.places import place_of  # events registered before the ledger kept the ids

    return place_of(session, event)


def _failed(runtime: Runtime, lease: Lease, failure: Failure, error: str, outcome: Outcome) -> Result:
    try:
        with runtime.sessions.begin() as session:
            events.fail(session, key=lease.key, fence=lease.fence, failure=failure, error=error, reply_ref=lease.ref)
    except DBAPIError:
        log.exception("event %s: could not record the failure; it will be taken over", lease.key)
        outcome = Outcome.INTERRUPTED
    lease.release(keep_reply=True)
    return Result(outcome)


def _unclaimed(key: str, claim: events.NotClaimed, runtime: Runtime, lease: Lease) -> Result:
    if claim.status is None:
        log.error("event %s was never registered by its adapter; dropped", key)
        return Result(Outcome.UNKNOWN)
    if claim.poisoned and claim.payload is not None:
        log.error("event %s failed: it used its %d attempts", key, runtime.settings.event_max_attempts)
        sink = runtime.sinks.for_event(Event.from_dict(claim.payload))
        _tell(sink, POISONED, key, resume=lease.resume, started=False)
        return Result(Outcome.FAILED)
    if claim.status is Status.DONE and claim.payload is not None and lease.resume is not None:
        # Stored, but the worker died before the platform showed all of it: show the stored answer.
        _show_stored(Event.from_dict(claim.payload), claim.tenant_id, runtime, lease.resume)
    log.info("event %s already %s; redelivery ignored", key, claim.status)
    return Result(Outcome.DUPLICATE)


def _show_stored(event: Event, tenant_id: int | None, runtime: Runtime, resume: str) -> None:
    with runtime.sessions() as session:
        stored = conversations.find_message(session, tenant_id=tenant_id or 0, event_key=event.key, role="assistant")
        session.rollback()
    if stored is not None:
        sink = runtime.sinks.for_event(event)
        sink.start(resume_ref=resume)
        sink.finish(stored.content)


def _tell(sink: ReplySink, message: str, key: str, *, resume: str | None = None, started: bool = True) -> None:
    try:
        if not started:
            sink.start(resume_ref=resume)
        sink.fail(message)
    except Exception:
        log.exception("event %s: could not tell the user about the failure", key)


def _command(event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, place: Place) -> Result:
    models: tuple[str, ...] = ()
    if event.kind is Kind.PREFS and event.args.get("key") == "model":
        models = runtime.engine.health().models
    with runtime.sessions.begin() as session:
        text = commands.run(
            session,
            kind=event.kind,
            place=place,
            args=event.args,
            models=models,
            skills=runtime.skills,
            attachments=event.attachments,
            who=event.user,
            guide=guide_for(event.platform),
            embedder=runtime.embedder,
        )
        answer.record(session, event, lease, place, text=text, model="", keep=event.kind is not Kind.FORGET)
    answer.show(sink, lease, text)
    lease.release()
    return Result(Outcome.ANSWERED)
