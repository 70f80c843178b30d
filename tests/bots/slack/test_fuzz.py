"""Property tests of the Slack surface over its signed HTTP endpoint: any event, slash command text or
interactivity payload is acknowledged without a server error, and any /llmos text gets an answer."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import command
from tests.bots.slack.test_conversations import ALICE, CHANNEL
from tests.fixtures.fake_slack import BOT_USER
from tests.helpers import settle

FEW = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
ODD_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["summarize \u00b2", "quiz \u2075 x", "minutes " + "9" * 5000, "admin", "admin allow", "\ud800"]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def test_any_slash_command_text_gets_an_answer(slack: Running, simulator) -> None:
    # A form body is UTF-8: a lone surrogate cannot arrive this way (it can in an event's JSON).
    @given(text=ODD_TEXT.filter(lambda t: "\ud800" not in t))
    @FEW
    def check(text: str) -> None:
        hook = command(slack, text)
        # A private answer, or a public header whose thread holds the answer: either way, something.
        slack.fake.wait_for(
            lambda: [b for h, b in slack.fake.responses if h == hook] or slack.fake.calls_to("chat.postMessage")
        )
        settle(slack.stack)

    check()


def test_any_event_is_acknowledged(slack: Running, simulator) -> None:
    @given(
        kind=st.sampled_from(["app_mention", "message", "assistant_thread_started", "app_home_opened", "nope"]),
        text=ODD_TEXT,
        extra=st.dictionaries(st.sampled_from(["subtype", "thread_ts", "files", "bot_id", "channel_type"]), JSON),
    )
    @FEW
    def check(kind: str, text: str, extra: dict[str, Any]) -> None:
        ts = slack.fake.next_ts()
        event = {"type": kind, "user": ALICE, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": CHANNEL, **extra}
        answer = slack.http.event(event)
        assert answer.status_code == 200, answer.text
        settle(slack.stack)

    check()


def test_any_interactivity_payload_is_acknowledged(slack: Running) -> None:
    @given(
        payload=st.fixed_dictionaries(
            {"type": st.sampled_from(["message_action", "block_actions", "view_submission", "shortcut", "x"])},
            optional={
                "callback_id": st.sampled_from(["summarize_thread", "translate_message", "draft_reply", "nope"]),
                "actions": JSON,
                "view": JSON,
                "message": JSON,
                "user": st.fixed_dictionaries({"id": st.just(ALICE)}),
                "team": st.fixed_dictionaries({"id": st.just("T0TEAM001")}),
            },
        )
    )
    @FEW
    def check(payload: dict[str, Any]) -> None:
        answer = slack.http.interaction(json.loads(json.dumps(payload)))
        assert answer.status_code < 500, answer.text
        settle(slack.stack)

    check()
