"""/llmos, the message shortcuts and the admin commands, over the signed HTTP endpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import TenantLimits
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import ALICE, BOB, CHANNEL, mention
from tests.fixtures.slack_wire import shortcut
from tests.helpers import messages, settle
from tests.workers.toolscript import call_once, use

ADMIN = "U0ADMIN01"


def command(run: Running, text: str, *, user: str = ALICE, channel: str = CHANNEL) -> str:
    url = run.fake.response_url()
    response = run.http.command(text, user=user, channel=channel, response_url=url)
    assert response.status_code == 200 and response.text == ""  # acknowledged at once, answered later
    return url.rsplit("/", 1)[-1]


def responses(run: Running, hook: str, n: int = 1) -> list[dict[str, Any]]:
    return run.fake.wait_for(lambda: len(found := [b for h, b in run.fake.responses if h == hook]) >= n and found)


def test_commands_about_yourself_are_answered_privately(slack: Running, simulator) -> None:
    hook = command(slack, "help")
    shown = responses(slack, hook, 2)
    assert shown[0]["text"] == "_Working on it…_"
    assert "What I can do" in shown[1]["text"] and shown[1]["response_type"] == "ephemeral"
    hook = command(slack, "prefs set length short")
    assert responses(slack, hook, 2)[1]["text"] == "Saved: length = short."
    settle(slack.stack)
    assert simulator.requests == [] and slack.fake.calls_to("chat.postMessage") == []


def test_a_skill_is_answered_in_public_under_a_header(slack: Running, simulator) -> None:
    slack.fake.say(CHANNEL, ALICE, "We ship on Friday.")
    slack.fake.say(CHANNEL, BOB, "I'll write the release notes.")
    command(slack, "summarize 10")
    header = slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0]
    assert header.text == f"<@{ALICE}> asked: `/llmos summarize 10`"
    slack.fake.answer(CHANNEL, header.ts)
    prompt = simulator.requests[-1].body["messages"][-1]["content"]
    assert "alice: We ship on Friday.\nbob: I'll write the release notes." in prompt
    settle(slack.stack)
    # The header's thread is a conversation: a follow-up there needs no mention.
    follow = slack.fake.say(CHANNEL, ALICE, "who writes the notes?", thread_ts=header.ts)
    event = {"type": "message", "channel_type": "channel", "user": ALICE, "text": "who writes the notes?"}
    assert slack.http.event({**event, "ts": follow, "thread_ts": header.ts, "channel": CHANNEL}).status_code == 200
    slack.fake.wait_for(lambda: len(slack.fake.calls_to("chat.stopStream")) == 2)
    settle(slack.stack)


def test_a_question_after_llmos_is_asked_and_where_llmos_cannot_post_it_answers_privately(slack: Running) -> None:
    slack.fake.fail("chat.postMessage", "not_in_channel")
    hook = command(slack, "why is the sky blue?")
    shown = responses(slack, hook, 2)
    assert shown[1]["text"] == "You said: why is the sky blue?"
    settle(slack.stack)


def test_summarize_thread_shortcut_reads_the_thread_and_answers_the_clicker(slack: Running, simulator) -> None:
    root = slack.fake.say(CHANNEL, ALICE, "Should we move the launch?")
    reply = slack.fake.say(CHANNEL, BOB, "Yes, to Monday.", thread_ts=root)
    message = {"type": "message", "user": BOB, "text": "Yes, to Monday.", "ts": reply, "thread_ts": root}
    payload = shortcut_payload(slack, "llmos_summarize_thread", message)
    assert slack.http.interaction(payload).status_code == 200
    answer = responses(slack, payload["response_url"].rsplit("/", 1)[-1], 2)[1]
    assert answer["text"].startswith("You said: Summarize the following conversation")
    assert (
        "alice: Should we move the launch?\nbob: Yes, to Monday."
        in simulator.requests[-1].body["messages"][-1]["content"]
    )
    settle(slack.stack)


def test_translate_shortcut_uses_the_users_language(slack: Running, simulator) -> None:
    responses(slack, command(slack, "prefs set language German"), 2)
    settle(slack.stack)
    ts = slack.fake.say(CHANNEL, BOB, "Good morning, team!")
    message = {"type": "message", "user": BOB, "text": "Good morning, team!", "ts": ts}
    payload = shortcut_payload(slack, "llmos_translate", message)
    assert slack.http.interaction(payload).status_code == 200
    responses(slack, payload["response_url"].rsplit("/", 1)[-1], 2)
    assert simulator.requests[-1].body["messages"][-1]["content"] == (
        "Translate the following text into German. Reply with the translation only.\n\nGood morning, team!"
    )
    settle(slack.stack)


def test_draft_a_reply_is_private_to_the_asker(slack: Running, simulator) -> None:
    ts = slack.fake.say(CHANNEL, BOB, "Can you review my PR today?")
    message = {"type": "message", "user": BOB, "text": "Can you review my PR today?", "ts": ts}
    payload = shortcut_payload(slack, "llmos_draft_reply", message)
    assert slack.http.interaction(payload).status_code == 200
    hook = payload["response_url"].rsplit("/", 1)[-1]
    draft = responses(slack, hook, 2)[1]
    assert draft["response_type"] == "ephemeral" and draft["text"].startswith("You said: Draft a reply")
    assert "bob: Can you review my PR today?" in simulator.requests[-1].body["messages"][-1]["content"]
    assert slack.fake.replies(CHANNEL, ts) == []
    settle(slack.stack)


def test_a_shortcut_where_llmos_is_not_a_member_says_so(slack: Running) -> None:
    slack.fake.outside.add(CHANNEL)
    ts = slack.fake.say(CHANNEL, BOB, "secret plans")
    payload = shortcut_payload(slack, "llmos_summarize_thread", {"type": "message", "user": BOB, "text": "x", "ts": ts})
    assert slack.http.interaction(payload).status_code == 200
    shown = responses(slack, payload["response_url"].rsplit("/", 1)[-1])
    assert "Invite me first" in shown[0]["text"]


def test_only_workspace_admins_change_settings(slack: Running) -> None:
    shown = responses(slack, command(slack, "admin prompt Answer like a pirate."))
    assert shown[0]["text"] == "Only workspace admins and owners can change LLMOS's settings."


def test_an_admin_sets_the_channel_prompt_and_restricts_users(slack: Running, simulator) -> None:
    shown = responses(slack, command(slack, "admin prompt Answer like a pirate.", user=ADMIN))
    assert shown[0]["text"].startswith(f"Saved. Answers in <#{CHANNEL}> now follow")
    ts = mention(slack, "hello")["ts"]
    slack.fake.answer(CHANNEL, ts)
    assert "Answer like a pirate." in simulator.requests[-1].body["messages"][0]["content"]
    settle(slack.stack)

    shown = responses(slack, command(slack, f"admin block <@{BOB}|bob>", user=ADMIN))
    assert shown[0]["text"] == f"Blocked <@{BOB}> from using the assistant here."
    blocked = mention(slack, "let me in", user=BOB)
    refusal = slack.fake.wait_for(lambda: slack.fake.calls_to("chat.postEphemeral"))[0].args
    assert refusal["user"] == BOB and refusal["thread_ts"] == blocked["ts"]
    assert refusal["text"] == "Sorry, this user is blocked from using the assistant."
    rules = responses(slack, command(slack, "admin rules", user=ADMIN))
    assert rules[0]["text"].endswith(f"\n• block <@{BOB}>")
    # The same per-user rate as Discord's `/admin ratelimit`, from the same shared command.
    rate = responses(slack, command(slack, "admin rate 5", user=ADMIN))
    assert rate[0]["text"] == "Each user here may now ask 5 time(s) per minute."
    with slack.stack.sessions() as session:
        assert session.scalars(select(TenantLimits.user_requests_per_minute)).one() == 5
    settle(slack.stack)
    assert [m.content for m in messages(slack.stack, "user")] == ["hello"]


def shortcut_payload(run: Running, callback_id: str, message: dict[str, Any]) -> dict[str, Any]:
    return shortcut(callback_id, user=ALICE, channel=CHANNEL, message=message, response_url=run.fake.response_url())


def test_an_admin_switches_tools_off_and_people_remember_things(slack: Running, simulator) -> None:
    shown = responses(slack, command(slack, "admin tools off calculate remember", user=ADMIN))
    assert shown[0]["text"] == "Switched off: calculate, remember."
    assert responses(slack, command(slack, "admin tools", user=ADMIN))[0]["text"] == (
        "Tools switched off here: calculate, remember."
    )
    assert responses(slack, command(slack, "admin tools off no/slashes", user=ADMIN))[0]["text"].startswith("Usage")
    assert responses(slack, command(slack, "admin tools off calculate"))[0]["text"].startswith("Only workspace admins")
    saved = responses(slack, command(slack, "remember my team is Platform"), 2)[1]
    assert saved["text"].startswith("I will remember: my team is Platform")
    assert saved["response_type"] == "ephemeral"
    settle(slack.stack)
    ts = mention(slack, "which team am I in?")["ts"]
    slack.fake.answer(CHANNEL, ts)
    body = simulator.requests[-1].body
    names = [tool["function"]["name"] for tool in body["tools"]]
    assert "calculate" not in names and "remember" not in names and "current_time" in names
    assert "- my team is Platform" in body["messages"][0]["content"]
    settle(slack.stack)
    shown = responses(slack, command(slack, "admin tools on calculate", user=ADMIN))
    assert shown[0]["text"] == "Switched on: calculate."


def test_a_tool_answer_through_slack(slack: Running, simulator) -> None:
    use(simulator, call_once("calculate", expression="12 * 12"))
    ts = mention(slack, "what is 12 times 12?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown == "The tool said: 12 * 12 = 144"
    settle(slack.stack)
    assert messages(slack.stack, "assistant")[-1].attachments["tool_rounds"][0]["results"] == ["12 * 12 = 144"]


def test_a_channel_admin_sets_memories_everyone_in_the_channel_shares(slack: Running, simulator) -> None:
    shown = responses(slack, command(slack, "admin memory Deploys happen on Thursdays.", user=ADMIN))
    assert shown[0]["text"] == "Everyone's answers in this channel now keep in mind: Deploys happen on Thursdays."
    assert responses(slack, command(slack, "admin memory", user=ADMIN))[0]["text"].endswith(
        "1. Deploys happen on Thursdays."
    )
    assert responses(slack, command(slack, "admin memory forget soon", user=ADMIN))[0]["text"].startswith("Usage")
    ts = mention(slack, "when do we deploy?", user=BOB)["ts"]
    slack.fake.answer(CHANNEL, ts)
    assert "- Deploys happen on Thursdays. (this channel)" in simulator.requests[-1].body["messages"][0]["content"]
    settle(slack.stack)
    # Bob's own /memories are his alone; the channel's are not among them.
    mine = responses(slack, command(slack, "memories", user=BOB), 2)[1]["text"]
    assert mine.startswith("I remember nothing about you yet.")
    assert responses(slack, command(slack, "admin memory forget all", user=ADMIN))[0]["text"] == (
        "Removed 1 channel memory(ies)."
    )
