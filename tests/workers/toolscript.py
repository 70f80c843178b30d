"""Scripting the engine simulator's tool calls, and reading what the model was given back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.simulator import SimulatedEngine, text_of

Body = dict[str, Any]


def this_turn(body: Body) -> list[dict[str, Any]]:
    """The messages after the person's last one: this answer's tool calls and results so far."""
    messages = body["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return messages[last_user + 1 :]


def results(body: Body) -> list[str]:
    return [text_of(m["content"]) for m in this_turn(body) if m["role"] == "tool"]


def call_once(name: str, **arguments: Any) -> Callable[[Body], list[dict[str, Any]] | None]:
    """Call `name` first, then answer once its result is in."""

    def decide(body: Body) -> list[dict[str, Any]] | None:
        return None if results(body) else [{"name": name, "arguments": arguments}]

    return decide


def raw_call(name: str, arguments: str) -> Callable[[Body], list[dict[str, Any]] | None]:
    def decide(body: Body) -> list[dict[str, Any]] | None:
        return None if results(body) else [{"name": name, "arguments": arguments}]

    return decide


def answer_with_result(messages: list[dict[str, Any]]) -> str:
    """The simulated model's answer: the last tool result it was given, or an echo."""
    last = messages[-1]
    if last["role"] == "tool":
        return f"The tool said: {text_of(last['content'])}"
    return f"You said: {text_of(last['content'])}"


def use(simulator: SimulatedEngine, decide: Callable[[Body], list[dict[str, Any]] | None]) -> None:
    simulator.config.tool_calls = decide
    simulator.config.answer = answer_with_result


def offered(body: Body) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def tool_messages(simulator: SimulatedEngine) -> list[str]:
    """Every tool result the model was given in the last request."""
    return results(simulator.requests[-1].body)


def arguments(body: Body) -> list[dict[str, Any]]:
    calls = [c for m in this_turn(body) for c in m.get("tool_calls") or ()]
    return [json.loads(c["function"]["arguments"]) for c in calls]
