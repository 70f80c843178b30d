"""The tool loop on the one task path, with the built-in tools, on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bots.terminal import TerminalChat
from db import directory, preferences
from db.models import Usage
from db.preferences import Scope
from engine.openai_compat import OpenAICompatEngine
from tests.helpers import chat, messages, settle
from tests.workers.toolscript import call_once, offered, raw_call, tool_messages, use
from workers.intake import submit
from workers.replybus import follow
from workers.stack import Stack


def ask_as(stack: Stack, line: str, *, user: str, channel: str, tenant: str = "local") -> str:
    """A terminal line from `user` in `channel` of `tenant`, answered; returns the answer."""
    terminal = TerminalChat(sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, user=user, thread=channel)
    event = replace(terminal.event_for(line), channel=channel, tenant=tenant)
    submit(event, sessions=stack.sessions, enqueue=stack.enqueue)
    for item in follow(stack.bus, event.key, idle_timeout=30):
        if item.get("type") in {"done", "error"}:
            settle(stack)
            return str(item["text"])
    raise AssertionError("no answer")


def test_the_calculators_result_reaches_the_answer_and_the_store(clean_stack: Stack, simulator) -> None:
    use(simulator, call_once("calculate", expression="17 * 23 + 1"))
    said = chat(clean_stack, "What is 17 times 23 plus one?")
    assert said.code == 0, said.err
    assert said.out == "The tool said: 17 * 23 + 1 = 392\n"
    assert "Using the calculator…" in said.err
    first, second = (r.body for r in simulator.requests)
    assert {"current_time", "calculate", "search_conversations", "remember"} <= set(offered(first))
    assert [m["role"] for m in second["messages"]][-2:] == ["assistant", "tool"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "calculate"
    stored = messages(clean_stack, "assistant")[0]
    rounds = stored.attachments["tool_rounds"]
    assert rounds[0]["calls"][0]["name"] == "calculate" and rounds[0]["results"] == ["17 * 23 + 1 = 392"]


def test_every_round_is_counted_in_usage(clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda msgs: "392"
    chat(clean_stack, "What is 17 times 23 plus one?", thread="plain")
    use(simulator, call_once("calculate", expression="17 * 23 + 1"))
    simulator.config.answer = lambda msgs: "392"
    chat(clean_stack, "What is 17 times 23 plus one?", thread="tools")
    with clean_stack.sessions() as session:
        plain, tools = session.scalars(select(Usage).order_by(Usage.id)).all()
    # The tool answer paid for two prompts (the second one longer) and for the call's arguments.
    assert tools.prompt_tokens > 2 * plain.prompt_tokens
    assert tools.completion_tokens > plain.completion_tokens


def test_a_follow_up_sees_the_earlier_calls_and_results(clean_stack: Stack, simulator) -> None:
    use(simulator, call_once("calculate", expression="2 ** 10"))
    chat(clean_stack, "What is two to the tenth?")
    simulator.config.tool_calls = None
    chat(clean_stack, "And half of that?")
    sent = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[3]["content"] == "2 ** 10 = 1024"
    assert sent[2]["tool_calls"][0]["id"] == sent[3]["tool_call_id"]


def test_the_rounds_stop_at_the_cap_and_the_model_must_answer(clean_stack: Stack, simulator) -> None:
    use(simulator, lambda body: [{"name": "current_time", "arguments": {}}])
    said = chat(clean_stack, "Keep checking the time")
    assert said.code == 0
    bodies = [r.body for r in simulator.requests]
    assert len(bodies) == 5
    assert all(offered(b) for b in bodies[:4]) and "tools" not in bodies[4]
    assert said.out.startswith("The tool said:")


def test_unknown_tools_and_bad_arguments_are_told_to_the_model(clean_stack: Stack, simulator) -> None:
    use(simulator, call_once("launch_rockets", target="moon"))
    said = chat(clean_stack, "Launch")
    assert said.code == 0
    assert tool_messages(simulator)[0].startswith("Error: there is no tool named 'launch_rockets'")
    use(simulator, raw_call("calculate", '{"expression": "1 +'))
    chat(clean_stack, "Broken JSON")
    assert "not valid JSON" in tool_messages(simulator)[0]
    use(simulator, call_once("calculate", expression="__import__('os').system('true')"))
    chat(clean_stack, "Sneaky")
    assert (
        tool_messages(simulator)[0].startswith("Error: ")
        and "not a number, operator or known function" in (tool_messages(simulator)[0])
    )


def test_an_engine_that_refuses_tools_is_asked_again_without_them(
    clean_stack: Stack, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.config.tool_calling = False
    said = chat(clean_stack, "Hello there")
    assert said.code == 0 and said.out == "You said: Hello there\n"
    assert [bool(r.body.get("tools")) for r in simulator.requests] == [True, False]
    # Until the server could have been restarted with tool calling, tools are not sent again.
    chat(clean_stack, "Hello again")
    assert [bool(r.body.get("tools")) for r in simulator.requests] == [True, False, False]
    monkeypatch.setattr(OpenAICompatEngine, "TOOLS_RECHECK", 0.0)
    simulator.config.tool_calling = True
    chat(clean_stack, "And now?")
    assert bool(simulator.requests[-1].body.get("tools"))


def test_a_tool_switched_off_for_the_tenant_is_never_offered(clean_stack: Stack, simulator) -> None:
    with clean_stack.sessions.begin() as session:
        tenant = directory.tenant(session, platform="terminal", external_id="local")
        session.flush()
        preferences.set_value(
            session, tenant_id=tenant.id, scope=Scope.TENANT, key="tools_off", value="calculate, remember"
        )
    chat(clean_stack, "Hi")
    names = offered(simulator.requests[-1].body)
    assert "calculate" not in names and "remember" not in names and "current_time" in names


def test_search_finds_only_what_the_asker_could_see(clean_stack: Stack, simulator) -> None:
    ask_as(clean_stack, "The vault code is 7781", user="alice", channel="ops")
    ask_as(clean_stack, "Lunch at noon?", user="bob", channel="random")
    ask_as(clean_stack, "The vault code is 5555", user="carol", channel="ops", tenant="elsewhere")
    use(simulator, call_once("search_conversations", query="vault CODE"))
    ask_as(clean_stack, "What is the vault code?", user="bob", channel="random")
    assert tool_messages(simulator) == ["No stored message matches 'vault CODE'."]
    ask_as(clean_stack, "What is the vault code?", user="alice", channel="ops2")
    found = tool_messages(simulator)[0]
    assert "7781" in found and "5555" not in found and "channel ops" in found
