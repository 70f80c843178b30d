"""Reading back what the bot did in the fake Discord and in the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select

from db.models import Conversation, ProcessedEvent
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Call
from tests.helpers import shown
from workers.stack import Stack

T = TypeVar("T")


def event_status(stack: Stack, message_id: str | int) -> str | None:
    with stack.sessions() as session:
        found = session.execute(
            select(ProcessedEvent.key, ProcessedEvent.status).where(ProcessedEvent.key.endswith(f":{message_id}"))
        ).first()
    if found is None:
        return None
    # `done` is committed with the stored answer, just before the last update reaches the platform.
    return found.status if shown(stack, found.key) else "showing"


def wait_done(stack: Stack, message_id: str | int, *, timeout: float = 15.0, status: str = "done") -> None:
    """Wait until the event of this Discord message (or interaction) reached `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if event_status(stack, message_id) == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"event {message_id} is {event_status(stack, message_id)!r}, not {status!r}")


def replies(fake: FakeDiscord, to: dict[str, Any] | int | str) -> list[dict[str, Any]]:
    """The bot's answer to a message: the reply to it, then each part replying to the part before."""
    w = fake.world
    parent = str(to["id"] if isinstance(to, dict) else to)

    def chain() -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        current = parent
        while True:
            nxt = next(
                (
                    m
                    for m in w.messages.values()
                    if int(m["author"]["id"]) == w.bot_id
                    and (m.get("message_reference") or {}).get("message_id") == current
                ),
                None,
            )
            if nxt is None:
                return parts
            parts.append(dict(nxt))
            current = nxt["id"]

    return fake.run(chain)


def eventually(check: Callable[[], T], *, timeout: float = 10.0, what: str = "") -> T:
    """Poll `check` from the test thread until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)


def answer_text(fake: FakeDiscord, to: dict[str, Any] | int | str) -> str:
    return "\n".join(part["content"] for part in replies(fake, to))


def calls(fake: FakeDiscord, method: str, contains: str = "") -> list[Call]:
    return fake.run(lambda: [c for c in fake.world.calls if c.method == method and contains in c.path])


def conversations(stack: Stack) -> list[str]:
    with stack.sessions() as session:
        return list(session.scalars(select(Conversation.thread_key).order_by(Conversation.id)))


def user_turns(request_body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request_body["messages"]]
