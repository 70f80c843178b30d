"""Replica routing over real HTTP to engine simulators: sticky conversations, failover, recovery, models."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from engine.base import ChatMessage, ChatRequest, EngineBadRequest, EngineUnavailable, complete
from engine.openai_compat import OpenAICompatEngine
from engine.router import Replica, ReplicaRouter, rank
from engine.simulator import SimulatedEngine, SimulatorConfig


@pytest.fixture
def sims() -> Iterator[list[SimulatedEngine]]:
    running = [SimulatedEngine(SimulatorConfig(model="m1", vllm=True)).start() for _ in range(3)]
    yield running
    for sim in running:
        sim.stop()


def make_router(groups: dict[str, list[SimulatedEngine]], **options: float) -> ReplicaRouter:
    return ReplicaRouter(
        endpoints={model: [s.url for s in group] for model, group in groups.items()},
        make_engine=lambda url, model: OpenAICompatEngine(url=url, model=model, retries=0),
        retries=int(options.pop("retries", 1)),
        retry_backoff=0.01,
        recheck=options.pop("recheck", 0.1),
    )


def ask(router: ReplicaRouter, conversation: str, model: str | None = None) -> str:
    prompt = (ChatMessage("user", f"turn of {conversation}"),)
    request = ChatRequest(messages=prompt, affinity=conversation, model=model)
    return complete(router, request).text


def served_by(sims: list[SimulatedEngine]) -> list[int]:
    """Which simulator got each request, in arrival order."""
    arrivals = [(r.arrived, i) for i, sim in enumerate(sims) for r in sim.requests]
    return [i for _, i in sorted(arrivals)]


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_conversation_stays_on_one_replica_and_conversations_spread(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims})
    for turn in range(3):
        for conversation in range(30):
            ask(router, f"c{conversation}")
    per_conversation = [served_by(sims)[c::30] for c in range(30)]
    assert all(len(set(turns)) == 1 for turns in per_conversation)
    assert all(count >= 3 for count in Counter(served_by(sims)).values()) and len(set(served_by(sims))) == 3
    router.close()


def test_removing_a_replica_moves_only_its_own_conversations() -> None:
    replicas = [Replica(model="m", url=f"http://r{i}", engine=None) for i in range(4)]  # type: ignore[arg-type]
    before = {f"c{i}": rank(f"c{i}", replicas)[0] for i in range(200)}
    after = {key: rank(key, replicas[:3])[0] for key in before}
    moved = [key for key in before if before[key] is not after[key]]
    assert moved and all(before[key] is replicas[3] for key in moved)


def test_an_unhealthy_replica_is_left_and_rejoined_when_it_recovers(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims})
    ask(router, "alice")
    home = served_by(sims)[0]
    sims[home].config.mode = "unavailable"
    assert ask(router, "alice") == "You said: turn of alice"
    ask(router, "alice")
    order = served_by(sims)
    # One failed attempt on the dead replica, then both turns on the same stand-in.
    assert order[1] == home and order[2] == order[3] != home
    assert not router.replicas[home].up and "503" in router.replicas[home].reason
    sims[home].config.mode = "ok"
    wait_until(lambda: router.replicas[home].up)
    ask(router, "alice")
    assert served_by(sims)[-1] == home
    router.close()


def test_a_replica_dying_mid_answer_fails_that_answer_and_the_next_turn_moves(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims}, recheck=60)
    ask(router, "bob")
    home = served_by(sims)[0]
    sims[home].config.answer = lambda _m: "one two three four five six"
    sims[home].config.drop_after_tokens = 2
    shown = []
    with pytest.raises(EngineUnavailable):
        for chunk in router.stream(ChatRequest(messages=(ChatMessage("user", "x"),), affinity="bob")):
            shown.append(chunk.text)
    assert "".join(shown) == "one two "
    assert ask(router, "bob") == "You said: turn of bob"
    assert served_by(sims)[-1] != home
    router.close()


def test_a_busy_replica_passes_the_turn_on_without_being_marked_down(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims})
    ask(router, "carol")
    home = served_by(sims)[0]
    sims[home].config.mode = "rate_limited"
    assert ask(router, "carol") == "You said: turn of carol"
    assert router.replicas[home].up


def test_when_every_replica_is_down_the_caller_gets_unavailable(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims}, retries=1, recheck=60)
    assert router.health().ok  # every replica has been met
    for sim in sims:
        sim.config.mode = "unavailable"
        sim.requests.clear()
    with pytest.raises(EngineUnavailable, match="503"):
        ask(router, "dave")
    # Every replica was tried once per round, two rounds.
    assert sorted(Counter(served_by(sims)).values()) == [2, 2, 2]
    assert not router.health().ok
    router.close()


def test_the_model_is_chosen_among_those_served(sims: list[SimulatedEngine]) -> None:
    sims[2].config.model = "m2"
    router = make_router({"m1": sims[:2], "m2": sims[2:]})
    assert router.default_model == "m1"
    ask(router, "erin", model="m2")
    assert served_by(sims) == [2] and sims[2].requests[0].body["model"] == "m2"
    ask(router, "erin")
    assert served_by(sims)[-1] in (0, 1)
    with pytest.raises(EngineBadRequest, match="'m3' is not served here"):
        ask(router, "erin", model="m3")
    assert router.health().models == ("m1", "m2")
    sims[2].config.mode = "unavailable"
    health = router.health()
    assert health.ok and health.models == ("m1",)
    assert "m2: 0/1 replicas up" in health.detail
    router.close()


def test_a_replica_serving_another_model_is_not_used(sims: list[SimulatedEngine]) -> None:
    sims[0].config.model = "other"
    router = make_router({"m1": sims[:2]})
    health = router.health()
    assert "does not serve 'm1'" in health.detail and health.models == ("m1",)
    for conversation in range(10):
        ask(router, f"c{conversation}")
    assert set(served_by(sims)) == {1}
    router.close()


def test_a_count_any_replica_of_the_model_made_is_known_to_the_router(sims: list[SimulatedEngine]) -> None:
    router = make_router({"m1": sims[:2], "m2": sims[2:]})
    assert router.known_count("a b c") is None
    assert router.count_text("a b c") == 3
    assert router.known_count("a b c") == 3 and router.known_count("a b c", model="m2") is None
    router.close()
