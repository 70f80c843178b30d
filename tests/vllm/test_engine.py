"""LLMOS's engine client against a real vLLM: detection, streaming, token counts, priorities, salts."""

from __future__ import annotations

import threading
import time

from engine import vllm_metrics
from engine.base import ChatMessage, ChatRequest, complete
from engine.embedded import MODEL_ALIAS
from engine.openai_compat import OpenAICompatEngine
from engine.vllm_cpu import VLLMServer
from tests.vllm.conftest import MAX_MODEL_LEN
from workers.events import PriorityClass
from workers.queues import route_for

THINKING = r"<think>Two plus two is four[.]</think>\n\nThe answer is 4[.]"


def request(text: str, **fields: object) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", text),), **fields)  # type: ignore[arg-type]


def test_vllm_and_its_extras_are_detected(client: OpenAICompatEngine) -> None:
    info = client.server_info()
    assert info.is_vllm and info.tokenize_path == "/tokenize"
    assert info.models == (MODEL_ALIAS,) and info.max_model_len == MAX_MODEL_LEN
    assert client.context_window() == MAX_MODEL_LEN
    health = client.health()
    assert health.ok and health.detail == "vllm"


def test_answers_stream_token_by_token(server: VLLMServer) -> None:
    engine = OpenAICompatEngine(url=server.url, retries=0, extra_body={"ignore_eos": True})
    arrivals, parts, last = [], [], None
    for chunk in engine.stream(request("Tell me about the sea.", max_tokens=32, temperature=0)):
        if chunk.text:
            arrivals.append(time.monotonic())
            parts.append(chunk.text)
        last = chunk
    engine.close()
    assert len(parts) >= 16  # one piece per token or so, not one block at the end
    assert arrivals[-1] - arrivals[0] > 0.3
    assert last is not None and last.finish_reason == "length"


def test_token_counts_are_vllms_own(client: OpenAICompatEngine) -> None:
    messages = (
        ChatMessage("system", "You answer in one short sentence."),
        ChatMessage("user", "Name a colour."),
        ChatMessage("assistant", "Blue."),
        ChatMessage("user", "Another one, please."),
    )
    counted = client.count_tokens(messages)
    done = complete(client, ChatRequest(messages=messages, max_tokens=4))
    # The chat template's own overhead included: exactly what vLLM bills for the prompt.
    assert done.prompt_tokens == counted
    assert done.completion_tokens == 4 or done.finish_reason == "stop"
    assert client.count_text("Hello world") == 2


def _waiting(url: str) -> float:
    return vllm_metrics.read(url).get("vllm:num_requests_waiting", 0.0)


def _first_tokens(
    engine: OpenAICompatEngine, url: str, run: str, names: list[str], urgent: PriorityClass
) -> tuple[dict[str, float], float]:
    """Fill vLLM's slots and its queue with batch work, then send one request of class `urgent`.

    The late request goes only once vLLM itself reports at least three waiting, so the test does not
    depend on how fast this machine decodes. Each run's prompts are its own, so the second run's are
    not shortened by the prefix cache the first one filled.
    """
    first: dict[str, float] = {}

    def run_one(name: str, cls: PriorityClass) -> None:
        ask = request(
            f"{run}: write a long story about {name}.", max_tokens=48, priority=route_for(cls).engine_priority
        )
        for chunk in engine.stream(ask):
            if chunk.text and name not in first:
                first[name] = time.monotonic()

    threads = [threading.Thread(target=run_one, args=(name, PriorityClass.BATCH)) for name in names]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # distinct arrival times: the order within a class is first come, first served
    deadline = time.monotonic() + 30
    while _waiting(url) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = time.monotonic()
    threads.append(threading.Thread(target=run_one, args=("urgent", urgent)))
    threads[-1].start()
    for thread in threads:
        thread.join(timeout=120)
    return first, sent


def test_priority_classes_reach_vllm_and_change_the_order(server: VLLMServer) -> None:
    engine = OpenAICompatEngine(url=server.url, retries=0, extra_body={"ignore_eos": True})
    names = [f"batch{i}" for i in range(6)]
    try:
        first, sent = _first_tokens(engine, server.url, "Run one", names, PriorityClass.INTERACTIVE)
        queued = [name for name in names if first[name] > sent]
        assert len(queued) >= 3, "the batch load did not queue"
        assert first["urgent"] < min(first[name] for name in queued)
        # The control: the same load with the late request in the batch class waits its turn.
        first, sent = _first_tokens(engine, server.url, "Run two", names, PriorityClass.BATCH)
        queued = [name for name in names if first[name] > sent]
        assert len(queued) >= 3, "the batch load did not queue"
        assert first["urgent"] > max(first[name] for name in queued)
    finally:
        engine.close()


def test_a_tenants_cache_salt_keeps_its_prefix_cache_to_itself(client: OpenAICompatEngine, server: VLLMServer) -> None:
    system = ChatMessage("system", "You are the archivist of the northern library. " * 30)

    def hits(salt: str) -> float:
        before = vllm_metrics.read(server.url)
        complete(client, ChatRequest(messages=(system, ChatMessage("user", "Hi")), max_tokens=2, cache_salt=salt))
        return vllm_metrics.delta(before, vllm_metrics.read(server.url))[vllm_metrics.PREFIX_HITS]

    assert hits("tenant-a") == 0
    assert hits("tenant-a") >= 128  # the same tenant reuses its cached prefix
    assert hits("tenant-b") == 0  # another tenant, the same prompt: nothing to probe


def test_inline_thinking_is_kept_out_of_the_answer(server: VLLMServer) -> None:
    # Structured outputs make SmolLM2 "think" in <think> tags, which vLLM streams cut into pieces.
    engine = OpenAICompatEngine(url=server.url, retries=0, extra_body={"structured_outputs": {"regex": THINKING}})
    try:
        assert complete(engine, request("What is 2+2?", max_tokens=40)).text == "The answer is 4."
        shown = complete(engine, request("What is 2+2?", max_tokens=40, show_reasoning=True)).text
        assert shown == "<think>Two plus two is four.</think>\n\nThe answer is 4."
    finally:
        engine.close()
