"""What LLMOS keeps, and for how long: the periodic prune behind RETENTION_DAYS.

Processed events, finished jobs, delivery logs and notices are records of work done; conversations
are people's words. All of them go once older than the retention period (a conversation counts from
its last message). Reply credentials an event carried (a Discord interaction token, a Slack
response_url) are useless once the answer is shown and are scrubbed from the stored event soon after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.admin import Delivery, Job
from db.models import Conversation, Message, Notice, ProcessedEvent

log = logging.getLogger(__name__)

FINISHED = ("done", "failed")
# A reply credential is kept this long after the answer finished (a redelivered task may show it again).
CREDENTIAL_GRACE = timedelta(minutes=15)
# How far back each run looks for credentials to scrub; runs come far more often than this.
CREDENTIAL_SCAN = timedelta(days=1)
# Keys of an event's `ref` that let whoever holds them post as LLMOS.
CREDENTIAL_KEYS = ("token", "response_url", "interaction_token")
BATCH = 500


@dataclass(frozen=True, slots=True)
class Pruned:
    events: int = 0
    jobs: int = 0
    deliveries: int = 0
    notices: int = 0
    conversations: int = 0
    messages: int = 0
    scrubbed: int = 0

    def total(self) -> int:
        return sum(int(getattr(self, f.name)) for f in fields(self))


def prune(session: Session, *, days: int, now: datetime | None = None) -> Pruned:
    """Delete what is older than `days` and scrub used reply credentials; one transaction."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    cutoff = now - timedelta(days=days)
    epoch_cutoff = cutoff.replace(tzinfo=UTC).timestamp()
    events = session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.status.in_(FINISHED), ProcessedEvent.received_at < epoch_cutoff)
    )
    jobs = session.execute(delete(Job).where(Job.finished_at.is_not(None), Job.finished_at < cutoff))
    deliveries = session.execute(
        delete(Delivery).where(Delivery.status.in_(("delivered", "failed")), Delivery.created_at < cutoff)
    )
    notices = session.execute(delete(Notice).where(Notice.created_at < cutoff))
    conversations, messages = _expired_conversations(session, cutoff=cutoff)
    return Pruned(
        events=_count(events),
        jobs=_count(jobs),
        deliveries=_count(deliveries),
        notices=_count(notices),
        conversations=conversations,
        messages=messages,
        scrubbed=scrub_credentials(session, now=now),
    )


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _expired_conversations(session: Session, *, cutoff: datetime) -> tuple[int, int]:
    recent = select(Message.id).where(Message.conversation_id == Conversation.id, Message.created_at >= cutoff)
    expired = list(session.scalars(select(Conversation.id).where(Conversation.created_at < cutoff, ~recent.exists())))
    gone = 0
    for start in range(0, len(expired), BATCH):
        chunk = expired[start : start + BATCH]
        gone += _count(session.execute(delete(Message).where(Message.conversation_id.in_(chunk))))
        session.execute(delete(Conversation).where(Conversation.id.in_(chunk)))
    return len(expired), gone


def scrub_credentials(session: Session, *, now: datetime) -> int:
    """Remove reply credentials from events finished more than CREDENTIAL_GRACE ago."""
    latest = (now - CREDENTIAL_GRACE).replace(tzinfo=UTC).timestamp()
    earliest = (now - CREDENTIAL_SCAN).replace(tzinfo=UTC).timestamp()
    rows = session.scalars(
        select(ProcessedEvent).where(
            ProcessedEvent.status.in_(FINISHED),
            ProcessedEvent.finished_at.is_not(None),
            ProcessedEvent.finished_at < latest,
            ProcessedEvent.finished_at >= earliest,
        )
    )
    scrubbed = 0
    for row in rows:
        ref = dict((row.payload or {}).get("ref") or {})
        if not any(key in ref for key in CREDENTIAL_KEYS):
            continue
        for key in CREDENTIAL_KEYS:
            ref.pop(key, None)
        row.payload = {**row.payload, "ref": ref}
        scrubbed += 1
    return scrubbed
