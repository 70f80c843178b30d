"""The web chat walked through as a user, as Slack and Discord were (issue 17, "the web chat gets the same
review"): a message too long to take says how long one may be, and an answer delayed by the engine being
down arrives in the bubble that apologised, as the apology promises, not only after a reload; or, stopped
while it waits, is never sent again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.simulator import SimulatedEngine
from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_webchat import browser, read_into
from tests.helpers import settle


def test_an_oversized_message_says_how_long_a_message_may_be(admin: Admin, simulator: SimulatedEngine) -> None:
    with browser(admin.url) as client:
        refused = client.post("/chat/messages", json={"text": "x" * 20_001, "thread": "t"})
        # The page shows a string `detail` as the answer; anything else becomes "could not take this message".
        assert refused.status_code == 413
        detail = refused.json()["detail"]
        assert isinstance(detail, str) and "20,001 characters" in detail and "20,000" in detail
        assert "Attach" in detail
        assert client.post("/chat/messages", json={"text": "x" * 20_000, "thread": "t"}).status_code == 202
    settle(admin.stack)


def test_engine_down_the_answer_arrives_in_the_same_stream(admin: Admin, simulator: SimulatedEngine) -> None:
    simulator.config.mode = "unavailable"
    with browser(admin.url) as client:
        sent = client.post("/chat/messages", json={"text": "are you there?", "thread": "t"})
        got: list[tuple[str, dict[str, object]]] = []
        reader = threading.Thread(target=read_into, args=(client, sent.json()["stream"], got), daemon=True)
        reader.start()
        _wait_for(lambda: any("not answering" in str(item.get("text")) for _, item in got))
        assert reader.is_alive(), f"the stream ended at the apology: {got}"
        simulator.config.mode = "ok"
        reader.join(timeout=30)
    kinds = [kind for kind, _ in got]
    assert "error" not in kinds and kinds[-1] == "done", got
    assert got[-1][1]["text"] == "You said: are you there?"
    settle(admin.stack)


def test_stop_while_waiting_for_the_engine_drops_the_question(admin: Admin, simulator: SimulatedEngine) -> None:
    simulator.config.mode = "unavailable"
    with browser(admin.url) as client:
        sent = client.post("/chat/messages", json={"text": "are you there?", "thread": "t"}).json()
        got: list[tuple[str, dict[str, object]]] = []
        reader = threading.Thread(target=read_into, args=(client, sent["stream"], got), daemon=True)
        reader.start()
        _wait_for(lambda: any("not answering" in str(item.get("text")) for _, item in got))
        stopping = client.post("/chat/stop", json={"key": sent["key"]})
        assert stopping.status_code == 202 and stopping.json()["detail"] == "Stopping the answer."
        reader.join(timeout=30)
        assert not reader.is_alive(), f"the stream still waits for the engine: {got}"
        assert "Stopped while waiting" in str(got[-1][1].get("text")), got
        simulator.config.mode = "ok"
        asked = len(simulator.requests)
        settle(admin.stack)
        time.sleep(admin.stack.settings.reconcile_interval * 2)  # the engine is back: nothing is sent again
        assert len(simulator.requests) == asked
        late = client.post("/chat/stop", json={"key": sent["key"]})
        assert late.status_code == 409


def _wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
