"""The assistant experience: a new assistant thread gets suggested prompts; a question gets a status and a title."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import ALICE, CHANNEL, DM, said
from tests.fixtures.fake_slack import TEAM
from tests.helpers import settle


def test_an_assistant_thread_is_greeted_then_answered_with_status_and_title(slack: Running, simulator) -> None:
    thread_ts = slack.fake.next_ts()
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": ALICE,
            "channel_id": DM,
            "thread_ts": thread_ts,
            "context": {"channel_id": CHANNEL, "team_id": TEAM, "enterprise_id": None},
        },
    }
    assert slack.http.event(started).status_code == 200
    prompts = slack.fake.wait_for(lambda: slack.fake.calls_to("assistant.threads.setSuggestedPrompts"))[0].args
    assert (prompts["channel_id"], prompts["thread_ts"]) == (DM, thread_ts)
    assert "/help" in [p["message"] for p in prompts["prompts"]]

    question = said(slack, "How do tides work?", channel=DM, thread_ts=thread_ts)
    assert slack.http.event(question).status_code == 200
    answer = slack.fake.answer(DM, thread_ts)
    assert answer.markdown == "You said: How do tides work?"
    status = slack.fake.calls_to("assistant.threads.setStatus")[0]
    assert status.args["status"] == "is thinking…" and status.args["loading_messages"]
    assert status.at < slack.fake.calls_to("chat.startStream")[0].at  # set before the answer can clear it
    title = slack.fake.wait_for(lambda: slack.fake.calls_to("assistant.threads.setTitle"))[0].args
    assert title["title"] == "How do tides work?"
    settle(slack.stack)

    again = said(slack, "And in lakes?", channel=DM, thread_ts=thread_ts)
    assert slack.http.event(again).status_code == 200
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 2)
    settle(slack.stack)
    assert len(slack.fake.calls_to("assistant.threads.setTitle")) == 1  # the title names the first question
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user", "assistant", "user"]
