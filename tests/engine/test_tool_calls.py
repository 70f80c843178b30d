"""Tool calls through the OpenAI-compatible client: offered, streamed back in pieces, refused."""

from __future__ import annotations

import json

from engine.base import ChatMessage, ChatRequest, ToolCall, complete
from engine.simulator import SimulatedEngine, SimulatorConfig
from engine.toolcalls import ToolCallAssembler, wire_message
from tests.engine.test_openai_compat import HELLO, client

CLOCK = {"type": "function", "function": {"name": "clock", "description": "the time", "parameters": {"type": "object"}}}


def test_streamed_call_pieces_are_assembled_in_order() -> None:
    calls = ToolCallAssembler()
    calls.feed([{"index": 1, "id": "b", "function": {"name": "second", "arguments": ""}}])
    calls.feed([{"index": 0, "id": "a", "function": {"name": "first", "arguments": '{"x"'}}])
    calls.feed([{"index": 0, "function": {"arguments": ": 1}"}}, {"index": 1, "function": {"arguments": "{}"}}])
    calls.feed(None)
    assert calls.calls() == (ToolCall("a", "first", '{"x": 1}'), ToolCall("b", "second", "{}"))


def test_calls_and_results_go_back_on_the_wire() -> None:
    turn = ChatMessage("assistant", "", tool_calls=(ToolCall("c1", "clock", ""),))
    assert wire_message(turn) == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "clock", "arguments": "{}"}}],
    }
    assert wire_message(ChatMessage("tool", "12:00", tool_call_id="c1")) == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "12:00",
    }


def test_the_model_calls_tools_and_the_client_returns_them_whole(simulator: SimulatedEngine) -> None:
    arguments = {"zone": "Europe/Paris", "detail": "a long enough value to be cut into several pieces"}
    simulator.config.tool_calls = lambda body: [
        {"name": "clock", "arguments": arguments},
        {"name": "clock", "arguments": {}},
    ]
    engine = client(simulator.url)
    done = complete(engine, ChatRequest(messages=HELLO, tools=(CLOCK,), tool_choice="auto"))
    assert done.finish_reason == "tool_calls" and done.text == ""
    assert [c.name for c in done.tool_calls] == ["clock", "clock"]
    assert json.loads(done.tool_calls[0].arguments) == arguments
    assert done.tool_calls[0].id != done.tool_calls[1].id
    body = simulator.requests[-1].body
    assert body["tools"] == [CLOCK] and body["tool_choice"] == "auto"
    # Without tools offered the request carries neither field, and the model answers in text.
    plain = complete(engine, ChatRequest(messages=HELLO))
    assert plain.tool_calls == () and "tools" not in simulator.requests[-1].body


def test_a_server_without_tool_calling_is_asked_again_without_tools(simulator: SimulatedEngine) -> None:
    simulator.config = SimulatorConfig(vllm=True, tool_calling=False, priority_scheduling=False)
    engine = client(simulator.url)
    done = complete(engine, ChatRequest(messages=HELLO, tools=(CLOCK,), priority=5))
    assert done.text == "You said: hello there"
    bodies = [r.body for r in simulator.requests if "messages" in r.body]
    # Refused for its tools, then for its priority, then answered without either.
    assert [("tools" in b, "priority" in b) for b in bodies] == [(True, True), (True, False), (False, False)]
