"""What one answer asks the engine: the model and its window, long documents read in parts, the fitted prompt.

The request's shape (model, window, answer tokens) is worked out once; attached text too long for the
window is read in parts first (`workers.documents.mapreduce`), then the prompt is built and fitted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from db.conversations import Turn
from db.directory import Place
from db.knowledge import Found
from db.memories import Remembered
from engine.base import ChatRequest
from engine.salt import cache_salt
from workers import commands, prompt, trim
from workers.documents import mapreduce
from workers.events import Event
from workers.queues import route_for
from workers.runtime import Runtime
from workers.skills import Skill
from workers.tools.base import Tool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Context:
    """What the claim's transaction read for one answer."""

    place: Place
    skill: Skill
    prefs: dict[str, str]
    history: list[Turn]
    memories: list[Remembered]
    # The channel's knowledge that best matches the question, best first (empty without knowledge).
    passages: list[Found]
    # The channel has knowledge to search for this question (done after the claim: `answer.with_passages`).
    searches: bool = False


@dataclass(frozen=True, slots=True)
class Shape:
    """The model answering, its window, and the tokens kept for the answer."""

    model: str
    window: int
    max_tokens: int

    def count(self, runtime: Runtime) -> Callable[[str], int]:
        return lambda text: runtime.engine.count_text(text, model=self.model) if text else 0


def shape_of(runtime: Runtime, ctx: Context) -> Shape:
    settings, engine = runtime.settings, runtime.engine
    model = ctx.prefs.get("model") or engine.default_model
    max_tokens = commands.LENGTHS.get(ctx.prefs.get("length", ""), ctx.skill.max_tokens or settings.answer_max_tokens)
    window = engine.context_window(model)
    return Shape(model=model, window=window, max_tokens=min(max_tokens, window // 2))


def base(event: Event, runtime: Runtime, ctx: Context, shape: Shape) -> ChatRequest:
    """The request without its messages: model, limits, priority and the tenant's cache salt."""
    settings = runtime.settings
    return ChatRequest(
        messages=(),
        model=shape.model,
        max_tokens=shape.max_tokens,
        temperature=settings.answer_temperature if ctx.skill.temperature is None else ctx.skill.temperature,
        priority=route_for(event.priority).engine_priority,
        cache_salt=cache_salt(f"{event.platform}:{event.tenant}", key=_secret(settings.engine_cache_salt_key)),
        user=f"{ctx.place.tenant_id}:{ctx.place.user_id}",
        affinity=f"{ctx.place.tenant_id}:{ctx.place.conversation_id}",
        show_reasoning=ctx.prefs.get("reasoning") == "show",
    )


def read_long_documents(
    event: Event, runtime: Runtime, ctx: Context, shape: Shape, status: Callable[[str], None] | None
) -> tuple[Event, mapreduce.Spent]:
    """The event with any attached text too long for the window replaced by notes read in parts."""
    spent = mapreduce.Spent()
    if not any(a.text for a in event.attachments):
        return event, spent
    reading = mapreduce.Reading(
        engine=runtime.engine,
        base=base(event, runtime, ctx, shape),
        window=shape.window,
        note_tokens=max(32, min(256, shape.window // 8)),
        status=status,
    )
    # Half of what the answer leaves: the rest is for the system prompt, history and question.
    budget = (shape.window - shape.max_tokens) // 2
    fitted = mapreduce.fit_attachments(
        event.attachments, question=event.text, budget=budget, reading=reading, spent=spent
    )
    if spent.calls:
        log.info("event %s: read long documents in %d engine calls", event.key, spent.calls)
    return dataclasses.replace(event, attachments=fitted), spent


def request(
    event: Event, runtime: Runtime, ctx: Context, *, tools: list[Tool], shape: Shape, passages: list[Found]
) -> tuple[ChatRequest, trim.Fitted]:
    settings, engine, model = runtime.settings, runtime.engine, shape.model
    count = shape.count(runtime)
    messages = prompt.build(
        event=event,
        skill=ctx.skill,
        base_system=settings.system_prompt,
        prefs=ctx.prefs,
        history=ctx.history,
        vision=prompt.sees_images(model, settings.vision_models),
        memories=prompt.capped(ctx.memories, settings.memory_max_tokens, count),
        passages=passages,
    )
    # The tools' descriptions travel with every round: the prompt must leave room for them.
    offered = count(json.dumps([t.spec() for t in tools])) if tools else 0
    fitted = trim.fit(
        messages,
        budget=shape.window - shape.max_tokens - offered,
        count_text=count,
        count_prompt=lambda kept: engine.count_tokens(kept, model=model),
        known=lambda text: engine.known_count(text, model=model),
    )
    if fitted.dropped or fitted.truncated:
        log.info("event %s: trimmed prompt (dropped %d turns, cut=%s)", event.key, fitted.dropped, fitted.truncated)
    return dataclasses.replace(base(event, runtime, ctx, shape), messages=tuple(fitted.messages)), fitted


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
