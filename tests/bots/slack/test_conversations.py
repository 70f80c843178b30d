"""Mentions, threads and direct messages over the real HTTP endpoint, answered through the whole stack."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.fixtures.fake_slack import BOT_USER, TEAM
from tests.helpers import messages, settle

CHANNEL = "C0GENERAL1"
ALICE = "U0ALICE01"


def mention(run: Running, text: str, *, user: str = ALICE, channel: str = CHANNEL, thread_ts: str | None = None) -> str:
    ts = run.fake.say(channel, user, f"<@{BOT_USER}> {text}", thread_ts=thread_ts)
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": channel}
    if thread_ts:
        event["thread_ts"] = thread_ts
    assert run.http.event(event).status_code == 200
    return ts


def test_a_mention_is_answered_by_streaming_in_its_thread(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris is the capital of France."
    ts = mention(slack, "What is the capital of France?")
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown == "Paris is the capital of France."
    start = slack.fake.calls_to("chat.startStream")[0].args
    assert (start["thread_ts"], start["recipient_team_id"], start["recipient_user_id"]) == (ts, TEAM, ALICE)
    settle(slack.stack)
    stored = messages(slack.stack)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
