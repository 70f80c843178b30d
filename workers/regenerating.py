"""Regenerate: ask a finished answer's question again, with the context it had, on the one task path.

Every surface asks the same way (a button on the answer, `/regenerate`): `again` checks the asker
against the ledger and builds the new event, which the surface hands over like any message, so the
ledger, the scheduler and the limits apply. The event is the original question with a new message id
and its args: `regenerates` (the answer it replaces), `asked` (the question's own event, whose user
message is not stored twice) and, where the platform can edit it, `replaces` (the old answer's message
handle). The worker reads the history as it was before that question, streams into that message,
stores the new answer and marks the old one superseded (both keep their feedback).

The new message id is the question's own with a number (`<id>/again-<n>`, n = 1, 2, …: the first
number no regeneration of that question has taken yet). Two presses at once therefore build the same
event, and the ledger's unique key lets only one in: one new answer, however often it was pressed.
A press while a regeneration of the question is still being answered is told so.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import events
from db.events import Status
from db.models import Message, ProcessedEvent
from workers.commands import COMMANDS
from workers.events import Event
from workers.stopping import Asker, newest, pressed_on


class Verdict(StrEnum):
    NOT_YOURS = "not_yours"
    ANSWERING = "answering"
    NOT_AN_ANSWER = "not_an_answer"
    SUPERSEDED = "superseded"
    REGENERATING = "regenerating"
    UNKNOWN = "unknown"


MESSAGES = {
    Verdict.NOT_YOURS: "Only the person who asked, or an admin, can regenerate this answer.",
    Verdict.ANSWERING: "That answer is not finished yet; stop it first or wait for it.",
    Verdict.NOT_AN_ANSWER: "Only the assistant's answers can be regenerated, not the replies to commands.",
    Verdict.SUPERSEDED: "That answer was already regenerated; regenerate the newest one.",
    Verdict.REGENERATING: "That answer is being asked again already; the new one is on its way.",
    Verdict.UNKNOWN: "There is no answer of yours to regenerate here.",
}
REGENERATING = "Asking again…"
# A regeneration's message id: the question's, this, and its number.
AGAIN = "/again-"
# How many regenerations' keys are looked up in one query.
WINDOW = 32


def again(
    sessions: sessionmaker[Session],
    *,
    key: str,
    asker: Asker,
    ref: Mapping[str, Any] | None = None,
    replaces: str | None = None,
) -> Event | Verdict:
    """The event that asks event `key`'s question again for `asker`, or why it may not be asked.

    `ref` is the new event's platform handle (the original's when None); `replaces` names the old
    answer's message (as the platform's sink resumes one) for the new answer to be streamed into."""
    with sessions() as session:
        found = pressed_on(session, key=key, asker=asker)
        superseded = session.scalar(
            select(Message.superseded).where(Message.event_key == key, Message.role == "assistant")
        )
        taken = _taken(session, found.event) if found is not None else None
        session.rollback()
    if found is None or taken is None:
        return Verdict.UNKNOWN
    original = found.event
    if not found.allowed:
        return Verdict.NOT_YOURS
    if original.kind in COMMANDS:
        return Verdict.NOT_AN_ANSWER
    if found.status is not Status.DONE:
        return Verdict.ANSWERING if found.status in events.OPEN else Verdict.UNKNOWN
    if superseded is None:
        return Verdict.UNKNOWN
    if superseded:
        return Verdict.SUPERSEDED
    if taken.answering:
        return Verdict.REGENERATING
    return dataclasses.replace(
        original,
        message_id=f"{_question_id(original)}{AGAIN}{taken.next}",
        args={
            **original.args,
            "regenerates": key,
            "asked": original.asked,
            **({"replaces": replaces} if replaces else {}),
        },
        ref=dict(original.ref if ref is None else ref),
        received_at=time.time(),
    )


@dataclass(frozen=True, slots=True)
class Taken:
    """The regenerations of one question so far: the number the next one takes, and whether one is
    still being answered."""

    next: int
    answering: bool


def _question_id(event: Event) -> str:
    """The message id of the question `event` answers (a regeneration's question is the first one's)."""
    return event.asked.removeprefix(f"{event.platform}:{event.tenant}:")


def _taken(session: Session, event: Event) -> Taken:
    prefix = f"{event.platform}:{event.tenant}:{_question_id(event)}{AGAIN}"
    answering, start = False, 1
    while True:
        keys = {f"{prefix}{n}": n for n in range(start, start + WINDOW)}
        rows = session.execute(
            select(ProcessedEvent.key, ProcessedEvent.status).where(ProcessedEvent.key.in_(keys))
        ).all()
        answering = answering or any(Status(status) in events.OPEN for _key, status in rows)
        used = {keys[str(found)] for found, _status in rows}
        free = next((n for n in range(start, start + WINDOW) if n not in used), None)
        if free is not None:
            return Taken(next=free, answering=answering)
        start += WINDOW


def latest_answer(session: Session, *, platform: str, tenant: str, channel: str, thread: str, user: str) -> str | None:
    """The key of this person's newest finished answer in this thread (what a bare `/regenerate` asks again)."""
    return newest(
        session,
        platform=platform,
        tenant=tenant,
        statuses=(Status.DONE,),
        matches=lambda event: (
            (event.channel, event.thread, event.user) == (channel, thread, user) and event.kind not in COMMANDS
        ),
    )
