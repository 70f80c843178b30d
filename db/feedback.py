"""People's 👍/👎 on answers: stored once per person and answer, reported per model and skill, exported.

Every surface records feedback through `record` (a second press changes the rating), which also
leaves a `feedback.received` notice for the tenant's outbound webhooks in the same transaction.
The dashboard reads `rates`; the exports read `for_export`, so an exporter needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db import notices
from db.models import Feedback, Message, User, utcnow

UP, DOWN = 1, -1
COMMENT_LIMIT = 2000


def record(session: Session, *, answer: Message, user_id: int, rating: int, comment: str = "") -> Feedback:
    """Keep `user_id`'s rating of `answer` (replacing an earlier one) and tell the tenant's webhooks."""
    if rating not in (UP, DOWN):
        raise ValueError(f"a rating is {UP} or {DOWN}, not {rating}")
    comment = comment.strip()[:COMMENT_LIMIT]
    row = session.scalar(select(Feedback).where(Feedback.message_id == answer.id, Feedback.user_id == user_id))
    if row is None:
        row = Feedback(
            tenant_id=answer.tenant_id,
            message_id=answer.id,
            user_id=user_id,
            event_key=answer.event_key,
            model=answer.model,
            skill=answer.kind,
            prompt_version=str((answer.attachments or {}).get("prompt_version") or ""),
        )
        session.add(row)
    row.rating = rating
    # A second press without a comment keeps the comment given before.
    row.comment = comment or (row.comment or "")
    row.updated_at = utcnow()
    session.flush()
    notices.emit(session, kind=notices.FEEDBACK_RECEIVED, tenant_id=answer.tenant_id, data=_notice(row))
    return row


def rating_of(session: Session, *, answer: Message, user_id: int) -> int | None:
    """The rating `user_id` gave `answer`, if any."""
    return session.scalar(select(Feedback.rating).where(Feedback.message_id == answer.id, Feedback.user_id == user_id))


def _notice(row: Feedback) -> dict[str, Any]:
    return {
        "event_key": row.event_key,
        "rating": "up" if row.rating == UP else "down",
        "comment": row.comment,
        "model": row.model,
        "skill": row.skill,
        "prompt_version": row.prompt_version,
    }


@dataclass(frozen=True, slots=True)
class Rate:
    """Feedback on one model's answers of one skill on one day."""

    day: str
    model: str
    skill: str
    up: int
    down: int

    @property
    def share_up(self) -> float:
        return self.up / (self.up + self.down) if self.up + self.down else 0.0


def rates(session: Session, *, tenant_id: int | None, since: datetime) -> list[Rate]:
    """Ratings since `since`, per day, model and skill (one tenant's, or every tenant's with None)."""
    day = func.date(Feedback.created_at)
    query = (
        select(
            day,
            Feedback.model,
            Feedback.skill,
            func.sum(case((Feedback.rating > 0, 1), else_=0)),
            func.sum(case((Feedback.rating < 0, 1), else_=0)),
        )
        .where(Feedback.created_at >= since)
        .group_by(day, Feedback.model, Feedback.skill)
        .order_by(day, Feedback.model, Feedback.skill)
    )
    if tenant_id is not None:
        query = query.where(Feedback.tenant_id == tenant_id)
    return [
        Rate(day=str(d), model=m or "", skill=s or "", up=int(u or 0), down=int(n or 0))
        for d, m, s, u, n in session.execute(query)
    ]


def for_export(session: Session, *, tenant_id: int, user_id: int | None = None) -> list[dict[str, Any]]:
    """A tenant's feedback (or one person's), oldest first, as plain records for an export."""
    query = (
        select(Feedback, User.external_id)
        .join(User, User.id == Feedback.user_id)
        .where(Feedback.tenant_id == tenant_id)
        .order_by(Feedback.id)
    )
    if user_id is not None:
        query = query.where(Feedback.user_id == user_id)
    return [
        {
            "feedback": "up" if row.rating == UP else "down",
            "comment": row.comment,
            "user": user,
            "event_key": row.event_key,
            "model": row.model,
            "skill": row.skill,
            "prompt_version": row.prompt_version,
            "created_at": row.created_at.isoformat(),
        }
        for row, user in session.execute(query)
    ]
