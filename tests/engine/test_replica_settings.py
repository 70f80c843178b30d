"""ENGINE_ENDPOINTS: parsed and checked at start, and the whole task path routed by conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.endpoints import parse_endpoints
from engine.router import ReplicaRouter
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.conftest import make_settings
from tests.helpers import chat, messages
from workers.settings import SettingsError
from workers.stack import Stack


def test_endpoints_are_read_per_model() -> None:
    assert parse_endpoints(" a=http://x:8000/v1/ , https://y ; org/b-7B=http://z:1 ;") == {
        "a": ("http://x:8000", "https://y"),
        "org/b-7B": ("http://z:1",),
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://x:8000", "entry 1 ('http://x:8000') must be model=url"),
        ("a=http://x;=http://y", "entry 2 ('=http://y') must be model=url"),
        ("a=http://x;a=http://y", "model 'a' is named twice"),
        ("a=http://x,http://x/v1", "'http://x/v1' is listed twice for model 'a'"),
        ("a=x:8000", "'x:8000' (model 'a') is not an http:// or https:// URL"),
        ("a=http://x,", "'' (model 'a') is not an http"),
        (";", "is empty"),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_entry(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        make_settings(tmp_path, engine_endpoints=value)
    assert f"ENGINE_ENDPOINTS: Value error, {message}" in str(caught.value)


def test_the_default_model_must_be_one_that_is_served(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ENGINE_MODEL: Value error, 'c' is not one of the models"):
        make_settings(tmp_path, engine_endpoints="a=http://x;b=http://y", engine_model="c")
    assert make_settings(tmp_path, engine_endpoints="a=http://x;b=http://y", engine_model="b").engine_model == "b"


@pytest.fixture
def replicas() -> Iterator[list[SimulatedEngine]]:
    running = [SimulatedEngine(SimulatorConfig(model=m, vllm=True)).start() for m in ("small", "small", "big")]
    yield running
    for sim in running:
        sim.stop()


@pytest.fixture
def routed(tmp_path: Path, replicas: list[SimulatedEngine]) -> Iterator[Stack]:
    a, b, big = (sim.url for sim in replicas)
    settings = make_settings(tmp_path, engine_endpoints=f"small={a},{b};big={big}")
    with Stack(settings) as stack:
        stack.start_worker()
        yield stack


def test_each_conversation_keeps_its_replica_through_the_task_path(
    routed: Stack, replicas: list[SimulatedEngine]
) -> None:
    assert isinstance(routed.engine, ReplicaRouter)
    for turn in range(3):
        for thread in ("t1", "t2", "t3", "t4", "t5", "t6"):
            assert chat(routed, f"turn {turn} in {thread}", thread=thread).code == 0
    by_thread: dict[str, set[int]] = {}
    for index, sim in enumerate(replicas[:2]):
        for request in sim.requests:
            thread_turn = request.body["messages"][-1]["content"]
            by_thread.setdefault(thread_turn.rsplit(" ", 1)[1], set()).add(index)
    assert len(by_thread) == 6 and all(len(used) == 1 for used in by_thread.values())
    assert not replicas[2].requests
    # The salt is per tenant, the affinity per conversation: the same salt on every request.
    assert len({r.body["cache_salt"] for sim in replicas for r in sim.requests}) == 1


def test_a_user_chooses_among_the_served_models(routed: Stack, replicas: list[SimulatedEngine]) -> None:
    said = chat(routed, "/prefs set model huge")
    assert "Cannot set model to 'huge': this engine serves: small, big" in said.out
    assert chat(routed, "/prefs set model big").out.startswith("Saved: model = big")
    chat(routed, "hello")
    assert [r.body["model"] for r in replicas[2].requests] == ["big"]
    assert messages(routed, "assistant")[-1].model == "big"
