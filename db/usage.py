"""Token usage: one row per answered event, summed per user or tenant and day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Usage
from db.session import insert_new


def record(
    session: Session,
    *,
    tenant_id: int,
    user_id: int | None,
    event_key: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> bool:
    """Record usage once per event; False when it was already recorded (a redelivery)."""
    return insert_new(
        session,
        Usage,
        {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "event_key": event_key,
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        },
    )


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def totals(session: Session, *, tenant_id: int, user_id: int | None = None, since: date | None = None) -> Totals:
    query = select(
        func.count(Usage.id),
        func.coalesce(func.sum(Usage.prompt_tokens), 0),
        func.coalesce(func.sum(Usage.completion_tokens), 0),
    ).where(Usage.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(Usage.user_id == user_id)
    if since is not None:
        query = query.where(Usage.day >= since)
    requests, prompt, completion = session.execute(query).one()
    return Totals(requests=int(requests), prompt_tokens=int(prompt), completion_tokens=int(completion))
