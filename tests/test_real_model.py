"""The real embedded model (SmolLM2-135M-Instruct, llama.cpp from the xllamacpp wheel) through the task path."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db import conversations, directory
from db.models import Conversation, Message, Usage
from engine.base import ChatMessage
from engine.embedded import EmbeddedEngine
from engine.openai_compat import OpenAICompatEngine
from tests.conftest import make_settings
from tests.helpers import chat
from workers.stack import Stack

pytestmark = pytest.mark.model
REPO = Path(__file__).resolve().parents[1]
WINDOW = 1024


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine(context_window=WINDOW, threads=2) as engine:
        yield engine


@pytest.fixture
def model_stack(embedded: EmbeddedEngine, tmp_path: Path) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'm.db'}",
        engine_url=embedded.url,
        engine_context_window=WINDOW,
        engine_retries=2,
        # Reading a long prompt on two busy cores can take a while before the first token.
        engine_token_timeout=120.0,
    )
    with Stack(settings) as stack:
        stack.start_worker()
        yield stack


def test_the_model_answers_and_the_answer_is_stored(model_stack: Stack) -> None:
    said = chat(model_stack, "What is the capital of France?", timeout=120)
    assert said.code == 0, said.err
    assert "Paris" in said.out
    with model_stack.sessions() as session:
        answer = session.scalars(select(Message).where(Message.role == "assistant")).one()
        usage = session.scalars(select(Usage)).one()
    assert answer.content in said.out and answer.model == "smollm2-135m-instruct"
    assert usage.prompt_tokens > 10 and usage.completion_tokens > 3


def test_a_long_conversation_is_trimmed_with_real_token_counts(model_stack: Stack, embedded: EmbeddedEngine) -> None:
    filler = "The quick brown fox jumps over the lazy dog while the band plays on. " * 6
    with model_stack.sessions.begin() as session:
        place = directory.resolve(
            session,
            platform="terminal",
            tenant_external="local",
            user_external="alice",
            channel_external="terminal",
            thread_key="t1",
        )
        for i in range(40):
            conversations.add_message(
                session,
                tenant_id=place.tenant_id,
                conversation_id=place.conversation_id,
                user_id=place.user_id,
                event_key=f"seed-{i}",
                role="user" if i % 2 == 0 else "assistant",
                content=f"{i}: {filler}",
            )
    engine = OpenAICompatEngine(url=embedded.url, context_window=WINDOW)
    full = [ChatMessage("user", f"{i}: {filler}") for i in range(40)]
    assert engine.count_tokens(full) > WINDOW  # the whole history could never be sent

    said = chat(model_stack, "Say hello.", timeout=120)
    assert said.code == 0, said.err
    with model_stack.sessions() as session:
        usage = session.scalars(select(Usage)).one()
    budget = WINDOW - min(model_stack.settings.answer_max_tokens, WINDOW // 2)
    assert 0 < usage.prompt_tokens <= budget
    engine.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "DATABASE_", "REDIS_"))}
    env.update({"LLMOS_HOME": str(tmp_path / "home"), "REDIS_AUTODETECT": "false", "LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def test_llmos_chat_from_a_fresh_home(tmp_path: Path) -> None:
    """README's path: no configuration at all; `llmos chat` brings up the embedded model itself."""
    result = subprocess.run(
        [sys.executable, "-m", "bots.cli", "chat", "What is the capital of France?"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    stack_settings = make_settings(tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'home' / 'llmos.db'}")
    with Stack(stack_settings) as stack, stack.sessions() as session:
        assert len(session.scalars(select(Conversation)).all()) == 1
        assert [m.role for m in session.scalars(select(Message).order_by(Message.id))] == ["user", "assistant"]


def test_llmos_chat_uses_the_worker_of_a_running_llmos(tmp_path: Path, redis_url: str) -> None:
    prefix = f"run-{uuid.uuid4().hex[:8]}:"
    env = _env(tmp_path, REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix)
    run = subprocess.Popen(
        [sys.executable, "-u", "-m", "bots.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert run.stdout is not None
        banner = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            banner.append(line)
            if "llmos chat" in line or not line:
                break
        text = "".join(banner)
        assert "LLMOS is running." in text, text
        assert "embedded SmolLM2" in text and "Redis at" in text
        # An engine URL nobody answers: only the running LLMOS's worker can produce this answer.
        chat_env = {**env, "ENGINE_URL": "http://127.0.0.1:9/v1"}
        result = subprocess.run(
            [sys.executable, "-m", "bots.cli", "chat", "What is the capital of France?"],
            cwd=tmp_path,
            env=chat_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Paris" in result.stdout
    finally:
        run.terminate()
        run.wait(30)


def _engine_port(banner: str) -> int:
    match = re.search(r"embedded SmolLM2.* at http://127\.0\.0\.1:(\d+)", banner)
    assert match, banner
    return int(match.group(1))


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_killed_llmos_run_leaves_no_engine_behind(tmp_path: Path) -> None:
    """`kill -9` gives LLMOS no chance to stop its engine: the engine notices by itself and exits."""
    run = subprocess.Popen(
        [sys.executable, "-u", "-m", "bots.cli", "run"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert run.stdout is not None
        banner = ""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "llmos chat" not in banner:
            line = run.stdout.readline()
            if not line:
                break
            banner += line
        port = _engine_port(banner)
        assert _listening(port)
        run.kill()
        run.wait(10)
        deadline = time.monotonic() + 10
        while _listening(port):
            assert time.monotonic() < deadline, "the embedded engine outlived the killed llmos run"
            time.sleep(0.2)
    finally:
        run.kill()
        run.wait(10)
