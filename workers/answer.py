"""Answering one claimed event: its context, the prompt, the engine's stream into the sink, the stored answer.

The hot path touches SQL twice: the claim that loads the context (`load_context`, in the claim's
transaction) and the transaction that stores the answer, its usage and `done` (`store`); a channel with
knowledge adds one read after the claim (`with_passages`), so that embedding the question never holds
the claim's transaction open. The lease, the answer message's handle and the first-token time stay in
memory and in `workers.leases`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db import conversations, events, knowledge, memories, preferences
from db import usage as usage_store
from db.conversations import Turn
from db.directory import Place
from db.models import Message
from engine.base import (
    ChatRequest,
    EngineInterrupted,
    EngineRateLimited,
    EngineUnavailable,
    StreamChunk,
    ToolCall,
)
from workers import commands, framing, prompt
from workers.documents import cite, learning
from workers.events import Event, Kind
from workers.framing import Context
from workers.runtime import Runtime
from workers.sinks import ReplySink, StatusSink
from workers.skills import SKILLS
from workers.stopping import CHECK_EVERY, NOTHING_SAID, SHOWN_NOTE, Stopped
from workers.tools import loop, turn

log = logging.getLogger(__name__)

COMMAND_KINDS = tuple(str(k) for k in commands.COMMANDS)
# A stream cut before its end is asked again this many times (on another replica where there is one).
STREAM_TRIES = 2
# How long a finished answer waits for a database that is restarting before the event is handed on.
STORE_PATIENCE = 20.0
# Memories read with the context; the prompt then keeps as many as MEMORY_MAX_TOKENS allows.
MEMORIES_READ = 50


class LeaseLost(Exception):
    """Another attempt holds this event now (ours stalled or was cut off); stop without storing or posting."""


class Lease:
    """This attempt's hold on one event: its fence in the ledger and its lease beside it."""

    def __init__(self, runtime: Runtime, key: str, owner: str, *, resume: str | None) -> None:
        self._rt = runtime
        self.key = key
        self.owner = owner
        self.fence = 0
        # The answer message an earlier attempt (or the "queued" note) opened, to be taken over.
        self.resume = resume
        self.ref: str | None = None
        self.first_token_at: float | None = None
        self._stop_checked = float("-inf")

    def stopped(self, *, now: bool = False) -> bool:
        """Whether someone asked to stop this answer (looked up at most every CHECK_EVERY seconds)."""
        at = time.monotonic()
        if not now and at - self._stop_checked < CHECK_EVERY:
            return False
        self._stop_checked = at
        try:
            return self._rt.leases.stopping(self.key)
        except Exception:  # the store is unreachable: the answer goes on, the next look may see it
            log.warning("event %s: could not look for a stop", self.key, exc_info=True)
            return False

    def keep(self) -> None:
        """Raise LeaseLost if another attempt took the event over (the keeper renews in the background)."""
        if not self._rt.keeper.holds(self.key):
            raise LeaseLost(self.key)

    def start(self, sink: ReplySink) -> None:
        """Open (or take over) the answer message and keep its handle beside the lease."""
        resumed = self.ref or self.resume
        self.ref = sink.start(resume_ref=resumed)
        if self.ref != resumed:
            self._rt.leases.set_reply(self.key, self.ref)

    def release(self, *, keep_reply: bool = False) -> None:
        try:
            self._rt.leases.release(self.key, self.owner, keep_reply=keep_reply)
        except Exception:  # it lapses by itself; the ledger already says what happened
            log.warning("event %s: could not release its lease", self.key, exc_info=True)


def fast_commit(session: Session) -> None:
    """The claim need not wait for the disk: if it is lost in a crash, the event is simply open again."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def load_context(session: Session, event: Event, place: Place, runtime: Runtime) -> Context:
    """The conversation and preferences, read in the claim's transaction."""
    skill = runtime.skills.for_event(event) or SKILLS[Kind.ASK]
    wanted = skill.history or (skill.transcript and not event.context)
    history: list[Turn] = []
    if wanted:
        limit = int(event.args.get("n", skill.defaults.get("n", "0"))) if skill.transcript else 0
        inbound = (
            select(Message.id)
            .where(Message.tenant_id == place.tenant_id, Message.event_key == event.asked, Message.role == "user")
            .scalar_subquery()
        )
        history = conversations.history(
            session,
            tenant_id=place.tenant_id,
            conversation_id=place.conversation_id,
            before_id=inbound,
            limit=limit or runtime.settings.history_messages,
            exclude_kinds=COMMAND_KINDS,
        )
    prefs = preferences.effective(
        session, tenant_id=place.tenant_id, channel_id=place.channel_id, user_id=place.user_id
    )
    remembered = memories.for_prompt(
        session,
        tenant_id=place.tenant_id,
        user_id=place.user_id,
        channel_id=place.channel_id,
        limit=MEMORIES_READ,
    )
    # Whether to look in the channel's knowledge, once the claim is committed (`with_passages`).
    searches = bool(
        event.kind is Kind.ASK
        and event.text.strip()
        and runtime.settings.knowledge_top_k
        and knowledge.has_any(session, tenant_id=place.tenant_id, channel_id=place.channel_id)
    )
    return Context(
        place=place, skill=skill, prefs=prefs, history=history, memories=remembered, passages=[], searches=searches
    )


def with_passages(event: Event, runtime: Runtime, ctx: Context) -> Context:
    """The channel's knowledge that best matches the question, looked up after the claim's transaction:
    embedding the question is a network call, and a slow endpoint must not hold that transaction open.
    Asked only in a channel with knowledge: other questions never wait on the embeddings endpoint."""
    if not ctx.searches:
        return ctx
    floor = runtime.settings.embedding_min_similarity
    asked = learning.probe(runtime.embedder, event.text, floor=floor)
    with runtime.sessions() as session:
        passages = knowledge.search(
            session,
            tenant_id=ctx.place.tenant_id,
            channel_id=ctx.place.channel_id,
            question=event.text,
            limit=runtime.settings.knowledge_top_k,
            probe=asked,
        )
    return dataclasses.replace(ctx, passages=passages)


def answer(event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, ctx: Context) -> int:
    """Stream the engine's answer into `sink` (with tool rounds where offered) and store it; returns the
    tokens used by every round."""
    lease.start(sink)
    status = sink.status if isinstance(sink, StatusSink) else None
    shape = framing.shape_of(runtime, ctx)
    knows = min(runtime.settings.knowledge_max_tokens, (shape.window - shape.max_tokens) // 4)
    passages = cite.capped(ctx.passages, knows, shape.count(runtime)) if ctx.passages else []
    event, spent = framing.read_long_documents(event, runtime, ctx, shape, status)
    tools = turn.offered(runtime, event, skill=ctx.skill, prefs=ctx.prefs)
    request, fitted = framing.request(event, runtime, ctx, tools=tools, shape=shape, passages=passages)
    try:
        outcome, saved = turn.run_rounds(
            runtime,
            event_key=event.key,
            place=ctx.place,
            request=request,
            fitted=fitted,
            tools=tools,
            stream=lambda asked: _stream(runtime, asked, sink, lease),
            status=status,
        )
    except Stopped as stop:
        stop.prompt_tokens += spent.prompt_tokens  # the parts of long documents read before it count too
        stop.completion_tokens += spent.completion_tokens
        return _stopped(event, runtime, sink, lease, ctx, model=request.model or "", stop=stop)
    said = outcome.text or "(The model returned an empty answer. Try rephrasing the question.)"
    sources = cite.sources_line(passages, said)
    if sources:
        sink.append("\n\n" + sources)
        said += "\n\n" + sources
    if saved:
        # Shown as part of the answer, so the person knows what the model kept about them.
        note = "\n\n" + "\n".join(f"(Saved to your memories: {fact})" for fact in saved)
        sink.append(note)
        said += note
    tokens = (outcome.prompt_tokens + spent.prompt_tokens, outcome.completion_tokens + spent.completion_tokens)
    # Stored before the final update: a follow-up sent the moment the answer shows must see it.
    model = request.model or ""
    version = prompt.version(runtime.settings.system_prompt, ctx.skill)
    store(
        runtime, event, lease, ctx.place, text=said, model=model, tokens=tokens, rounds=outcome.rounds, version=version
    )
    lease.keep()
    sink.finish(said)
    lease.release()
    return tokens[0] + tokens[1]


def _stopped(
    event: Event, runtime: Runtime, sink: ReplySink, lease: Lease, ctx: Context, *, model: str, stop: Stopped
) -> int:
    """Keep what was said before the stop, marked stopped, and show that it was stopped."""
    log.info("event %s: stopped after %d characters", event.key, len(stop.text))
    said = stop.text.strip()
    note = f"\n\n{SHOWN_NOTE}" if said else SHOWN_NOTE
    sink.append(note)
    shown = stop.text + note
    tokens = (stop.prompt_tokens, stop.completion_tokens)
    version = prompt.version(runtime.settings.system_prompt, ctx.skill)
    store(
        runtime,
        event,
        lease,
        ctx.place,
        text=said or NOTHING_SAID,
        model=model,
        tokens=tokens,
        stopped=True,
        version=version,
    )
    lease.keep()
    sink.finish(shown)
    lease.release()
    return tokens[0] + tokens[1]


def _stream(runtime: Runtime, request: ChatRequest, sink: ReplySink, lease: Lease) -> loop.Round:
    """One request's text, tool calls and token counts; a stream cut before its end is asked again."""
    for attempt in range(1, STREAM_TRIES + 1):
        parts: list[str] = []
        calls: tuple[ToolCall, ...] = ()
        prompt_tokens = completion_tokens = None
        if lease.stopped(now=True):
            raise Stopped("")
        try:
            # Closing the stream early (a stop) closes its HTTP response, which aborts the request in vLLM.
            with _closing(runtime.engine.stream(request)) as chunks:
                for chunk in chunks:
                    lease.keep()
                    if lease.stopped():
                        raise Stopped("".join(parts))
                    _take(chunk, parts, sink, lease)
                    prompt_tokens = chunk.prompt_tokens or prompt_tokens
                    completion_tokens = chunk.completion_tokens or completion_tokens
                    calls = chunk.tool_calls or calls
        except EngineUnavailable as exc:
            # Cut mid-answer (the connection dropped, or no finish reason): ask again, where the router
            # sends it to another replica if there is one. A refusal before any text is final here.
            cut = isinstance(exc, EngineInterrupted) or (parts and not isinstance(exc, EngineRateLimited))
            if attempt == STREAM_TRIES or not cut:
                raise
            log.warning("the engine's stream was cut (try %d); asking again", attempt)
            lease.start(sink)
            continue
        return loop.Round("".join(parts).strip(), prompt_tokens, completion_tokens, calls)
    raise AssertionError("unreachable")


@contextmanager
def _closing(chunks: Iterator[StreamChunk]) -> Iterator[Iterator[StreamChunk]]:
    """The engine's stream, closed when left early (every engine's stream is a generator)."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _take(chunk: StreamChunk, parts: list[str], sink: ReplySink, lease: Lease) -> None:
    if chunk.text:
        if lease.first_token_at is None:
            lease.first_token_at = time.time()
        parts.append(chunk.text)
        sink.append(chunk.text)


def store(
    runtime: Runtime,
    event: Event,
    lease: Lease,
    place: Place,
    *,
    text: str,
    model: str,
    tokens: tuple[int, int],
    rounds: list[dict[str, Any]] | None = None,
    stopped: bool = False,
    version: str = "",
) -> None:
    """The answer, its usage and `done` in one transaction, waiting out a database restart."""
    deadline = time.monotonic() + STORE_PATIENCE
    delay = 0.2
    while True:
        lease.keep()
        try:
            with runtime.sessions.begin() as session:
                record(
                    session,
                    event,
                    lease,
                    place,
                    text=text,
                    model=model,
                    tokens=tokens,
                    rounds=rounds,
                    stopped=stopped,
                    version=version,
                )
                usage_store.record(
                    session,
                    tenant_id=place.tenant_id,
                    user_id=place.user_id,
                    event_key=event.key,
                    model=model,
                    prompt_tokens=tokens[0],
                    completion_tokens=tokens[1],
                )
            return
        except DBAPIError:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("event %s: the database did not take the answer; trying again in %.1fs", event.key, delay)
            time.sleep(delay)
            delay = min(delay * 2, 3.0)


def record(
    session: Session,
    event: Event,
    lease: Lease,
    place: Place,
    *,
    text: str,
    model: str,
    tokens: tuple[int, int] = (0, 0),
    keep: bool = True,
    rounds: list[dict[str, Any]] | None = None,
    stopped: bool = False,
    version: str = "",
) -> None:
    """Mark the event done and (unless `keep` is False) store the answer, if this attempt still holds it."""
    if not events.finish(session, key=event.key, fence=lease.fence, first_token_at=lease.first_token_at):
        raise LeaseLost(event.key)
    if not keep:
        return
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
        attachments={**({"tool_rounds": rounds} if rounds else {}), **({"prompt_version": version} if version else {})},
        stopped=stopped,
        follows_id=_question_id(session, event, place) if event.regenerates else None,
    )
    if event.regenerates:
        conversations.supersede(
            session, tenant_id=place.tenant_id, conversation_id=place.conversation_id, event_key=event.regenerates
        )


def _question_id(session: Session, event: Event, place: Place) -> int | None:
    """The stored question a regenerated answer answers (its place in the history)."""
    return session.scalar(
        select(Message.id).where(
            Message.tenant_id == place.tenant_id,
            Message.conversation_id == place.conversation_id,
            Message.event_key == event.asked,
            Message.role == "user",
        )
    )


def show(sink: ReplySink, lease: Lease, text: str) -> None:
    lease.start(sink)
    lease.keep()
    sink.finish(text)
