"""vLLM killed and restarted under LLMOS: users get an apology, not a hang; replicas take over and give back.

The restart brings vLLM back with a reasoning parser, as an operator moving to a reasoning model
would, and the last test checks LLMOS against vLLM's `reasoning` field.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.base import ChatMessage, ChatRequest, complete
from engine.embedded import MODEL_ALIAS, EmbeddedEngine
from engine.openai_compat import OpenAICompatEngine
from engine.router import ReplicaRouter, rank
from engine.vllm_cpu import VLLMServer
from tests.helpers import chat, messages
from tests.vllm.conftest import MAX_MODEL_LEN, REASONING_ARGS, VLLM
from tests.vllm.test_engine import THINKING
from workers.stack import Stack


@pytest.fixture
def llamacpp(tmp_path: Path) -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine(threads=1, context_window=MAX_MODEL_LEN, log_dir=tmp_path) as server:
        yield server


def turn(router: ReplicaRouter, key: str, text: str) -> str:
    return complete(router, ChatRequest(messages=(ChatMessage("user", text),), affinity=key, max_tokens=16)).text


def test_vllm_killed_mid_conversation_and_restarted(
    stack: Stack, server: VLLMServer, vllm: VLLM, llamacpp: EmbeddedEngine
) -> None:
    served: list[str] = []

    class Noting(OpenAICompatEngine):
        def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            served.append(self.url)
            return super().stream(request)

    router = ReplicaRouter(
        endpoints={MODEL_ALIAS: [server.url, llamacpp.url]},
        make_engine=lambda url, model: Noting(url=url, model=model, retries=0, connect_timeout=2.0),
        retries=1,
        retry_backoff=0.05,
        recheck=0.5,
    )
    # A conversation whose first choice is vLLM.
    key = next(k for k in (f"conversation-{i}" for i in range(100)) if rank(k, router.replicas)[0].url == server.url)
    assert chat(stack, "My name is Ada.", timeout=120).code == 0
    assert turn(router, key, "Hello, I am Ada.") and served[-1] == server.url

    vllm.kill()
    said = chat(stack, "What is my name?", timeout=120)
    assert said.code == 1 and "not answering" in said.err
    assert stack.engine is not None and not stack.engine.health().ok
    # The routed conversation goes on, on llama.cpp.
    assert turn(router, key, "What is my name?") and served[-1] == llamacpp.url

    started = time.monotonic()
    vllm.start(REASONING_ARGS)
    assert time.monotonic() - started < 240
    assert stack.engine.health().ok
    said = chat(stack, "Say my name again.", timeout=120)
    assert said.code == 0 and said.out.strip(), said.err
    # Nothing was lost: the question asked while vLLM was down is answered too, now that it is back
    # (the reconciler sends it again), and no question has two answers.
    deadline = time.monotonic() + 60
    while sorted(m.role for m in messages(stack)) != ["assistant"] * 3 + ["user"] * 3:
        assert time.monotonic() < deadline, [m.role for m in messages(stack)]
        time.sleep(0.5)
    answered = {m.event_key for m in messages(stack) if m.role == "assistant"}
    assert answered == {m.event_key for m in messages(stack) if m.role == "user"}

    deadline = time.monotonic() + 30
    while not router.replicas[0].up:
        assert time.monotonic() < deadline, "the restarted vLLM was never taken back"
        time.sleep(0.2)
    assert turn(router, key, "Are you back?") is not None and served[-1] == server.url
    router.close()


def test_vllms_reasoning_field_is_kept_out_of_the_answer(vllm: VLLM, caplog: pytest.LogCaptureFixture) -> None:
    server = vllm.ensure(REASONING_ARGS)
    guided = OpenAICompatEngine(url=server.url, retries=0, extra_body={"structured_outputs": {"regex": THINKING}})
    plain = OpenAICompatEngine(url=server.url, retries=0)
    ask = ChatRequest(messages=(ChatMessage("user", "What is 2+2?"),), max_tokens=60, temperature=0)
    try:
        assert complete(guided, ask).text == "The answer is 4."
        shown = complete(guided, ChatRequest(messages=ask.messages, max_tokens=60, show_reasoning=True)).text
        assert shown == "<think>\nTwo plus two is four.\n</think>\n\nThe answer is 4."
        # SmolLM2 never closes a thought, so the parser calls its whole answer reasoning: still shown.
        with caplog.at_level(logging.WARNING, "engine.openai_compat"):
            answer = complete(plain, ask)
        assert answer.finish_reason == "stop" and answer.text.strip()
        assert any("sent only reasoning" in r.getMessage() for r in caplog.records)
    finally:
        guided.close()
        plain.close()
