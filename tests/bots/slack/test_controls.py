"""Conversation controls through the fake Slack: waits and tool progress as a status, and Stop."""

from __future__ import annotations

from typing import Any

from bots.slack.controls import STOP_ACTION
from bots.slack.ref import ReplyMode, SlackRef
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.bots.slack.test_streaming import sink
from tests.fixtures.fake_slack import TEAM, FakeSlack
from tests.fixtures.fake_slack_api import Message
from tests.helpers import messages, settle
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


def press_stop(run: Running, button: Message, *, user: str) -> None:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": "12.34",
        "response_url": run.fake.response_url(),
        "container": {"type": "message", "message_ts": button.ts, "channel_id": CHANNEL},
        "channel": {"id": CHANNEL},
        "actions": [
            {
                "action_id": STOP_ACTION,
                "block_id": "b",
                "type": "button",
                "value": button.blocks[0]["accessory"]["value"],
                "action_ts": "1",
            }
        ],
    }
    assert run.http.interaction(payload).status_code == 200


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
    slack.fake.wait_for(lambda: simulator.requests[-1].disconnected_at is not None)
    settle(slack.stack)
    assert simulator.requests[-1].finished_at is None  # the engine never sent the rest
    assert slack.stack.scheduler.store.running() == {}
    stored = messages(slack.stack, "assistant")[0]
    assert stored.stopped and stored.content.startswith("word0 ") and len(stored.content) < len(LONG)
    assert "Stopped" not in stored.content
    assert all(STOP_ACTION not in str(m.blocks) for m in slack.fake.replies(CHANNEL, ts))  # the button is gone


def test_only_the_asker_or_an_admin_may_stop(slack: Running, simulator) -> None:
    slack.fake.add_user(ADA, "ada", admin=True)
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    ts = mention(slack, "Count for me.")["ts"]
    button = stop_button(slack.fake, ts)
    press_stop(slack, button, user=BOB)
    refusal = slack.fake.wait_for(lambda: slack.fake.responses)[0][1]
    assert refusal["text"] == "Only the person who asked, or an admin, can stop this answer."
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    press_stop(slack, button, user=ADA)
    assert slack.fake.answer(CHANNEL, ts).markdown.endswith("_(Stopped.)_")
    settle(slack.stack)
    press_stop(slack, button, user=ALICE)
    late = slack.fake.wait_for(lambda: slack.fake.responses[1:])[0][1]
    assert late["text"] == "That answer is already finished."


def test_answers_llmos_writes_itself_get_no_stop_button(slack: Running) -> None:
    ts = mention(slack, "/help")["ts"]
    slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    assert not [c for c in slack.fake.calls_to("chat.postMessage") if c.args.get("blocks")]
