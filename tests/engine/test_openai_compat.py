"""The OpenAI-compatible engine client against the simulator over real HTTP."""

from __future__ import annotations

import socket
import time

import pytest

from engine.base import ChatMessage, ChatRequest, EngineBadRequest, EngineRateLimited, EngineUnavailable, complete
from engine.openai_compat import OpenAICompatEngine, root_url
from engine.simulator import SimulatedEngine, SimulatorConfig

HELLO = (ChatMessage("system", "be brief"), ChatMessage("user", "hello there"))


def client(url: str, **kwargs: object) -> OpenAICompatEngine:
    options: dict[str, object] = {"retries": 2, "retry_backoff": 0.01, "token_timeout": 2.0}
    options.update(kwargs)
    return OpenAICompatEngine(url=url, **options)  # type: ignore[arg-type]


def test_root_url_accepts_both_spellings() -> None:
    assert root_url("http://h:8000/v1/") == root_url("http://h:8000") == "http://h:8000"


def test_streams_text_and_counts_with_the_server_tokenizer(simulator: SimulatedEngine) -> None:
    simulator.config.answer = lambda _m: "Hello to you, friend."
    engine = client(simulator.url)
    chunks = list(engine.stream(ChatRequest(messages=HELLO)))
    assert "".join(c.text for c in chunks) == "Hello to you, friend."
    assert chunks[-1].finish_reason == "stop"
    assert engine.default_model == "sim-model"
    assert engine.known_count("hello there, friend") is None, "not counted yet"
    assert engine.count_text("hello there, friend") == 4
    assert engine.known_count("hello there, friend") == 4 and engine.known_count("hello", model="other") is None
    assert engine.count_tokens(HELLO) == 3 + (2 + 5) + (2 + 5)
    body = simulator.requests[-1].body
    assert "priority" not in body and "cache_salt" not in body  # not vLLM: no vLLM extras sent


def test_vllm_extras_are_sent_and_its_usage_read(simulator: SimulatedEngine) -> None:
    simulator.config.vllm = True
    simulator.config.max_model_len = 3000
    engine = client(simulator.url)
    result = complete(engine, ChatRequest(messages=HELLO, priority=2, cache_salt="tenant-a"))
    body = simulator.requests[-1].body
    assert body["priority"] == 2 and body["cache_salt"] == "tenant-a"
    assert body["stream_options"] == {"include_usage": True}
    assert result.prompt_tokens == engine.count_tokens(HELLO) and result.completion_tokens == 4
    assert engine.context_window() == 3000


def test_server_errors_are_retried_then_reported(simulator: SimulatedEngine) -> None:
    engine = client(simulator.url)
    engine.server_info()
    simulator.config.mode = "unavailable"
    with pytest.raises(EngineUnavailable, match="503"):
        list(engine.stream(ChatRequest(messages=HELLO)))
    assert len(simulator.requests) == 3  # the first try and two retries


def test_rate_limits_carry_retry_after(simulator: SimulatedEngine) -> None:
    engine = client(simulator.url, retries=0)
    engine.server_info()
    simulator.config.mode = "rate_limited"
    with pytest.raises(EngineRateLimited) as limited:
        list(engine.stream(ChatRequest(messages=HELLO)))
    assert limited.value.retry_after == 1.0


def test_a_prompt_too_long_is_a_bad_request_not_retried(simulator: SimulatedEngine) -> None:
    simulator.config.max_model_len = 5
    engine = client(simulator.url)
    with pytest.raises(EngineBadRequest):
        list(engine.stream(ChatRequest(messages=HELLO)))
    assert len(simulator.requests) == 1


def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = client(f"http://127.0.0.1:{port}", retries=1)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable):
        engine.server_info()
    assert time.monotonic() - started < 5
    assert engine.health().ok is False


def test_silence_between_tokens_times_out_but_a_long_answer_does_not() -> None:
    slow_start = SimulatorConfig(ttft=1.5, answer=lambda _m: "late")
    with SimulatedEngine(slow_start) as sim:
        engine = client(sim.url, token_timeout=0.5, retries=0)
        with pytest.raises(EngineUnavailable):
            list(engine.stream(ChatRequest(messages=HELLO)))
    steady = SimulatorConfig(inter_token=0.1, answer=lambda _m: " ".join(["tok"] * 15))
    with SimulatedEngine(steady) as sim:
        engine = client(sim.url, token_timeout=0.5, retries=0)
        # 1.5 s in total, never 0.5 s without a token: the answer completes.
        assert complete(engine, ChatRequest(messages=HELLO)).text.count("tok") == 15


def test_a_server_that_dies_mid_stream_is_unavailable() -> None:
    with SimulatedEngine(SimulatorConfig(drop_after_tokens=2, answer=lambda _m: "a b c d e")) as sim:
        engine = client(sim.url)
        seen: list[str] = []
        with pytest.raises(EngineUnavailable, match="mid-answer"):
            for chunk in engine.stream(ChatRequest(messages=HELLO)):
                seen.append(chunk.text)
        assert "".join(seen) == "a b "
