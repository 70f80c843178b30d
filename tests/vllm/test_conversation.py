"""Conversations through the whole task path (PostgreSQL, Redis, Celery worker) answered by real vLLM."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from db.models import Usage
from engine import vllm_metrics
from engine.vllm_cpu import VLLMServer
from tests.helpers import chat, messages
from tests.vllm.conftest import ANSWER_TOKENS, MAX_MODEL_LEN
from workers import prompt
from workers.stack import Stack


def test_usage_is_recorded_from_vllms_own_counts(stack: Stack, server: VLLMServer) -> None:
    before = vllm_metrics.read(server.url)
    for text in ("My name is Ada.", "What is my name?", "Say it once more."):
        said = chat(stack, text, timeout=120)
        assert said.code == 0 and said.out.strip(), said.err
    change = vllm_metrics.delta(before, vllm_metrics.read(server.url))
    answers = messages(stack, "assistant")
    assert len(answers) == 3 and all(a.content for a in answers)
    # Exactly the tokens vLLM itself counted for these three requests.
    assert sum(a.prompt_tokens or 0 for a in answers) == change[vllm_metrics.PROMPT_TOKENS]
    assert sum(a.completion_tokens or 0 for a in answers) == change[vllm_metrics.GENERATION_TOKENS]
    with stack.sessions() as session:
        rows = list(session.scalars(select(Usage)))
    assert sum(r.prompt_tokens for r in rows) == change[vllm_metrics.PROMPT_TOKENS]
    # Each follow-up carried the conversation so far.
    prompts = [a.prompt_tokens or 0 for a in answers]
    assert prompts[0] < prompts[1] < prompts[2]


def test_an_over_long_conversation_is_trimmed_not_refused(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    note = "The quarterly report lists figures for every region and every product line. " * 20
    with caplog.at_level(logging.INFO, "workers.pipeline"):
        for turn in range(4):
            said = chat(stack, f"Note {turn}: {note}", timeout=120)
            assert said.code == 0, said.err
        # One message alone longer than the whole window: its middle is cut.
        said = chat(stack, "Summarize this: " + note * 6, timeout=120)
        assert said.code == 0, said.err
    assert any("trimmed prompt" in r.getMessage() for r in caplog.records)
    answers = messages(stack, "assistant")
    assert len(answers) == 5
    assert all((a.prompt_tokens or 0) <= MAX_MODEL_LEN - ANSWER_TOKENS for a in answers)


def _follow_up_hits(stack: Stack, server: VLLMServer, thread: str) -> list[float]:
    """Prefix-cache hits (tokens) of each turn of a three-turn conversation."""
    opening = "Here is the plan for the garden: roses by the wall, herbs by the door. " * 12
    hits = []
    for text in (opening, "Where do the herbs go?", "And the roses?"):
        before = vllm_metrics.read(server.url)
        assert chat(stack, text, thread=thread, timeout=120).code == 0
        hits.append(vllm_metrics.delta(before, vllm_metrics.read(server.url))[vllm_metrics.PREFIX_HITS])
    return hits


def test_follow_up_turns_hit_vllms_prefix_cache(
    stack: Stack, server: VLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stable = _follow_up_hits(stack, server, "stable")
    assert stable[0] == 0 and all(hit >= 128 for hit in stable[1:])

    # The mistake the fixed prompt order avoids: something that changes every turn up front.
    plain = prompt.system_prompt
    monkeypatch.setattr(
        prompt,
        "system_prompt",
        lambda base, prefs, memories=(): f"Now: {datetime.now(UTC)}. " + plain(base, prefs, memories),
    )
    assert _follow_up_hits(stack, server, "unstable") == [0, 0, 0]
