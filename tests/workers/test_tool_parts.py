"""The calculator, the per-call timeout and the result cap of the tool loop, without a stack."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from db.directory import Place
from engine.base import ChatMessage, ChatRequest, ToolCall
from workers.tools import loop
from workers.tools.arithmetic import CalculationError, evaluate
from workers.tools.base import Tool, ToolContext, object_schema


@pytest.mark.parametrize(
    ("expression", "value"),
    [("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("2^10", 1024), ("7 // 2 + 7 % 2", 4), ("sqrt(16) + -1", 3.0)],
)
def test_the_calculator_computes(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os')", "not a number, operator or known function"),
        ("().__class__", "not a number, operator or known function"),
        ("9 ** 9 ** 9", "exponents above"),
        ("1 / 0", "division by zero"),
        ("2 +", "not an arithmetic expression"),
        ("'a' * 3", "not a number"),
        ("", "empty"),
        ("1" * 600, "longer than"),
    ],
)
def test_the_calculator_refuses_what_is_not_arithmetic(expression: str, why: str) -> None:
    with pytest.raises(CalculationError, match=why):
        evaluate(expression)


def _ctx() -> ToolContext:
    return ToolContext(sessions=None, place=Place(tenant_id=1, user_id=1, channel_id=1, conversation_id=1))  # type: ignore[arg-type]


def _tool(name: str, run: Any) -> Tool:
    return Tool(name=name, description=name, parameters=object_schema({}), run=run)


def test_a_hanging_tool_times_out_and_a_huge_one_is_cut() -> None:
    release = threading.Event()

    def hang(_args: Mapping[str, Any], _ctx: ToolContext) -> str:
        release.wait(10)
        return "late"

    def flood(_args: Mapping[str, Any], _ctx: ToolContext) -> str:
        return "y" * 5000

    script = iter(
        [
            loop.Round("", 10, 2, (ToolCall("1", "hang", "{}"), ToolCall("2", "flood", "{}"))),
            loop.Round("done", 30, 1),
        ]
    )
    asked: list[ChatRequest] = []

    def stream(request: ChatRequest) -> loop.Round:
        asked.append(request)
        return next(script)

    started = time.monotonic()
    outcome = loop.run(
        ChatRequest(messages=(ChatMessage("user", "go"),)),
        tools=[_tool("hang", hang), _tool("flood", flood)],
        ctx=_ctx(),
        stream=stream,
        count=loop.Counters(prompt=lambda _m: 0, text=lambda _t: 0),
        limits=loop.Limits(max_rounds=4, timeout=0.3, max_chars=1000),
    )
    release.set()
    assert time.monotonic() - started < 3
    assert (outcome.text, outcome.prompt_tokens, outcome.completion_tokens) == ("done", 40, 3)
    hung, flooded = (m.content for m in asked[1].messages if m.role == "tool")
    assert hung == "Error: the tool hang did not answer within 0.3 s."
    assert flooded == "y" * 1000 + "\n[… result cut: 4000 more characters not shown]"
    assert outcome.rounds[0]["results"] == [hung, flooded]
