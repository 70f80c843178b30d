"""LLMOS in front of a real vLLM (on this machine's CPU): what it costs and what it saves.

Prints, from one vLLM run:
  1. time to first token and tokens/s of the same question asked straight to vLLM (OpenAI SDK,
     streaming) and through LLMOS (terminal surface → Redis → Celery worker → PostgreSQL → engine
     client → reply bus), alternating, medians over --rounds;
  2. vLLM's prefix-cache hit rate (its own /metrics counters) over a 10-turn conversation through
     LLMOS, with LLMOS's stable prompt prefixes and with a per-turn timestamp put first, the common
     mistake the fixed prompt order avoids.

    .venv/bin/python benchmarks/vllm_engine.py --redis redis://127.0.0.1:6379/10

vLLM is set up once per machine (python -m engine.vllm_cpu setup); the scratch PostgreSQL database
is created and dropped here.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openai
import psycopg
from sqlalchemy import select

from bots.terminal import TerminalChat
from db.models import Message, ProcessedEvent
from engine import vllm_metrics
from engine.embedded import MODEL_ALIAS
from engine.vllm_cpu import VLLMServer, ensure
from workers import prompt
from workers.events import Kind
from workers.settings import load_settings
from workers.skills import SKILLS
from workers.stack import Stack

QUESTION = "Explain in a few sentences why the sky is blue."
ANSWER_TOKENS = 128
TURNS = (
    "I am planning a week in Portugal in May. Where should I start?",
    "I like old towns and good food. Is Lisbon or Porto better for that?",
    "How many days would you give Porto?",
    "What should I eat there?",
    "Is the train from Porto to Lisbon easy?",
    "What is worth seeing in Lisbon on a first visit?",
    "Any day trips from Lisbon you would suggest?",
    "Is Sintra too crowded in May?",
    "What should I pack for the weather?",
    "Please sum up the plan we made.",
)


@dataclass
class Timing:
    ttft: float
    tokens_per_s: float
    tokens: int
    # Through LLMOS only: where the time to first token went (seconds).
    steps: tuple[float, float, float] | None = None


class FirstWrite(io.StringIO):
    """The terminal's output, noting when the first piece of the answer was shown."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None
        self.first_wall = 0.0

    def write(self, text: str) -> int:
        if text.strip() and self.first is None:
            self.first, self.first_wall = time.monotonic(), time.time()
        return super().write(text)


def direct(client: openai.OpenAI, system: str) -> Timing:
    started = time.monotonic()
    first = None
    tokens = 0
    stream = client.chat.completions.create(
        model=MODEL_ALIAS,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": QUESTION}],
        max_tokens=ANSWER_TOKENS,
        temperature=SKILLS[Kind.ASK].temperature,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.monotonic()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    ended = time.monotonic()
    assert first is not None
    return Timing(first - started, (tokens - 1) / (ended - first), tokens)


def through_llmos(stack: Stack) -> Timing:
    out = FirstWrite()
    chat = TerminalChat(sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, thread=uuid.uuid4().hex, out=out)
    started = time.monotonic()
    if chat.ask(QUESTION) != 0:
        raise RuntimeError("LLMOS did not answer")
    ended = time.monotonic()
    assert out.first is not None
    tokens, event = _last_answer(stack)
    assert event.started_at is not None and event.first_token_at is not None
    steps = (
        event.started_at - event.received_at,  # intake, queue, worker claim
        event.first_token_at - event.started_at,  # context, trim (/tokenize), vLLM's own TTFT
        out.first_wall - event.first_token_at,  # reply bus to the terminal
    )
    return Timing(out.first - started, (tokens - 1) / (ended - out.first), tokens, steps)


def _last_answer(stack: Stack) -> tuple[int, ProcessedEvent]:
    with stack.sessions() as session:
        last = session.scalars(select(Message).where(Message.role == "assistant").order_by(Message.id.desc())).first()
        event = session.scalars(select(ProcessedEvent).order_by(ProcessedEvent.received_at.desc())).first()
        assert last is not None and last.completion_tokens and event is not None
        session.expunge(event)
        return last.completion_tokens, event


def conversation_hit_rate(stack: Stack, url: str) -> tuple[float, list[float]]:
    chat = TerminalChat(
        sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, thread=uuid.uuid4().hex, out=io.StringIO()
    )
    start = vllm_metrics.read(url)
    per_turn = []
    for text in TURNS:
        before = vllm_metrics.read(url)
        if chat.ask(text) != 0:
            raise RuntimeError("LLMOS did not answer")
        per_turn.append(vllm_metrics.prefix_cache_hit_rate(vllm_metrics.delta(before, vllm_metrics.read(url))))
    return vllm_metrics.prefix_cache_hit_rate(vllm_metrics.delta(start, vllm_metrics.read(url))), per_turn


@contextmanager
def unstable_prefix() -> Iterator[None]:
    """What a naive bot does: the current time at the top of the system prompt, new every turn."""
    plain = prompt.system_prompt
    prompt.system_prompt = lambda base, prefs: f"Current time: {datetime.now(UTC).isoformat()}. " + plain(base, prefs)
    try:
        yield
    finally:
        prompt.system_prompt = plain


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"llmos_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--latency-only", action="store_true", help="skip the 10-turn prefix-cache runs")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="admin URL")
    args = parser.parse_args()

    installation = ensure()
    with (
        tempfile.TemporaryDirectory() as home,
        scratch_database(args.pg) as database_url,
        VLLMServer(installation=installation, max_model_len=2048, log_path=Path(home) / "vllm.log") as server,
    ):
        settings = load_settings(
            _env_file=None,
            llmos_home=Path(home),
            database_url=database_url,
            redis_url=args.redis,
            engine_url=f"{server.url}/v1",
            answer_max_tokens=ANSWER_TOKENS,
            worker_concurrency=2,
        )
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none")
        # The system message LLMOS sends for this user (no preferences): the direct request sends it too.
        system = prompt.system_prompt(settings.system_prompt, {})
        with Stack(settings) as stack:
            stack.start_worker()
            direct(client, system), through_llmos(stack)  # warm both paths up
            runs: dict[str, list[Timing]] = {"direct to vLLM": [], "through LLMOS": []}
            for _ in range(args.rounds):
                runs["direct to vLLM"].append(direct(client, system))
                runs["through LLMOS"].append(through_llmos(stack))
            stable = unstable = 0.0
            stable_turns: list[float] = []
            unstable_turns: list[float] = []
            if not args.latency_only:
                stable, stable_turns = conversation_hit_rate(stack, server.url)
                with unstable_prefix():
                    unstable, unstable_turns = conversation_hit_rate(stack, server.url)
        report(
            runs=runs,
            stable=stable,
            stable_turns=stable_turns,
            unstable=unstable,
            unstable_turns=unstable_turns,
            rounds=args.rounds,
        )


def report(
    *,
    runs: dict[str, list[Timing]],
    stable: float,
    stable_turns: list[float],
    unstable: float,
    unstable_turns: list[float],
    rounds: int,
) -> None:
    print(f"\nvLLM 0.32.0 on CPU, {MODEL_ALIAS}, float32; {rounds} rounds, answers up to {ANSWER_TOKENS} tokens")
    print(f"question: {QUESTION!r}\n")
    print(f"{'path':<16} {'TTFT median':>12} {'TTFT min':>9} {'tokens/s median':>16} {'tokens median':>14}")
    for name, timings in runs.items():
        print(
            f"{name:<16} {median([t.ttft for t in timings]) * 1000:>10.0f}ms"
            f" {min(t.ttft for t in timings) * 1000:>7.0f}ms"
            f" {median([t.tokens_per_s for t in timings]):>16.1f}"
            f" {median([float(t.tokens) for t in timings]):>14.0f}"
        )
    direct_ttft = median([t.ttft for t in runs["direct to vLLM"]])
    llmos_ttft = median([t.ttft for t in runs["through LLMOS"]])
    print(f"LLMOS adds {(llmos_ttft - direct_ttft) * 1000:.0f} ms to the first token (median)")
    steps = [t.steps for t in runs["through LLMOS"] if t.steps]
    names = ("intake + queue + claim", "context + trim + vLLM TTFT", "reply bus to screen")
    print(
        "  of LLMOS's time to first token (medians): "
        + ", ".join(f"{name} {median([s[i] for s in steps]) * 1000:.0f} ms" for i, name in enumerate(names))
    )
    if not stable_turns:
        return
    print(f"\nprefix-cache hit rate over a {len(TURNS)}-turn conversation (vLLM /metrics, block-granular):")
    print(f"  LLMOS stable prefixes:        {stable:6.1%}   per turn: {_turns(stable_turns)}")
    print(f"  timestamp first (unstable):   {unstable:6.1%}   per turn: {_turns(unstable_turns)}")


def _turns(rates: list[float]) -> str:
    return " ".join(f"{rate:.0%}" for rate in rates)


if __name__ == "__main__":
    main()
