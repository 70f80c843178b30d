"""Threads LLMOS takes part in with several people: it answers what is asked of it, not thanks or
words to someone else, and the model is told who said what."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import ALICE, BOB, mention, said
from tests.helpers import settle


def test_llmos_answers_what_is_asked_of_it_and_knows_who_asked(slack: Running, simulator) -> None:
    root = mention(slack, "Plan a day in Rome.")["ts"]
    lines = [
        ("And what about dinner?", BOB),
        ("thanks!", BOB),
        ("bob, can you book the table?", ALICE),
        ("Which museum first?", ALICE),
    ]
    for answered, (text, user) in enumerate(lines, start=1):
        slack.fake.wait_for(lambda n=min(answered, 2): len(slack.fake.calls_to("chat.stopStream")) >= n)
        assert slack.http.event(said(slack, text, user=user, thread_ts=root)).status_code == 200
    # Events are handled in order: once the last line is answered, the two before it were passed over.
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 3)
    settle(slack.stack)
    asked = [r.body["messages"][-1]["content"] for r in simulator.requests]
    assert asked == ["Plan a day in Rome.", "bob: And what about dinner?", "alice: Which museum first?"]
    # From Bob's question on, two people talk in the thread: every turn says who spoke.
    assert simulator.requests[1].body["messages"][1]["content"] == "alice: Plan a day in Rome."
