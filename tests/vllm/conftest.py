"""The real-vLLM suite: vLLM itself on this machine's CPU, one server at a time.

Opt-in, because vLLM costs a 3.4 GB environment and half a minute per start: `.ci/vllm` builds the
cached environment (engine/vllm_cpu.py) and runs this folder with LLMOS_VLLM=1. In the main run
these tests are collected and skipped with that hint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from engine.embedded import free_port
from engine.openai_compat import OpenAICompatEngine
from engine.vllm_cpu import VLLMServer, ensure
from tests.conftest import clear_tables, make_settings
from workers.stack import Stack

ENABLED = os.environ.get("LLMOS_VLLM") == "1"
HERE = Path(__file__).parent

MAX_MODEL_LEN = 1024
# Two sequences at a time: small enough that a handful of requests queue, which priorities reorder.
MAX_NUM_SEQS = 2
ANSWER_TOKENS = 48
# The reasoning parser for models whose <think> tags are ordinary text; structured outputs may
# then also shape the reasoning, which lets the tests make SmolLM2 "think".
REASONING_ARGS = ("--reasoning-parser", "olmo3", "--structured-outputs-config", '{"enable_in_reasoning": true}')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="the real vLLM suite runs with .ci/vllm (LLMOS_VLLM=1)")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.vllm)
            if not ENABLED:
                item.add_marker(skip)


class VLLM:
    """The one vLLM of this session, on a fixed port so clients survive its restarts."""

    def __init__(self, log_dir: Path) -> None:
        self.installation = ensure()
        self.port = free_port()
        self.log_dir = log_dir
        self.server: VLLMServer | None = None
        self.args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, args: Sequence[str] = ()) -> VLLMServer:
        self.stop()
        self.args = tuple(args)
        self.server = VLLMServer(
            installation=self.installation,
            port=self.port,
            max_model_len=MAX_MODEL_LEN,
            max_num_seqs=MAX_NUM_SEQS,
            extra_args=self.args,
            log_path=self.log_dir / "vllm.log",
        ).start()
        return self.server

    def ensure(self, args: Sequence[str] = ()) -> VLLMServer:
        if self.server is not None and self.server.running and self.args == tuple(args):
            return self.server
        return self.start(args)

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="session")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLM]:
    controller = VLLM(tmp_path_factory.mktemp("vllm"))
    yield controller
    controller.stop()


@pytest.fixture
def server(vllm: VLLM) -> VLLMServer:
    """vLLM as production runs it: priority scheduling and prefix caching, no reasoning parser."""
    return vllm.ensure()


@pytest.fixture
def client(server: VLLMServer) -> Iterator[OpenAICompatEngine]:
    engine = OpenAICompatEngine(url=f"{server.url}/v1", retries=0)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def vllm_stack(
    vllm: VLLM, pg_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The whole task path on PostgreSQL and Redis, answered by the real vLLM."""
    settings = make_settings(
        tmp_path_factory.mktemp("vllm-stack"),
        database_url=pg_database,
        redis_url=redis_url,
        engine_url=f"{vllm.url}/v1",
        answer_max_tokens=ANSWER_TOKENS,
        engine_token_timeout=60.0,
    )
    with Stack(settings) as stack:
        stack.start_worker()
        yield stack


@pytest.fixture
def stack(vllm_stack: Stack, server: VLLMServer) -> Stack:
    clear_tables(vllm_stack.sessions)
    return vllm_stack
