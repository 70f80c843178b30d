"""One answer's tool rounds on the task path: which tools it is offered, and the loop with the real engine.

Kept beside `workers.answer`, which builds the prompt and stores the result; this module decides
the tools (plain questions only, as the deployment and the tenant allow) and counts every round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from db.directory import Place
from engine.base import ChatMessage, ChatRequest
from workers.events import Event, Kind
from workers.runtime import Runtime
from workers.skills import Skill
from workers.tools import loop
from workers.tools.base import Tool, ToolContext
from workers.trim import Fitted


def offered(runtime: Runtime, event: Event, *, skill: Skill, prefs: Mapping[str, str]) -> list[Tool]:
    if runtime.tools is None or skill.kind is not Kind.ASK or runtime.settings.tool_max_rounds == 0:
        return []
    return runtime.tools.offered(platform=event.tenant_platform, tenant=event.tenant, prefs=prefs)


def run_rounds(
    runtime: Runtime,
    *,
    event_key: str,
    place: Place,
    request: ChatRequest,
    fitted: Fitted,
    tools: list[Tool],
    stream: loop.Stream,
    status: Callable[[str], None] | None,
) -> tuple[loop.Outcome, list[str]]:
    """The final answer with every round's tokens, and the memories the model saved on the way."""
    settings, engine, model = runtime.settings, runtime.engine, request.model

    def count_prompt(kept: Sequence[ChatMessage]) -> int:
        # The first round's prompt was counted while it was fitted, when it had to be.
        if fitted.prompt_tokens and len(kept) == len(fitted.messages):
            return fitted.prompt_tokens
        return engine.count_tokens(kept, model=model)

    ctx = ToolContext(sessions=runtime.sessions, place=place, event_key=event_key)
    outcome = loop.run(
        request,
        tools=tools,
        ctx=ctx,
        stream=stream,
        count=loop.Counters(prompt=count_prompt, text=lambda text: engine.count_text(text, model=model) if text else 0),
        limits=loop.Limits(
            max_rounds=settings.tool_max_rounds,
            timeout=settings.tool_timeout,
            # A result never takes more characters than the model has tokens of context.
            max_chars=min(settings.tool_result_max_chars, engine.context_window(model)),
        ),
        status=status,
    )
    return outcome, ctx.saved
