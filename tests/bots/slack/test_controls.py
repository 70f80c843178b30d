"""Conversation controls through the fake Slack: waits and tool progress as a status, and Stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bots.slack.controls import FEEDBACK_ACTION, STOP_ACTION
from bots.slack.ref import ReplyMode, SlackRef
from db.models import Feedback, Notice
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.bots.slack.test_streaming import sink
from tests.fixtures.fake_slack import TEAM, FakeSlack
from tests.fixtures.fake_slack_api import Message
from tests.helpers import disconnected, messages, settle
from tests.workers.toolscript import call_once, use

ALICE, BOB, ADA = "U0ALICE01", "U0BOB0001", "U0ADMIN01"
LONG = " ".join(f"word{i}" for i in range(400))


def test_a_status_is_the_threads_status_and_never_part_of_the_answer(fake: FakeSlack) -> None:
    out = sink(fake)
    out.start(resume_ref=None)
    thread = out._ref.thread_ts
    assert thread is not None
    out.status("Queued, about 20 s before I can start on this.")
    assert fake.thread_status(CHANNEL, thread) == "Queued, about 20 s before I can start on this."
    out.append("The answer.")
    out.finish("The answer.")
    assert fake.thread_status(CHANNEL, thread) == ""  # cleared when the answer is done
    assert [m.markdown for m in fake.replies(CHANNEL, thread)] == ["The answer."]


def test_where_slack_refuses_a_thread_status_the_message_shows_it_until_text_replaces_it(fake: FakeSlack) -> None:
    fake.fail("assistant.threads.setStatus", "missing_scope")
    out = sink(fake)
    ts = out.start(resume_ref=None)
    out.status("Using search…")
    (shown,) = fake.replies(CHANNEL, out._ref.thread_ts)
    assert shown.ts == ts and shown.text == "_Using search…_" and not shown.streaming
    out.append("Found it.")
    out.finish("Found it.")
    assert fake.replies(CHANNEL, out._ref.thread_ts)[0].text == "Found it."


def test_a_top_level_answer_shows_a_wait_in_its_placeholder(fake: FakeSlack) -> None:
    out = sink(fake)
    out._ref = SlackRef(mode=ReplyMode.CHANNEL, team=TEAM, channel=CHANNEL, user=ALICE)
    out._streaming = False
    ts = out.start(resume_ref=None)
    out.status("Queued, about 5 s before I can start on this.")
    assert fake.calls_to("assistant.threads.setStatus") == []
    top = next(m for m in fake.replies(CHANNEL, None) if m.ts == ts)
    assert top.text == "_Queued, about 5 s before I can start on this…_"
    out.finish("Done.")
    assert top.text == "Done."


def test_tool_progress_shows_as_the_thread_status_through_the_whole_path(slack: Running, simulator) -> None:
    use(simulator, call_once("calculate", expression="6 * 7"))
    ts = mention(slack, "What is six times seven?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown == "The tool said: 6 * 7 = 42"
    assert "Using the calculator…" in slack.fake.statuses[(CHANNEL, ts)]
    assert slack.fake.thread_status(CHANNEL, ts) == ""
    settle(slack.stack)
    assert messages(slack.stack, "assistant")[0].content == "The tool said: 6 * 7 = 42"


def stop_button(fake: FakeSlack, thread: str) -> Message:
    def found() -> Message | None:
        for message in fake.replies(CHANNEL, thread):
            for block in message.blocks:
                if block.get("accessory", {}).get("action_id") == STOP_ACTION:
                    return message
        return None

    message: Message = fake.wait_for(found)
    return message


def click(run: Running, message: Message, action: dict[str, Any], *, user: str) -> None:
    """Someone presses a button on one of LLMOS's messages: the interaction Slack posts."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": "12.34",
        "response_url": run.fake.response_url(),
        "container": {"type": "message", "message_ts": message.ts, "channel_id": CHANNEL},
        "channel": {"id": CHANNEL},
        "actions": [{"action_ts": "1", **action}],
    }
    assert run.http.interaction(payload).status_code == 200


def press_stop(run: Running, button: Message, *, user: str, value: str | None = None) -> None:
    value = value or button.blocks[0]["accessory"]["value"]
    click(run, button, {"action_id": STOP_ACTION, "block_id": "b", "type": "button", "value": value}, user=user)


def test_stop_mid_stream_aborts_the_engine_frees_the_slot_and_keeps_the_partial_answer(
    slack: Running, simulator
) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    ts = mention(slack, "Count for me, slowly.")["ts"]
    button = stop_button(slack.fake, ts)
    press_stop(slack, button, user=ALICE)
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown.endswith("_(Stopped.)_") and answer.markdown.startswith("word0 ")
    assert disconnected(simulator)
    settle(slack.stack)
    assert simulator.requests[-1].finished_at is None  # the engine never sent the rest
    assert slack.stack.scheduler.store.running() == {}
    stored = messages(slack.stack, "assistant")[0]
    assert stored.stopped and stored.content.startswith("word0 ") and len(stored.content) < len(LONG)
    assert "Stopped" not in stored.content
    # The Stop button went with the stream; the stopped answer takes feedback like any other.
    (shown,) = slack.fake.replies(CHANNEL, ts)
    assert STOP_ACTION not in str(shown.blocks) and FEEDBACK_ACTION in str(shown.blocks)


def test_only_the_asker_or_an_admin_may_stop(slack: Running, simulator) -> None:
    slack.fake.add_user(ADA, "ada", admin=True)
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    ts = mention(slack, "Count for me.")["ts"]
    button = stop_button(slack.fake, ts)
    key = button.blocks[0]["accessory"]["value"]
    press_stop(slack, button, user=BOB)
    refusal = slack.fake.wait_for(lambda: slack.fake.responses)[0][1]
    assert refusal["text"] == "Only the person who asked, or an admin, can stop this answer."
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    press_stop(slack, button, user=ADA)
    assert slack.fake.answer(CHANNEL, ts).markdown.endswith("_(Stopped.)_")
    settle(slack.stack)
    press_stop(slack, button, user=ALICE, value=key)  # a Stop pressed late (the message still showed it)
    late = slack.fake.wait_for(lambda: slack.fake.responses[1:])[0][1]
    assert late["text"] == "That answer is already finished."


def test_answers_llmos_writes_itself_get_no_buttons(slack: Running) -> None:
    ts = mention(slack, "/help")["ts"]
    slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    assert not [c for c in slack.fake.calls if c.args.get("blocks")]


def test_an_answer_shown_by_editing_gets_its_feedback_buttons_on_the_last_message(slack: Running, simulator) -> None:
    slack.fake.streaming = False
    simulator.config.answer = lambda msgs: "It is **done**."
    ts = mention(slack, "status?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    (shown,) = slack.fake.replies(CHANNEL, ts)  # the Stop message is gone
    assert shown is answer and shown.text == "It is *done*."
    assert shown.blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "It is *done*."}}
    assert shown.blocks[1]["elements"][0]["action_id"] == FEEDBACK_ACTION


def press_feedback(run: Running, message: Message, *, user: str, positive: bool) -> None:
    element = message.blocks[0]["elements"][0]
    value = element["positive_button" if positive else "negative_button"]["value"]
    click(run, message, {"action_id": FEEDBACK_ACTION, "type": "feedback_buttons", "value": value}, user=user)


def test_a_finished_answer_takes_feedback_which_is_stored_and_announced(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris."
    ts = mention(slack, "Capital of France?")["ts"]
    slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    # The buttons are on the streamed answer itself, given to chat.stopStream.
    (buttons,) = slack.fake.replies(CHANNEL, ts)
    assert buttons.markdown == "Paris." and buttons.blocks[0]["elements"][0]["type"] == "feedback_buttons"
    press_feedback(slack, buttons, user=BOB, positive=False)
    thanks = slack.fake.wait_for(lambda: slack.fake.responses)[0][1]
    assert thanks["text"] == "Thanks for the feedback." and thanks["response_type"] == "ephemeral"
    press_feedback(slack, buttons, user=BOB, positive=True)  # changes Bob's rating, never adds a second
    slack.fake.wait_for(lambda: slack.fake.responses[1:])
    with slack.stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
        notes = session.scalars(select(Notice).where(Notice.kind == "feedback.received")).all()
    assert (row.rating, row.model, row.skill) == (1, "sim-model", "ask") and len(row.prompt_version) == 12
    assert [n.data["rating"] for n in notes] == ["down", "up"]


def test_the_manifest_uses_slacks_agent_view() -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[3] / "bots/slack/manifest.yaml").read_text())
    assert "assistant_view" not in manifest["features"]
    assert manifest["features"]["agent_view"]["agent_description"]
