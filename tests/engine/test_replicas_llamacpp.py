"""Two real llama.cpp servers as replicas of one model; one is killed mid-conversation and comes back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.base import ChatRequest, StreamChunk
from engine.embedded import MODEL_ALIAS, EmbeddedEngine
from engine.openai_compat import OpenAICompatEngine
from engine.router import ReplicaRouter
from tests.conftest import make_settings
from tests.helpers import chat, messages
from workers.stack import Stack

pytestmark = pytest.mark.model


class Recording(OpenAICompatEngine):
    """The real client, noting which server each answer came from."""

    served: list[str] = []  # noqa: RUF012 - shared on purpose: one log for all replicas, in order

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        for chunk in super().stream(request):
            if chunk.finish_reason:
                Recording.served.append(self.url)
            yield chunk


def kill(server: EmbeddedEngine) -> None:
    process = server._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    server._process = None


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[EmbeddedEngine]]:
    running = [EmbeddedEngine(threads=1, context_window=2048, log_dir=tmp_path / f"s{i}").start() for i in range(2)]
    yield running
    for server in running:
        server.stop()


def test_a_conversation_moves_off_a_killed_replica_and_back(tmp_path: Path, servers: list[EmbeddedEngine]) -> None:
    Recording.served = []
    router = ReplicaRouter(
        endpoints={MODEL_ALIAS: [s.url for s in servers]},
        make_engine=lambda url, model: Recording(url=url, model=model, retries=0, connect_timeout=2.0),
        retries=1,
        retry_backoff=0.05,
        recheck=0.2,
    )
    settings = make_settings(tmp_path, answer_max_tokens=24, engine_token_timeout=30.0)
    with Stack(settings, engine=router) as stack:
        stack.start_worker()
        assert chat(stack, "My name is Ada. Say hello.", timeout=60).code == 0
        home_url = Recording.served[-1]
        home = next(i for i, s in enumerate(servers) if s.url == home_url)

        kill(servers[home])
        said = chat(stack, "What is my name?", timeout=60)
        assert said.code == 0, said.err
        assert Recording.served[-1] == servers[1 - home].url
        health = router.health()
        assert health.ok and f"{MODEL_ALIAS}: 1/2 replicas up" in health.detail

        servers[home] = EmbeddedEngine(port=servers[home].port, threads=1, context_window=2048).start()
        deadline = time.monotonic() + 20
        while not router.replicas[home].up:
            assert time.monotonic() < deadline, "the restarted replica was never taken back"
            time.sleep(0.1)
        assert chat(stack, "Thanks. Bye.", timeout=60).code == 0
        assert Recording.served[-1] == home_url

        stored = messages(stack)
        assert [m.role for m in stored] == ["user", "assistant"] * 3
        assert all(m.content for m in stored)
