"""Submit an event, and say what the user must hear when it was not taken.

Every surface hands events over the same way; they differ only in how they show the answer to the
user (a private Slack note, a Discord reply, an HTTP status, a line on stderr).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from workers.events import Event
from workers.intake import Enqueue, IntakeError, submit

log = logging.getLogger(__name__)


class Turned(StrEnum):
    """Why an event was not taken."""

    # The access rules or a limit said no: asking again will not help (HTTP 403).
    REFUSED = "refused"
    # LLMOS could not store or queue it just now: asking again later may (HTTP 503).
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Handed:
    # Queued for an answer now (False too for a message handed over before: a retry or a redelivery).
    accepted: bool
    turned: Turned | None = None
    # What to tell the user when `turned` is set.
    message: str = ""
    # A limit turned it away: seconds until the user may ask again.
    retry_after: float | None = None


# What an HTTP surface (web chat, admin jobs) answers for each.
HTTP_STATUS = {Turned.REFUSED: 403, Turned.UNAVAILABLE: 503}


def hand_over(event: Event, *, sessions: sessionmaker[Session], enqueue: Enqueue) -> Handed:
    try:
        submitted = submit(event, sessions=sessions, enqueue=enqueue)
    except IntakeError as exc:
        log.warning("event %s not queued: %s", event.key, exc)
        return Handed(accepted=False, turned=Turned.UNAVAILABLE, message=str(exc))
    if submitted.refused:
        return Handed(
            accepted=False, turned=Turned.REFUSED, message=submitted.refused, retry_after=submitted.retry_after
        )
    if not submitted.accepted:
        log.info("event %s was handed over before (a retry or a second delivery)", event.key)
    return Handed(accepted=submitted.accepted)
