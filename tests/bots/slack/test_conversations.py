"""Mentions, threads and direct messages over the real HTTP endpoint, answered through the whole stack."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from bots.slack import messages as messages_module
from db.models import ProcessedEvent
from tests.bots.slack.conftest import Running
from tests.fixtures.fake_slack import BOT_ID, BOT_USER, TEAM
from tests.helpers import count, messages, settle

CHANNEL = "C0GENERAL1"
DM = "D0ALICEDM1"
ALICE = "U0ALICE01"
BOB = "U0BOB0001"


def said(run: Running, text: str, *, user: str = ALICE, channel: str = CHANNEL, **fields: Any) -> dict[str, Any]:
    """A person's message as Slack stores it and as the `message` event carries it."""
    ts = run.fake.say(channel, user, text, thread_ts=fields.get("thread_ts"))
    kind = "im" if channel.startswith("D") else "channel"
    return {"type": "message", "channel_type": kind, "user": user, "text": text, "ts": ts, "channel": channel, **fields}


def mention(run: Running, text: str, **fields: Any) -> dict[str, Any]:
    event = said(run, f"<@{BOT_USER}> {text}", **fields)
    event = {**event, "type": "app_mention"}
    event.pop("channel_type")
    assert run.http.event(event).status_code == 200
    return event


def test_a_mention_is_answered_by_streaming_in_its_thread(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris is the capital of France."
    ts = mention(slack, "What is the capital of France?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown == "Paris is the capital of France."
    start = slack.fake.calls_to("chat.startStream")[0].args
    assert (start["thread_ts"], start["recipient_team_id"], start["recipient_user_id"]) == (ts, TEAM, ALICE)
    settle(slack.stack)
    assert [(m.role, m.content) for m in messages(slack.stack)] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]


def test_mention_and_message_events_and_retries_answer_once(slack: Running) -> None:
    event = mention(slack, "hello there")
    # Slack also sends the same message as a `message` event, and retries when it thinks we were slow.
    as_message = {**event, "type": "message", "channel_type": "channel"}
    assert slack.http.event(as_message).status_code == 200
    assert slack.http.event(event, retry_num=1).status_code == 200
    slack.fake.answer(CHANNEL, event["ts"])
    assert slack.http.event(event, retry_num=2).status_code == 200
    settle(slack.stack)
    assert len(slack.fake.calls_to("chat.startStream")) == 1
    assert len(slack.fake.replies(CHANNEL, event["ts"])) == 1
    assert count(slack.stack, ProcessedEvent) == 1
    assert [m.role for m in messages(slack.stack)] == ["user", "assistant"]


def test_a_thread_continues_without_a_mention_once_llmos_is_in_it(slack: Running, simulator) -> None:
    root = mention(slack, "My name is Ada.")["ts"]
    slack.fake.answer(CHANNEL, root)
    settle(slack.stack)
    follow_up = said(slack, "What is my name?", thread_ts=root, user=BOB)
    assert slack.http.event(follow_up).status_code == 200
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 2)
    settle(slack.stack)
    prompt = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    # Two people talk in the thread: the model is told who said what.
    assert prompt[1]["content"] == "alice: My name is Ada." and prompt[3]["content"] == "bob: What is my name?"
    assert all(m.thread_ts == root for m in slack.fake.replies(CHANNEL, root))


def test_messages_llmos_is_not_asked_about_are_left_alone(slack: Running) -> None:
    elsewhere = said(slack, "a thread LLMOS never joined")
    ignored = [
        said(slack, "just chatting in the channel"),
        said(slack, "a reply in someone else's thread", thread_ts=elsewhere["ts"]),
        said(slack, "I am a bot", bot_id="B0OTHER01", subtype="bot_message"),
        said(slack, f"<@{BOT_USER}> my own words", user=BOT_USER, bot_id=BOT_ID),
        {**said(slack, f"<@{BOT_USER}> edited"), "subtype": "message_changed"},
        {**said(slack, "gone"), "subtype": "message_deleted"},
        {**said(slack, "joined"), "subtype": "channel_join"},
    ]
    for event in ignored:
        assert slack.http.event(event).status_code == 200
    root = mention(slack, "a real question")["ts"]
    slack.fake.answer(CHANNEL, root)
    # In a thread LLMOS is part of, a message addressed to someone else is for them.
    aside = said(slack, f"<@{BOB}> can you check this?", thread_ts=root)
    assert slack.http.event(aside).status_code == 200
    mention(slack, "and another", thread_ts=root)
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 2)
    settle(slack.stack)
    assert count(slack.stack, ProcessedEvent) == 2
    assert [m.content for m in messages(slack.stack, "user")] == ["a real question", "and another"]


def test_direct_messages_are_a_conversation_answered_in_place(slack: Running, simulator) -> None:
    first = said(slack, "Remember the number 42.", channel=DM)
    assert slack.http.event(first).status_code == 200
    answer = slack.fake.answer(DM, None)
    assert answer.text == "You said: Remember the number 42."
    assert slack.fake.calls_to("chat.startStream") == []  # top-level DMs cannot stream: post and update
    settle(slack.stack)
    assert slack.http.event(said(slack, "Which number?", channel=DM)).status_code == 200
    slack.fake.wait_for(
        lambda: len(slack.fake.replies(DM, None)) == 2 and "Which" in slack.fake.replies(DM, None)[1].text
    )
    settle(slack.stack)
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user", "assistant", "user"]


def test_engine_down_means_an_apology_in_the_thread(slack: Running, simulator) -> None:
    simulator.config.mode = "unavailable"
    ts = mention(slack, "Are you there?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.text.startswith(":warning: Sorry, the language engine is not answering")
    settle(slack.stack)
    with slack.stack.sessions() as session:
        assert session.scalars(select(ProcessedEvent.status)).one() == "failed"
    assert [m.content for m in messages(slack.stack)] == ["Are you there?"]  # the question is kept


def test_slack_hears_200_only_once_the_mention_is_stored(slack: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack never sends an acknowledged event again: were LLMOS killed between its 200 and its commit,
    the mention would be lost. So the 200 waits for the stored event (a slow intake here)."""
    real = messages_module.hand_over

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(messages_module, "hand_over", slow)
    event = mention(slack, "Are you keeping this?")
    key = f"slack:{TEAM}:{CHANNEL}:{event['ts']}"
    with slack.stack.sessions() as session:
        assert session.get(ProcessedEvent, key) is not None
    slack.fake.answer(CHANNEL, event["ts"])
