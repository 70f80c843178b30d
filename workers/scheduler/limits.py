"""Per-user request rates and per-tenant daily token quotas, checked at intake for every surface.

A tenant's row in `tenant_limits` overrides the deployment defaults (`SCHED_USER_REQUESTS_PER_MINUTE`,
`SCHED_TENANT_TOKENS_PER_DAY`). Counting uses what the store already keeps: the user's messages of the
last minute and the tenant's usage rows of today (UTC), so every process sees the same numbers and a
refused message, which is never stored, does not count against the user. When a limit is hit the user
is told when they can ask again, and the operator gets one `quota.exceeded` notice per user per rate
window and per tenant per day, not one per refused message.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import notices, usage
from db.models import Message, Notice, TenantLimits
from workers.scheduler.settings import SchedulerSettings

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=1)
# A second rate notice for the same user only after this long: the operator needs the fact, not a flood.
RATE_NOTICE_EVERY = timedelta(minutes=10)
USER_RATE = "user_requests_per_minute"
TENANT_TOKENS = "tenant_tokens_per_day"


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str
    message: str
    retry_after: float


@dataclass(frozen=True, slots=True)
class Verdict:
    refusal: Refusal | None
    weight: float


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def in_words(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True, slots=True)
class _Seen:
    per_minute: int | None
    per_day: int | None
    weight: float | None
    asked: int
    oldest: datetime | None


def _snapshot(session: Session, *, tenant_id: int, user_id: int, since: datetime) -> _Seen:
    """The tenant's own limits and the user's requests since `since`, in one round trip (every event pays it)."""
    mine = (Message.tenant_id == tenant_id, Message.user_id == user_id, Message.role == "user")
    recent = (*mine, Message.created_at >= since)
    row = select(TenantLimits).where(TenantLimits.tenant_id == tenant_id)
    found = session.execute(
        select(
            row.with_only_columns(TenantLimits.user_requests_per_minute).scalar_subquery(),
            row.with_only_columns(TenantLimits.tenant_tokens_per_day).scalar_subquery(),
            row.with_only_columns(TenantLimits.weight).scalar_subquery(),
            select(func.count(Message.id)).where(*recent).scalar_subquery(),
            select(func.min(Message.created_at)).where(*recent).scalar_subquery(),
        )
    ).one()
    per_minute, per_day, weight, asked, oldest = found
    return _Seen(per_minute=per_minute, per_day=per_day, weight=weight, asked=int(asked or 0), oldest=oldest)


class Limits:
    def __init__(self, *, settings: SchedulerSettings) -> None:
        self._settings = settings

    def check(
        self, session: Session, *, tenant_id: int, user_id: int, user: str, now: datetime | None = None
    ) -> Verdict:
        """Refuse when the user asked too often this minute or the tenant spent today's tokens."""
        now = now or datetime.now(UTC)
        seen = _snapshot(session, tenant_id=tenant_id, user_id=user_id, since=now - RATE_WINDOW)
        weight = seen.weight if seen.weight else 1.0
        per_minute = self._settings.user_requests_per_minute if seen.per_minute is None else seen.per_minute
        per_day = self._settings.tenant_tokens_per_day if seen.per_day is None else seen.per_day
        refusal = None
        if per_minute is not None and seen.asked >= per_minute and seen.oldest is not None:
            refusal = self._rate(limit=per_minute, oldest=seen.oldest, now=now)
        if refusal is None and per_day is not None:
            refusal = self._tokens(session, tenant_id=tenant_id, limit=per_day, now=now)
        if refusal is not None:
            self._notify(session, tenant_id=tenant_id, user=user, refusal=refusal, now=now)
        return Verdict(refusal=refusal, weight=weight)

    def _rate(self, *, limit: int, oldest: datetime, now: datetime) -> Refusal:
        wait = (_utc(oldest) + RATE_WINDOW - now).total_seconds()
        message = (
            f"Sorry, you have reached the limit of {limit} requests per minute. "
            f"Please ask again in about {in_words(wait)}."
        )
        return Refusal(limit=USER_RATE, message=message, retry_after=max(1.0, wait))

    def _tokens(self, session: Session, *, tenant_id: int, limit: int, now: datetime) -> Refusal | None:
        used = usage.totals(session, tenant_id=tenant_id, since=now.date()).total_tokens
        if used < limit:
            return None
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        wait = (tomorrow - now).total_seconds()
        message = (
            f"Sorry, this workspace has used its {limit:,} tokens for today. "
            f"Please ask again after 00:00 UTC (in about {in_words(wait)})."
        )
        return Refusal(limit=TENANT_TOKENS, message=message, retry_after=wait)

    def _notify(self, session: Session, *, tenant_id: int, user: str, refusal: Refusal, now: datetime) -> None:
        per_user = refusal.limit == USER_RATE
        since = now - RATE_NOTICE_EVERY if per_user else datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
        recent = session.scalars(
            select(Notice.data).where(
                Notice.tenant_id == tenant_id, Notice.kind == notices.QUOTA_EXCEEDED, Notice.created_at >= since
            )
        )
        for data in recent:
            if data.get("limit") == refusal.limit and (not per_user or data.get("user") == user):
                return
        log.info("tenant %d: %s reached (user %s)", tenant_id, refusal.limit, user if per_user else "-")
        notices.emit(
            session,
            kind=notices.QUOTA_EXCEEDED,
            tenant_id=tenant_id,
            data={
                "limit": refusal.limit,
                "user": user if per_user else None,
                "retry_after": round(refusal.retry_after),
                "message": refusal.message,
            },
        )
