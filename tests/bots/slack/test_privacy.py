"""What only the asker sees, and what the channel sees: results for one person go to that person,
mistakes and refusals are never posted, and where LLMOS cannot post the asker still hears back."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import ADMIN, command, responses, shortcut_payload
from tests.bots.slack.test_conversations import ALICE, BOB, CHANNEL
from tests.helpers import settle


def _hook(payload: dict) -> str:
    return str(payload["response_url"]).rsplit("/", 1)[-1]


def test_a_draft_asked_with_llmos_is_shown_only_to_the_asker(slack: Running, simulator) -> None:
    slack.fake.say(CHANNEL, BOB, "Can you cover my shift on Monday?")
    hook = command(slack, "draft say yes, happily")
    draft = responses(slack, hook, 2)[1]
    assert draft["response_type"] == "ephemeral" and draft["text"].startswith("You said: Draft a reply")
    assert "bob: Can you cover my shift on Monday?" in simulator.requests[-1].body["messages"][-1]["content"]
    settle(slack.stack)
    assert slack.fake.calls_to("chat.postMessage") == [] and slack.fake.calls_to("chat.startStream") == []


def test_translate_and_summarize_shortcuts_answer_only_the_person_who_clicked(slack: Running, simulator) -> None:
    root = slack.fake.say(CHANNEL, BOB, "Guten Morgen, Team!")
    message = {"type": "message", "user": BOB, "text": "Guten Morgen, Team!", "ts": root}
    for callback in ("llmos_translate", "llmos_summarize_thread"):
        payload = shortcut_payload(slack, callback, message)
        assert slack.http.interaction(payload).status_code == 200
        shown = responses(slack, _hook(payload), 2)[1]
        assert shown["response_type"] == "ephemeral" and shown["text"].startswith("You said: ")
        settle(slack.stack)
    # Nothing went into Bob's thread, so nobody in it was notified.
    assert slack.fake.replies(CHANNEL, root) == [] and slack.fake.calls_to("chat.startStream") == []


def test_a_shortcut_where_llmos_may_not_post_still_answers_the_clicker(slack: Running, simulator) -> None:
    slack.fake.fail("chat.startStream", "not_in_channel", times=3)
    slack.fake.fail("chat.postMessage", "not_in_channel", times=3)
    ts = slack.fake.say(CHANNEL, BOB, "Bonjour à tous")
    payload = shortcut_payload(slack, "llmos_translate", {"type": "message", "user": BOB, "text": "Bonjour", "ts": ts})
    assert slack.http.interaction(payload).status_code == 200
    shown = responses(slack, _hook(payload), 2)
    assert shown[1]["text"].startswith("You said: Translate the following text into English")
    settle(slack.stack)


def test_a_blocked_user_is_refused_privately_and_may_still_delete_their_data(slack: Running, simulator) -> None:
    responses(slack, command(slack, f"admin block <@{BOB}|bob>", user=ADMIN))
    refused = responses(slack, command(slack, "ask what is new?", user=BOB))[0]
    assert refused["text"] == "Sorry, this user is blocked from using the assistant."
    assert slack.fake.calls_to("chat.postMessage") == [] and slack.fake.calls_to("chat.delete") == []
    forgot = responses(slack, command(slack, "forget", user=BOB), 2)[1]
    assert forgot["text"].startswith("Done: I deleted")
    settle(slack.stack)
    assert simulator.requests == []


def test_usage_mistakes_are_answered_privately_and_never_asked(slack: Running, simulator) -> None:
    missing = responses(slack, command(slack, "translate German"), 2)[1]
    assert missing["response_type"] == "ephemeral"
    assert missing["text"].startswith("say what to translate, e.g. /llmos translate French hello.")
    typo = responses(slack, command(slack, "sumarize 5"), 2)[1]
    assert typo["text"].startswith("unknown command /sumarize (did you mean /summarize?).")
    settle(slack.stack)
    assert simulator.requests == [] and slack.fake.calls_to("chat.postMessage") == []


def test_summarize_n_reads_n_messages_people_wrote(slack: Running, simulator) -> None:
    for index in range(1, 6):
        slack.fake.say(CHANNEL, ALICE, f"point {index}")
        slack.fake.say(CHANNEL, BOB, f"<@{BOB}> has joined the channel", subtype="channel_join")
    command(slack, "summarize 5")
    header = slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0]
    slack.fake.answer(CHANNEL, header.ts)
    prompt = simulator.requests[-1].body["messages"][-1]["content"]
    assert prompt.endswith("\n".join(f"alice: point {index}" for index in range(1, 6)))
    settle(slack.stack)


def test_the_header_names_people_instead_of_showing_markup(slack: Running, simulator) -> None:
    command(slack, f"what did <@{BOB}|bob> decide?")
    header = slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0]
    assert header.text == f"<@{ALICE}> asked: `/llmos what did @bob decide?`"
    slack.fake.answer(CHANNEL, header.ts)
    settle(slack.stack)


def test_a_skills_own_language_wins_over_the_language_preference(slack: Running, simulator) -> None:
    responses(slack, command(slack, "prefs set language French"), 2)
    settle(slack.stack)
    command(slack, "translate German hello")
    header = slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0]
    slack.fake.answer(CHANNEL, header.ts)
    sent = simulator.requests[-1].body["messages"]
    system, asked = sent[0]["content"], sent[-1]["content"]
    assert "French" not in system and asked.startswith("Translate the following text into German.")
    settle(slack.stack)
