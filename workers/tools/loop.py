"""The tool loop: ask, run the calls the model made, give it the results, ask again; then answer.

At most `max_rounds` rounds of calls; the request after the last round offers no tools, so the model
has to answer with what it has. Each call runs in its own thread with a timeout, and whatever goes
wrong (bad arguments, an unknown tool, a crash, a hang, an enormous result) becomes a short result
the model reads, never a failed answer. Every round's tokens are counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from engine.base import ChatMessage, ChatRequest, ToolCall
from workers.stopping import Stopped
from workers.tools.base import Tool, ToolContext, ToolError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Round:
    """What one request to the engine gave back."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    max_rounds: int = 4
    timeout: float = 20.0
    max_chars: int = 8000


@dataclass(slots=True)
class Outcome:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Each round's calls and results, stored with the answer so follow-ups see them.
    rounds: list[dict[str, Any]] = field(default_factory=list)


Stream = Callable[[ChatRequest], Round]


@dataclass(frozen=True, slots=True)
class Counters:
    prompt: Callable[[Sequence[ChatMessage]], int]
    text: Callable[[str], int]


def run(
    request: ChatRequest,
    *,
    tools: Sequence[Tool],
    ctx: ToolContext,
    stream: Stream,
    count: Counters,
    limits: Limits,
    status: Callable[[str], None] | None = None,
) -> Outcome:
    by_name = {tool.name: tool for tool in tools}
    messages = list(request.messages)
    outcome = Outcome(text="")
    for number in range(limits.max_rounds + 1):
        offer = tuple(tool.spec() for tool in tools) if number < limits.max_rounds else ()
        choice = request.tool_choice if offer else None
        asked = replace(request, messages=tuple(messages), tools=offer, tool_choice=choice)
        try:
            got = stream(asked)
        except Stopped as stop:
            # Stopped mid-round: what the earlier rounds and this one's prompt and text cost still counts.
            stop.prompt_tokens = outcome.prompt_tokens + count.prompt(messages)
            stop.completion_tokens = outcome.completion_tokens + count.text(stop.text)
            raise
        spent = "".join(call.arguments for call in got.calls)
        outcome.prompt_tokens += got.prompt_tokens if got.prompt_tokens is not None else count.prompt(messages)
        outcome.completion_tokens += (
            got.completion_tokens if got.completion_tokens is not None else count.text(got.text + spent)
        )
        if not got.calls or not offer:
            outcome.text = got.text
            return outcome
        results = [_result(call, by_name, ctx, limits, status) for call in got.calls]
        messages.append(ChatMessage("assistant", got.text, tool_calls=got.calls))
        messages += [
            ChatMessage("tool", text, tool_call_id=call.id) for call, text in zip(got.calls, results, strict=True)
        ]
        outcome.rounds.append(round_record(got.text, got.calls, results))
    raise AssertionError("unreachable: the last round offers no tools")


def round_record(text: str, calls: Sequence[ToolCall], results: Sequence[str]) -> dict[str, Any]:
    return {
        "text": text,
        "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls],
        "results": list(results),
    }


def replay(rounds: Sequence[dict[str, Any]]) -> list[ChatMessage]:
    """Stored rounds as chat messages again: each tool-calling turn followed by its results."""
    out: list[ChatMessage] = []
    for stored in rounds:
        calls = tuple(ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"]) for c in stored["calls"])
        out.append(ChatMessage("assistant", stored.get("text", ""), tool_calls=calls))
        out += [ChatMessage("tool", r, tool_call_id=c.id) for c, r in zip(calls, stored["results"], strict=True)]
    return out


def _result(
    call: ToolCall,
    by_name: dict[str, Tool],
    ctx: ToolContext,
    limits: Limits,
    status: Callable[[str], None] | None,
) -> str:
    tool = by_name.get(call.name)
    if tool is None:
        return f"Error: there is no tool named {call.name!r}. Available: {', '.join(sorted(by_name)) or 'none'}."
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        return f"Error: the arguments are not valid JSON ({exc.msg}); call {call.name} again with a JSON object."
    if not isinstance(arguments, dict):
        return "Error: the arguments must be a JSON object."
    if status is not None:
        try:
            status(f"Using {tool.label or tool.name}…")
        except Exception:  # the note is a courtesy; the answer goes on without it
            log.warning("could not show the tool status", exc_info=True)
    text = _timed(tool, arguments, ctx, limits.timeout)
    if len(text) > limits.max_chars:
        cut = len(text) - limits.max_chars
        text = f"{text[: limits.max_chars]}\n[… result cut: {cut} more characters not shown]"
    return text


def _timed(tool: Tool, arguments: dict[str, Any], ctx: ToolContext, timeout: float) -> str:
    # A thread of its own per call: a hanging tool is abandoned after `timeout`, the answer goes on.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tool-{tool.name}")
    future = pool.submit(tool.run, arguments, ctx)
    try:
        return future.result(timeout=timeout) or "(the tool returned nothing)"
    except FutureTimeout:
        log.warning("tool %s did not answer within %.0fs", tool.name, timeout)
        return f"Error: the tool {tool.name} did not answer within {timeout:g} s."
    except ToolError as exc:
        return f"Error: {exc}"
    except Exception as exc:
        log.warning("tool %s failed", tool.name, exc_info=True)
        return f"Error: the tool {tool.name} failed ({type(exc).__name__}: {exc})."
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
