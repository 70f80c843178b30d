"""The engine client's feature detection: vLLM's extras go only to vLLM, and only while it accepts them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from engine.base import ChatMessage, ChatRequest, EngineInterrupted, StreamChunk, complete
from engine.openai_compat import OpenAICompatEngine
from engine.simulator import SimulatedEngine, SimulatorConfig

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi there"),), priority=2, cache_salt="tenant-a", user="1:2")


@pytest.fixture
def sim() -> Iterator[SimulatedEngine]:
    with SimulatedEngine(SimulatorConfig(vllm=True)) as running:
        yield running


@pytest.fixture
def client(sim: SimulatedEngine) -> Iterator[OpenAICompatEngine]:
    engine = OpenAICompatEngine(url=f"{sim.url}/v1", retries=0)
    yield engine
    engine.close()


def test_vllm_gets_priority_salt_and_a_usage_request(sim: SimulatedEngine, client: OpenAICompatEngine) -> None:
    done = complete(client, REQUEST)
    body = sim.requests[-1].body
    assert (body["priority"], body["cache_salt"], body["user"]) == (2, "tenant-a", "1:2")
    assert body["stream_options"] == {"include_usage": True}
    assert (done.prompt_tokens, done.completion_tokens) == (client.count_tokens(REQUEST.messages), 4)
    assert client.context_window() == sim.config.max_model_len


def test_a_plain_openai_server_gets_none_of_vllms_extras(sim: SimulatedEngine, client: OpenAICompatEngine) -> None:
    sim.config.vllm = False
    client.server_info(refresh=True)
    complete(client, REQUEST)
    body = sim.requests[-1].body
    assert not {"priority", "cache_salt", "stream_options"} & body.keys()
    assert client.health().detail == "openai-compatible"


def test_a_vllm_without_priority_scheduling_is_asked_again_without_priority(
    sim: SimulatedEngine, client: OpenAICompatEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sim.config.priority_scheduling = False
    with caplog.at_level(logging.WARNING, "engine.openai_compat"):
        first = complete(client, REQUEST)
        second = complete(client, REQUEST)
    assert first.text == second.text == "You said: hi there"
    assert [r.body.get("priority") for r in sim.requests] == [2, None, None]
    assert sum("--scheduling-policy priority" in r.message for r in caplog.records) == 1
    # Everything else still goes: the salt keeps the tenants apart.
    assert sim.requests[-1].body["cache_salt"] == "tenant-a"


def test_priority_zero_is_not_sent(sim: SimulatedEngine, client: OpenAICompatEngine) -> None:
    complete(client, ChatRequest(messages=REQUEST.messages, priority=0))
    assert "priority" not in sim.requests[-1].body


def test_a_stream_without_finish_reason_is_an_interruption(sim: SimulatedEngine, client: OpenAICompatEngine) -> None:
    sim.config.send_finish = False
    chunks: list[StreamChunk] = []
    with pytest.raises(EngineInterrupted):
        chunks.extend(client.stream(REQUEST))
    # The text came through (the caller decides to ask again), and the usage chunk was read, not skipped.
    assert "".join(c.text for c in chunks) == "You said: hi there"
    assert any(c.completion_tokens == 4 for c in chunks)


def test_static_extra_body_goes_with_every_request(sim: SimulatedEngine) -> None:
    engine = OpenAICompatEngine(url=sim.url, retries=0, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    try:
        complete(engine, REQUEST)
    finally:
        engine.close()
    assert sim.requests[-1].body["chat_template_kwargs"] == {"enable_thinking": False}
