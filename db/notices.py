"""Operator notices: one row per thing worth telling an admin, read back in order by the deliverer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Notice

# The kinds LLMOS emits; outbound webhooks subscribe to these names.
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
QUOTA_EXCEEDED = "quota.exceeded"
ENGINE_UNAVAILABLE = "engine.unavailable"
ENGINE_RECOVERED = "engine.recovered"
FEEDBACK_RECEIVED = "feedback.received"


def emit(session: Session, *, kind: str, tenant_id: int | None, data: Mapping[str, Any]) -> Notice:
    row = Notice(kind=kind, tenant_id=tenant_id, data=dict(data))
    session.add(row)
    return row


def after(session: Session, *, last_id: int, limit: int = 100) -> list[Notice]:
    """Notices newer than `last_id`, oldest first (the deliverer keeps its own cursor)."""
    return list(session.scalars(select(Notice).where(Notice.id > last_id).order_by(Notice.id).limit(limit)))
