"""The Slack sink against the fake Web API: streaming, its fallback, long answers, 429, bad tokens."""

from __future__ import annotations

import logging

import pytest

from bots.slack.ref import ReplyMode, SlackRef
from bots.slack.settings import SlackSettings
from bots.slack.sink import EphemeralSink
from bots.slack.stream import MESSAGE_LIMIT, STREAM_LIMIT, ThreadSink
from bots.slack.web import SlackAuthError, web_client
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.fixtures.fake_slack import BOT_TOKEN, TEAM, FakeSlack
from tests.helpers import settle

ALICE = "U0ALICE01"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sink(fake: FakeSlack, *, streaming: bool = True, clock: Clock | None = None, token: str = BOT_TOKEN) -> ThreadSink:
    ts = fake.say(CHANNEL, ALICE, "question")
    ref = SlackRef(mode=ReplyMode.THREAD, team=TEAM, channel=CHANNEL, user=ALICE, thread_ts=ts)
    settings = SlackSettings(_env_file=None, api_url=fake.api_url, rate_limit_retries=3)  # type: ignore[call-arg]
    client = web_client(settings, token=token)
    return ThreadSink(client=client, ref=ref, streaming=streaming, clock=clock or Clock())


def test_text_streams_in_throttled_appends_and_the_first_goes_out_at_once(fake: FakeSlack) -> None:
    clock = Clock()
    out = sink(fake, clock=clock)
    ts = out.start(resume_ref=None)
    out.append("Hello")
    assert [c.args["markdown_text"] for c in fake.calls_to("chat.appendStream")] == ["Hello"]
    for word in [" there", ",", " friend"]:
        clock.now += 0.08
        out.append(word)
    assert len(fake.calls_to("chat.appendStream")) == 1  # batched until the interval passes
    clock.now += 0.3
    out.append("!")
    out.finish("Hello there, friend!")
    assert [c.args["markdown_text"] for c in fake.calls_to("chat.appendStream")] == ["Hello", " there, friend!"]
    assert fake.calls_to("chat.stopStream")[0].args["ts"] == ts
    assert fake.replies(CHANNEL, out._ref.thread_ts)[0].markdown == "Hello there, friend!"


def test_without_streaming_it_posts_then_updates_at_most_once_a_second(fake: FakeSlack) -> None:
    fake.fail("chat.startStream", "unknown_method")
    clock = Clock()
    out = sink(fake, clock=clock)
    ts = out.start(resume_ref=None)
    assert fake.calls_to("chat.postMessage")[0].args["text"] == "_Thinking…_"
    words = [f"**word{i}** " for i in range(20)]
    for word in words:
        clock.now += 0.25  # five seconds of tokens
        out.append(word)
    updates = fake.calls_to("chat.update")
    assert 4 <= len(updates) <= 5
    out.finish("".join(words).strip())
    final = fake.calls_to("chat.update")[-1].args
    assert final["ts"] == ts and final["text"].startswith("*word0* *word1*") and not final["text"].endswith("…")


def test_a_long_answer_continues_in_new_messages_cut_at_paragraphs(fake: FakeSlack) -> None:
    paragraph = "A sentence that goes on for a while. " * 20
    answer = "\n\n".join(f"{i} {paragraph}" for i in range(40))  # ~30,000 characters
    out = sink(fake)
    out.start(resume_ref=None)
    for i in range(0, len(answer), 500):
        out.append(answer[i : i + 500])
    out.finish(answer)
    streamed = fake.replies(CHANNEL, out._ref.thread_ts)
    assert len(streamed) == 3 and all(len(m.markdown) <= STREAM_LIMIT for m in streamed)
    assert all(not m.streaming for m in streamed)
    assert all(m.markdown.rstrip().endswith(".") for m in streamed[:-1])  # cut between paragraphs
    assert "".join(m.markdown for m in streamed) == answer


def test_posted_answers_split_cleanly_and_keep_code_blocks_whole(fake: FakeSlack) -> None:
    code = "```python\n" + "print('line')\n" * 400 + "```"
    out = sink(fake, streaming=False)
    out.start(resume_ref=None)
    out.finish(f"Here is the script:\n\n{code}\n\nRun it.")
    posted = fake.replies(CHANNEL, out._ref.thread_ts)
    assert len(posted) >= 2 and all(len(m.text) <= MESSAGE_LIMIT for m in posted)
    assert all(m.text.count("```") % 2 == 0 for m in posted)
    assert posted[-1].text.endswith("Run it.")


def test_msg_too_long_is_answered_by_splitting_smaller(fake: FakeSlack) -> None:
    fake.text_limit = 1500
    out = sink(fake, streaming=False)
    out.start(resume_ref=None)
    answer = "\n".join(f"Line {i} of a long list." for i in range(200))
    out.finish(answer)
    posted = fake.replies(CHANNEL, out._ref.thread_ts)
    assert len(posted) >= 4 and all(len(m.text) <= 1500 for m in posted)
    assert "\n".join(m.text for m in posted) == answer


def test_rate_limits_are_waited_out_and_nothing_is_dropped(fake: FakeSlack, caplog) -> None:
    fake.rate_limit("chat.appendStream", retry_after=0, times=2)
    fake.rate_limit("chat.stopStream", retry_after=0)
    clock = Clock()
    out = sink(fake, clock=clock)
    out.start(resume_ref=None)
    with caplog.at_level(logging.WARNING, logger="bots.slack.web"):
        out.append("All ")
        clock.now += 1
        out.append("of it.")
        out.finish("All of it.")
    assert fake.replies(CHANNEL, out._ref.thread_ts)[0].markdown == "All of it."
    assert len(fake.calls_to("chat.appendStream")) == 4  # two refused, two accepted
    assert "rate-limited" in caplog.text


def test_a_refused_token_is_logged_clearly(fake: FakeSlack, caplog) -> None:
    out = sink(fake, token="xoxb-revoked")
    with caplog.at_level(logging.ERROR), pytest.raises(SlackAuthError):
        out.start(resume_ref=None)
    assert f"Slack refused the bot token of workspace {TEAM} (invalid_auth)" in caplog.text
    assert "xoxb-revoked" not in caplog.text


def test_a_resumed_answer_edits_the_message_the_dead_worker_started(fake: FakeSlack) -> None:
    first = sink(fake)
    ts = first.start(resume_ref=None)
    first.append("Half an ans")
    second = sink(fake)
    second._ref = first._ref
    assert second.start(resume_ref=ts) == ts
    second.finish("The whole answer.")
    shown = fake.replies(CHANNEL, first._ref.thread_ts)
    assert len(shown) == 1 and shown[0].text == "The whole answer." and not shown[0].streaming


def test_ephemeral_answers_go_to_the_response_url(fake: FakeSlack) -> None:
    out = EphemeralSink(url=fake.response_url(), rate_limit_retries=1)
    out.start(resume_ref=None)
    out.append("ignored until done")
    out.finish("Your **preferences** are saved.")
    bodies = [body for _, body in fake.responses]
    assert bodies[0]["text"] == "_Working on it…_"
    assert bodies[1] == {
        "text": "Your *preferences* are saved.",
        "response_type": "ephemeral",
        "replace_original": True,
    }


def test_where_streaming_is_unavailable_the_whole_path_falls_back(slack: Running, simulator) -> None:
    slack.fake.streaming = False
    simulator.config.answer = lambda msgs: "## Result\nIt is **done**."
    ts = mention(slack, "status?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.text == "*Result*\nIt is *done*."
    settle(slack.stack)


def test_a_separate_worker_gets_the_slack_sink_from_the_surface_it_built(
    clean_stack, fake: FakeSlack, monkeypatch
) -> None:
    from bots import surfaces
    from workers.events import Event, Platform
    from workers.sinks import SinkContext, SinkRegistry

    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_STREAMING", "false")
    ts = fake.say(CHANNEL, ALICE, "question")
    ref = SlackRef(mode=ReplyMode.THREAD, team=TEAM, channel=CHANNEL, user=ALICE, thread_ts=ts)
    event = Event(
        platform=Platform.SLACK,
        tenant=TEAM,
        channel=CHANNEL,
        thread=ts,
        user=ALICE,
        message_id=ts,
        text="q",
        ref=ref.to_dict(),
    )
    # What `llmos worker` does: build the surfaces from its environment, give their outlets to its workers.
    registry = SinkRegistry(bus=clean_stack.bus)
    for surface in surfaces.from_environment():
        registry.extend(
            surface.outlets(SinkContext(sessions=clean_stack.sessions, bus=clean_stack.bus, sinks=registry))
        )
    out = registry.for_event(event)
    out.start(resume_ref=None)
    out.finish("Answered from another process.")
    assert fake.replies(CHANNEL, ts)[0].text == "Answered from another process."
    assert fake.calls_to("chat.startStream") == []  # SLACK_STREAMING=false was read


def test_a_stream_slack_finds_too_long_continues_in_a_new_message(fake: FakeSlack) -> None:
    clock = Clock()
    out = sink(fake, clock=clock)
    out.start(resume_ref=None)
    out.append("First part. ")
    fake.fail("chat.appendStream", "msg_too_long")
    clock.now += 1
    out.append("Second part.")
    out.finish("First part. Second part.")
    shown = fake.replies(CHANNEL, out._ref.thread_ts)
    assert [m.markdown for m in shown] == ["First part. ", "Second part."]
    assert not any(m.streaming for m in shown)
