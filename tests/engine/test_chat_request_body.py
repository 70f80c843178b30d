"""The chat request as the engine receives it, and the errors it maps to, since LLMOS builds the body itself."""

from __future__ import annotations

import pytest

from engine.base import ChatMessage, ChatRequest, EngineBadRequest, EngineRateLimited, EngineUnavailable, complete
from engine.openai_compat import OpenAICompatEngine
from engine.simulator import SimulatedEngine, SimulatorConfig

REQUEST = ChatRequest(
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "hi")),
    max_tokens=32,
    temperature=0.2,
    priority=1,
    cache_salt="salt",
    user="7:9",
)


def test_vllm_gets_the_whole_body_and_streams_usage() -> None:
    with SimulatedEngine(SimulatorConfig(vllm=True)) as sim:
        engine = OpenAICompatEngine(url=f"{sim.url}/v1", api_key="sk-test")
        answer = complete(engine, REQUEST)
        engine.close()
        body = sim.requests[-1].body
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert (body["model"], body["max_tokens"], body["temperature"], body["stream"]) == ("sim-model", 32, 0.2, True)
    assert (body["priority"], body["cache_salt"], body["user"]) == (1, "salt", "7:9")
    assert body["stream_options"] == {"include_usage": True}
    assert answer.text == "You said: hi" and answer.completion_tokens == 3 and answer.prompt_tokens > 0


def test_other_servers_get_no_vllm_fields() -> None:
    with SimulatedEngine(SimulatorConfig()) as sim:
        engine = OpenAICompatEngine(url=sim.url)
        assert complete(engine, REQUEST).text == "You said: hi"
        engine.close()
        body = sim.requests[-1].body
    assert "priority" not in body and "cache_salt" not in body and "stream_options" not in body


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (SimulatorConfig(mode="unavailable"), EngineUnavailable),
        (SimulatorConfig(mode="rate_limited"), EngineRateLimited),
        (SimulatorConfig(max_model_len=3), EngineBadRequest),
    ],
)
def test_refusals_keep_their_meaning(config: SimulatorConfig, error: type[Exception]) -> None:
    with SimulatedEngine(SimulatorConfig()) as sim:
        engine = OpenAICompatEngine(url=sim.url, retries=1, retry_backoff=0.01, model="sim-model")
        sim.config = config
        with pytest.raises(error) as raised:
            complete(engine, REQUEST)
        engine.close()
    if isinstance(raised.value, EngineRateLimited):
        assert raised.value.retry_after == 1.0
