"""Stop typed instead of pressed, through the fake Slack: `/llmos stop`, and "stop" said to LLMOS where
it is answering (a thread, a mention, the assistant pane)."""

from __future__ import annotations

from bots.slack.mrkdwn import unescape
from db.models import ProcessedEvent
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import command, responses
from tests.bots.slack.test_controls import BOB, LONG, stop_button
from tests.bots.slack.test_conversations import CHANNEL, DM, mention, said
from tests.helpers import count, disconnected, settle

STOPPED = "_(Stopped.)_"


def test_llmos_stop_stops_the_askers_own_answer_in_the_channel(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    ts = mention(slack, "Count for me, slowly.")["ts"]
    stop_button(slack.fake, ts)
    bobs = responses(slack, command(slack, "stop", user=BOB))[0]
    assert bobs["text"] == "There is no answer of yours to stop here."
    alices = responses(slack, command(slack, "stop"))[0]
    assert alices["text"] == "Stopping the answer."
    assert slack.fake.answer(CHANNEL, ts).markdown.endswith(STOPPED)
    assert disconnected(simulator)
    settle(slack.stack)
    assert count(slack.stack, ProcessedEvent) == 1  # "stop" was never asked as a question
    late = responses(slack, command(slack, "stop"))[0]
    assert late["text"] == "There is no answer of yours to stop here."


def test_stop_said_in_the_thread_stops_the_answer_there(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    ts = mention(slack, "Count for me, slowly.")["ts"]
    stop_button(slack.fake, ts)
    # Bob's "stop" is not Alice's: he is told so, privately; the answer goes on.
    assert slack.http.event(said(slack, "stop", user=BOB, thread_ts=ts)).status_code == 200
    told = slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postEphemeral"))[0].args
    assert (told["user"], told["text"]) == (BOB, "There is no answer of yours to stop here.")
    # Alice mentions LLMOS with "/stop": Slack delivers it as app_mention and as message.
    stop = mention(slack, "/stop", thread_ts=ts)
    assert slack.http.event({**stop, "type": "message", "channel_type": "channel"}).status_code == 200
    assert slack.fake.answer(CHANNEL, ts).markdown.endswith(STOPPED)
    settle(slack.stack)
    assert count(slack.stack, ProcessedEvent) == 1
    assert len(slack.fake.calls_to("chat.postEphemeral")) == 1  # a stop that worked shows on the answer


def test_a_stop_slack_delivers_twice_is_answered_once(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: "Done already."
    ts = mention(slack, "Say something short.")["ts"]
    slack.fake.wait_for(lambda: slack.fake.answer(CHANNEL, ts).markdown == "Done already.")
    settle(slack.stack)
    # Nothing left to stop; the mention comes as app_mention and as message: one private notice.
    stop = mention(slack, "stop", thread_ts=ts)
    assert slack.http.event({**stop, "type": "message", "channel_type": "channel"}).status_code == 200
    told = slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postEphemeral"))
    settle(slack.stack)
    assert [c.args["text"] for c in told] == ["There is no answer of yours to stop here."]
    assert len(slack.fake.calls_to("chat.postEphemeral")) == 1


def test_stop_in_the_assistant_pane_stops_the_answer_without_a_thinking_status(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    thread_ts = slack.fake.next_ts()
    assert slack.http.event(said(slack, "Count for me.", channel=DM, thread_ts=thread_ts)).status_code == 200
    slack.fake.wait_for(lambda: slack.fake.calls_to("chat.startStream"))
    assert slack.http.event(said(slack, "Stop!", channel=DM, thread_ts=thread_ts)).status_code == 200
    assert slack.fake.answer(DM, thread_ts).markdown.endswith(STOPPED)
    settle(slack.stack)
    assert count(slack.stack, ProcessedEvent) == 1
    thinking = [c for c in slack.fake.calls_to("assistant.threads.setStatus") if c.args["status"]]
    assert len(thinking) == 1  # for the question only


def test_help_says_how_to_stop(slack: Running) -> None:
    shown = unescape(responses(slack, command(slack, "help"), 2)[1]["text"])
    assert "/llmos stop" in shown
    settle(slack.stack)
