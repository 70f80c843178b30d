"""Regenerate in the web chat, over HTTP: the question is asked again with the context it had, the new
answer takes the old one's place in the history, both answers and their feedback are kept."""

from __future__ import annotations

from itertools import count

from sqlalchemy import select

from db.models import Feedback
from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_webchat import browser, read_into
from tests.helpers import messages, settle


def _said(alice, sent: dict[str, str]) -> str:
    got: list[tuple[str, dict[str, object]]] = []
    read_into(alice, sent["stream"], got)
    kind, last = got[-1]
    assert kind == "done"
    return str(last["text"])


def test_regenerate_asks_again_with_the_same_context_and_keeps_both_answers(admin: Admin, simulator) -> None:
    numbers = count(1)
    simulator.config.answer = lambda msgs: f"Answer {next(numbers)}."
    with browser(admin.url) as alice, browser(admin.url) as bob:
        first = alice.post("/chat/messages", json={"text": "Hello there.", "thread": "t"}).json()
        assert _said(alice, first) == "Answer 1."
        second = alice.post("/chat/messages", json={"text": "Pick a number.", "thread": "t"}).json()
        assert _said(alice, second) == "Answer 2."
        settle(admin.stack)
        assert alice.post("/chat/feedback", json={"key": second["key"], "rating": "down"}).status_code == 200

        assert bob.post("/chat/regenerate", json={"key": second["key"]}).status_code == 404
        again = alice.post("/chat/regenerate", json={"key": second["key"]})
        assert again.status_code == 202, again.text
        assert again.json()["replaces"] == second["key"] and again.json()["key"] != second["key"]
        assert _said(alice, again.json()) == "Answer 3."
        settle(admin.stack)
        assert alice.post("/chat/feedback", json={"key": again.json()["key"], "rating": "up"}).status_code == 200

        # The engine was asked the same thing both times.
        asked, reasked = simulator.requests[-2].body, simulator.requests[-1].body
        assert asked["messages"] == reasked["messages"]
        assert reasked["messages"][-1]["content"].endswith("Pick a number.")

        # The old answer can no longer be regenerated; the history shows the newest answer only.
        stale = alice.post("/chat/regenerate", json={"key": second["key"]})
        assert stale.status_code == 409 and "already regenerated" in stale.json()["detail"]
        shown = alice.get("/chat/history", params={"thread": "t"}).json()
        assert [(m["role"], m["content"]) for m in shown] == [
            ("user", "Hello there."),
            ("assistant", "Answer 1."),
            ("user", "Pick a number."),
            ("assistant", "Answer 3."),
        ]
        assert shown[-1]["key"] == again.json()["key"]

        # A follow-up sees the newest answer only.
        third = alice.post("/chat/messages", json={"text": "And another?", "thread": "t"}).json()
        _said(alice, third)
        followed = [m["content"] for m in simulator.requests[-1].body["messages"]]
        assert "Answer 3." in followed and "Answer 2." not in followed
        assert alice.post("/chat/regenerate", json={"key": "web:local:nope"}).status_code == 404

        # An older answer asked again takes its old place, in the page and in what the engine is sent.
        assert _said(alice, alice.post("/chat/regenerate", json={"key": first["key"]}).json()) == "Answer 5."
        settle(admin.stack)
        shown = [m["content"] for m in alice.get("/chat/history", params={"thread": "t"}).json()]
        assert shown == ["Hello there.", "Answer 5.", "Pick a number.", "Answer 3.", "And another?", "Answer 4."]
        _said(alice, alice.post("/chat/regenerate", json={"key": third["key"]}).json())
        sent = [m["content"] for m in simulator.requests[-1].body["messages"][1:]]
        assert [text.rsplit(": ", 1)[-1] for text in sent] == shown[:5], sent

    settle(admin.stack)
    assert [m.content for m in messages(admin.stack, "user")].count("Pick a number.") == 1
    answers = {m.content: m for m in messages(admin.stack, "assistant")}
    assert answers["Answer 2."].superseded and not answers["Answer 3."].superseded
    with admin.stack.sessions() as session:
        ratings = {f.message_id: f.rating for f in session.scalars(select(Feedback))}
    assert ratings == {answers["Answer 2."].id: -1, answers["Answer 3."].id: 1}
