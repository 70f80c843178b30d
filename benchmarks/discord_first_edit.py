"""Time from a Discord MESSAGE_CREATE to the bot's first text reaching the REST API, with the embedded model.

The whole path runs: fake Discord (gateway + REST) → discord.py bot → intake → Celery (Redis if
LLMOS_BENCH_REDIS is set, else the in-process broker) → worker → embedded SmolLM2 (llama.cpp) →
Discord sink → fake REST API. For comparison, the same question's time to first token is measured on
the engine alone, in the same run, so the overhead of everything around the model is visible.

    .venv/bin/python -m benchmarks.discord_first_edit [--runs 10]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bots.discord.settings import load_discord_settings
from bots.discord.surface import DiscordSurface
from db.models import ProcessedEvent
from engine.base import ChatMessage, ChatRequest
from tests.fixtures.discord_fake import FakeDiscord
from workers.settings import load_settings
from workers.stack import Stack

# Two lists of similar questions: the engine-alone and the Discord measurement each ask a question the
# model has not just seen, so llama.cpp's prompt cache favours neither.
QUESTIONS = [
    ("What is the capital of France?", "What is the capital of Spain?"),
    ("Name three primary colours.", "Name three kinds of trees."),
    ("Why is the sky blue?", "Why is the sea salty?"),
    ("Give me a tip for writing clean code.", "Give me a tip for writing good tests."),
    ("What is 12 times 12?", "What is 15 times 15?"),
]


def _first(fake: FakeDiscord, method: str, since: float, *, message_id: str | None = None) -> float | None:
    def find() -> float | None:
        for call in fake.world.calls:
            if call.at < since or call.method != method or "/messages" not in call.path:
                continue
            if method == "POST" and (call.body or {}).get("content"):
                return call.at
            if method == "PATCH" and message_id and call.path.endswith(message_id):
                return call.at
        return None

    return fake.run(find)


def _answer_id(fake: FakeDiscord, question_id: str) -> str | None:
    def find() -> str | None:
        for message in fake.world.messages.values():
            if (message.get("message_reference") or {}).get("message_id") == question_id:
                return str(message["id"])
        return None

    return fake.run(find)


def _done(stack: Stack, message_id: str) -> bool | None:
    with stack.sessions() as session:
        status = session.scalar(select(ProcessedEvent.status).where(ProcessedEvent.key.endswith(f":{message_id}")))
    return True if status in ("done", "failed") else None


def _wait(check, timeout: float = 300.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.005)
    raise TimeoutError("no answer within the timeout")


def _engine_ttft(stack: Stack, question: str) -> float | None:
    engine = stack.start_engine()
    request = ChatRequest(
        messages=(ChatMessage("system", stack.settings.system_prompt), ChatMessage("user", question)),
        max_tokens=64,
    )
    start = time.monotonic()
    elapsed = None
    stream = engine.stream(request)
    try:
        for chunk in stream:
            if chunk.text:
                elapsed = time.monotonic() - start
                break
    finally:
        getattr(stream, "close", lambda: None)()  # closing the stream stops the generation on the server
    return elapsed


def _summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (
        f"{name:<44} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   "
        f"min {ms[0]:7.1f} ms   max {ms[-1]:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    redis_url = os.environ.get("LLMOS_BENCH_REDIS")
    with tempfile.TemporaryDirectory() as home, FakeDiscord() as fake:
        settings = load_settings(
            _env_file=None, llmos_home=Path(home), redis_url=redis_url, redis_autodetect=False, worker_concurrency=2
        )
        discord = load_discord_settings(
            _env_file=None, token=fake.world.token, api_url=fake.url, gateway_url=fake.gateway_url
        )
        bot = DiscordSurface(settings=discord)
        with Stack(settings, surfaces=[bot]) as stack:
            stack.start_worker()
            bot.start(stack)
            stack.on_close(bot.stop)
            print(f"engine: {stack.engine_label}")
            print(f"broker: {stack.broker.label}")
            print(
                f"runs:   {args.runs} questions, one at a time, in one channel (edit interval {discord.edit_interval}s)"
            )
            channel = fake.world.add_channel("bench")
            warm = fake.post(channel, "Say hello.", mention=True)
            _wait(lambda: _answer_id(fake, str(warm["id"])))
            time.sleep(discord.edit_interval * 2)
            to_text: list[float] = []
            to_edit: list[float] = []
            ttft: list[float] = []
            for run in range(args.runs):
                alone, question = QUESTIONS[run % len(QUESTIONS)]
                first_token = _engine_ttft(stack, alone)
                if first_token is not None:  # the model may answer with nothing at all
                    ttft.append(first_token)
                start = time.monotonic()
                asked = fake.post(channel, question, mention=True)
                answer_id = _wait(lambda asked=asked: _answer_id(fake, str(asked["id"])))
                to_text.append(_wait(lambda s=start: _first(fake, "POST", s)) - start)
                _wait(lambda asked=asked: _done(stack, str(asked["id"])))
                edit = _first(fake, "PATCH", start, message_id=answer_id)
                if edit is not None:  # an answer shorter than one edit interval is never edited
                    to_edit.append(edit - start)
                time.sleep(discord.edit_interval * 2)
    print(_summary("engine alone: time to first token", ttft))
    print(_summary("MESSAGE_CREATE → first text posted (POST)", to_text))
    if to_edit:
        print(_summary(f"MESSAGE_CREATE → first edit (PATCH) [{len(to_edit)} runs]", to_edit))
    print(
        f"median overhead around the model (first text posted minus engine TTFT): "
        f"{(statistics.median(to_text) - statistics.median(ttft)) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
