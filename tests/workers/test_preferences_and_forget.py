"""Preferences precedence (user over channel over tenant), forget, and access rules, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from db import access, directory, preferences
from db.models import Conversation, Message, Preference
from db.preferences import Scope
from engine.simulator import SimulatedEngine
from tests.helpers import chat, messages
from workers.stack import Stack


def _place(stack: Stack, user: str = "alice", thread: str = "t1") -> directory.Place:
    with stack.sessions.begin() as session:
        return directory.resolve(
            session,
            platform="terminal",
            tenant_external="local",
            user_external=user,
            channel_external="terminal",
            thread_key=thread,
        )


def test_most_specific_preference_wins(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    place = _place(clean_stack)
    other = _place(clean_stack, user="bob")
    with clean_stack.sessions.begin() as session:
        ids = {"tenant_id": place.tenant_id}
        preferences.set_value(session, **ids, scope=Scope.TENANT, key="language", value="Spanish")
        preferences.set_value(session, **ids, scope=Scope.TENANT, key="persona", value="a pirate")
        preferences.set_value(
            session, **ids, scope=Scope.CHANNEL, channel_id=place.channel_id, key="language", value="French"
        )
        preferences.set_value(
            session,
            **ids,
            scope=Scope.CHANNEL,
            channel_id=place.channel_id,
            key="system_prompt",
            value="This channel is about cooking.",
        )
        preferences.set_value(session, **ids, scope=Scope.USER, user_id=place.user_id, key="language", value="German")
    with clean_stack.sessions() as session:
        mine = preferences.effective(
            session, tenant_id=place.tenant_id, channel_id=place.channel_id, user_id=place.user_id
        )
        bobs = preferences.effective(
            session, tenant_id=place.tenant_id, channel_id=place.channel_id, user_id=other.user_id
        )
    assert mine == {"language": "German", "persona": "a pirate", "system_prompt": "This channel is about cooking."}
    assert bobs["language"] == "French"

    chat(clean_stack, "hola")
    system = simulator.requests[-1].body["messages"][0]["content"]
    assert system == (
        "You are a helpful assistant. Act as a pirate. This channel is about cooking. Always answer in German."
    )
    said = chat(clean_stack, "/prefs")
    assert (
        "language: German (yours)" in said.out and "persona: a pirate (set for this channel or workspace)" in said.out
    )


def test_prefs_set_by_chat_reach_the_prompt_and_answer_length(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    chat(clean_stack, "/prefs set length short")
    chat(clean_stack, "/prefs set persona a patient maths teacher")
    chat(clean_stack, "explain fractions")
    body = simulator.requests[-1].body
    assert body["max_tokens"] == 128
    assert "Act as a patient maths teacher." in body["messages"][0]["content"]
    assert chat(clean_stack, "/prefs unset persona").out.startswith("Removed your persona")
    assert chat(clean_stack, "/prefs set model nope").out.startswith("Cannot set model to 'nope': this engine serves")


def test_forget_deletes_my_conversations_and_nobody_elses(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    chat(clean_stack, "secret one", user="alice", thread="a1")
    chat(clean_stack, "secret two", user="alice", thread="a2")
    chat(clean_stack, "bob's note", user="bob", thread="b1")
    chat(clean_stack, "/prefs set language Italian", user="alice", thread="a1")
    said = chat(clean_stack, "/forget", user="alice", thread="a3")
    assert said.out.startswith("Done: I deleted 3 conversation(s)")
    with clean_stack.sessions() as session:
        left = [m.content for m in session.scalars(select(Message).order_by(Message.id))]
        threads = {c.thread_key for c in session.scalars(select(Conversation))}
        kept_prefs = session.scalars(select(Preference.value)).all()
    assert left == ["bob's note", "You said: bob's note"]
    assert threads == {"b1"}
    assert kept_prefs == ["Italian"]
    chat(clean_stack, "hello again", user="alice", thread="a1")
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user"]


def test_blocked_users_are_told_and_nothing_is_queued(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    place = _place(clean_stack, user="mallory")
    with clean_stack.sessions.begin() as session:
        access.set_rule(
            session,
            tenant_id=place.tenant_id,
            subject_type=access.Subject.USER,
            subject="mallory",
            effect=access.Effect.BLOCK,
        )
    said = chat(clean_stack, "let me in", user="mallory")
    assert said.code == 1 and "this user is blocked" in said.err
    assert messages(clean_stack) == [] and simulator.requests == []
    assert chat(clean_stack, "hi", user="alice").code == 0


def test_forget_leaves_other_peoples_messages_in_a_conversation_i_started(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    chat(clean_stack, "my question", user="alice", thread="shared")
    chat(clean_stack, "bob joins in", user="bob", thread="shared")
    said = chat(clean_stack, "/forget", user="alice", thread="elsewhere")
    # The two of the shared thread and the /forget line itself, whose thread held nothing else.
    assert "1 conversation(s) and 3 message(s)" in said.out
    with clean_stack.sessions() as session:
        left = [m.content for m in session.scalars(select(Message).order_by(Message.id))]
    # Bob's question reached the engine with his name, as the second person in the thread.
    assert left == ["bob joins in", "You said: bob: bob joins in"]
