"""Threads LLMOS takes part in with several people: it answers what is asked of it, not thanks or
words to someone else, and the model is told who said what."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import ALICE, BOB, CHANNEL, mention, said
from tests.helpers import settle


def test_llmos_answers_what_is_asked_of_it_and_knows_who_asked(slack: Running, simulator) -> None:
    root = mention(slack, "Plan a day in Rome.")["ts"]
    slack.fake.answer(CHANNEL, root)
    settle(slack.stack)
    asked = said(slack, "And what about dinner?", user=BOB, thread_ts=root)
    assert slack.http.event(asked).status_code == 200
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 2)
    settle(slack.stack)
    turns = [(m["role"], m["content"]) for m in simulator.requests[-1].body["messages"][1:]]
    assert turns[0] == ("user", "alice: Plan a day in Rome.")
    assert turns[-1] == ("user", "bob: And what about dinner?")
    for text, user in (("thanks!", BOB), ("bob, can you book the table?", ALICE)):
        assert slack.http.event(said(slack, text, user=user, thread_ts=root)).status_code == 200
    # Events are handled in order: once this one is answered, the two before it were passed over.
    assert slack.http.event(said(slack, "Which museum first?", thread_ts=root)).status_code == 200
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 3)
    settle(slack.stack)
    assert [r.body["messages"][-1]["content"] for r in simulator.requests][-1] == "alice: Which museum first?"
    assert len(simulator.requests) == 3
