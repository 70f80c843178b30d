"""The figures of the dashboard, read from the step timestamps every processed event carries.

Wait is received → started, time to first token is received → first token (what the person waiting
feels, queue included), end to end is received → finished. Everything is filtered to one tenant
when a tenant-scoped key asks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from db.models import ProcessedEvent, Tenant, Usage
from workers.events import PriorityClass

PRIORITIES = tuple(str(p) for p in PriorityClass)
IN_FLIGHT = ("pending", "running")
FINISHED_ROWS_CAP = 20_000


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (p50: share 0.5); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _in_scope(tenant_id: int | None) -> ColumnElement[bool]:
    return true() if tenant_id is None else ProcessedEvent.tenant_id == tenant_id


@dataclass(frozen=True, slots=True)
class QueueRow:
    priority: str
    waiting: int
    running: int
    oldest_wait: float | None


def queues(session: Session, *, tenant_id: int | None, now: float) -> list[QueueRow]:
    query = select(
        ProcessedEvent.priority, ProcessedEvent.status, func.count(), func.min(ProcessedEvent.received_at)
    ).where(ProcessedEvent.status.in_(IN_FLIGHT))
    rows = session.execute(
        query.where(_in_scope(tenant_id)).group_by(ProcessedEvent.priority, ProcessedEvent.status)
    ).all()
    waiting = dict.fromkeys(PRIORITIES, 0)
    running = dict.fromkeys(PRIORITIES, 0)
    oldest: dict[str, float] = {}
    for priority, status, count, first in rows:
        key = str(priority)
        if status == "pending":
            waiting[key] = waiting.get(key, 0) + int(count)
            oldest[key] = min(oldest.get(key, now), float(first))
        else:
            running[key] = running.get(key, 0) + int(count)
    return [
        QueueRow(p, waiting.get(p, 0), running.get(p, 0), now - oldest[p] if p in oldest else None) for p in PRIORITIES
    ]


@dataclass(frozen=True, slots=True)
class Finished:
    priority: str
    status: str
    received_at: float
    started_at: float | None
    first_token_at: float | None
    finished_at: float

    @property
    def wait(self) -> float | None:
        return None if self.started_at is None else max(0.0, self.started_at - self.received_at)

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else max(0.0, self.first_token_at - self.received_at)

    @property
    def total(self) -> float:
        return max(0.0, self.finished_at - self.received_at)


def finished(session: Session, *, tenant_id: int | None, since: float) -> list[Finished]:
    query = select(
        ProcessedEvent.priority,
        ProcessedEvent.status,
        ProcessedEvent.received_at,
        ProcessedEvent.started_at,
        ProcessedEvent.first_token_at,
        ProcessedEvent.finished_at,
    ).where(ProcessedEvent.finished_at >= since)
    rows = session.execute(
        query.where(_in_scope(tenant_id)).order_by(ProcessedEvent.finished_at).limit(FINISHED_ROWS_CAP)
    )
    return [Finished(str(p), str(s), float(r), st, ft, float(f or 0.0)) for p, s, r, st, ft, f in rows.all()]


@dataclass(frozen=True, slots=True)
class Latency:
    priority: str
    answered: int
    failed: int
    wait_p50: float | None
    wait_p95: float | None
    ttft_p50: float | None
    ttft_p95: float | None
    total_p50: float | None
    total_p95: float | None


def latency(rows: Sequence[Finished], priority: str) -> Latency:
    done = [r for r in rows if r.status == "done"]
    waits = [w for r in rows if (w := r.wait) is not None]
    ttfts = [t for r in done if (t := r.ttft) is not None]
    totals = [r.total for r in done]
    return Latency(
        priority=priority,
        answered=len(done),
        failed=sum(1 for r in rows if r.status == "failed"),
        wait_p50=percentile(waits, 0.5),
        wait_p95=percentile(waits, 0.95),
        ttft_p50=percentile(ttfts, 0.5),
        ttft_p95=percentile(ttfts, 0.95),
        total_p50=percentile(totals, 0.5),
        total_p95=percentile(totals, 0.95),
    )


def latencies(rows: Sequence[Finished]) -> list[Latency]:
    by_class = [latency([r for r in rows if r.priority == p], p) for p in PRIORITIES]
    return [*by_class, latency(rows, "all")]


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float
    answered: int
    failed: int
    ttft_p50: float | None
    ttft_p95: float | None
    total_p95: float | None


def per_minute(rows: Sequence[Finished], *, since: float, now: float, width: float = 60.0) -> list[Bucket]:
    count = max(1, math.ceil((now - since) / width))
    groups: list[list[Finished]] = [[] for _ in range(count)]
    for row in rows:
        index = int((row.finished_at - since) // width)
        if 0 <= index < count:
            groups[index].append(row)
    buckets = []
    for index, group in enumerate(groups):
        done = [r for r in group if r.status == "done"]
        ttfts = [t for r in done if (t := r.ttft) is not None]
        buckets.append(
            Bucket(
                start=since + index * width,
                answered=len(done),
                failed=sum(1 for r in group if r.status == "failed"),
                ttft_p50=percentile(ttfts, 0.5),
                ttft_p95=percentile(ttfts, 0.95),
                total_p95=percentile([r.total for r in done], 0.95),
            )
        )
    return buckets


@dataclass(frozen=True, slots=True)
class TenantUsage:
    tenant_id: int
    name: str
    platform: str
    requests: int
    prompt_tokens: int
    completion_tokens: int


def usage_by_tenant(session: Session, *, tenant_id: int | None, since: date) -> list[TenantUsage]:
    query = (
        select(
            Tenant.id,
            Tenant.name,
            Tenant.external_id,
            Tenant.platform,
            func.count(Usage.id),
            func.coalesce(func.sum(Usage.prompt_tokens), 0),
            func.coalesce(func.sum(Usage.completion_tokens), 0),
        )
        .join(Usage, Usage.tenant_id == Tenant.id)
        .where(Usage.day >= since)
        .group_by(Tenant.id, Tenant.name, Tenant.external_id, Tenant.platform)
    )
    if tenant_id is not None:
        query = query.where(Tenant.id == tenant_id)
    rows = session.execute(query).all()
    found = [TenantUsage(int(i), str(n or e), str(p), int(c), int(pt), int(ct)) for i, n, e, p, c, pt, ct in rows]
    return sorted(found, key=lambda u: u.prompt_tokens + u.completion_tokens, reverse=True)


@dataclass(frozen=True, slots=True)
class Failure:
    key: str
    kind: str
    priority: str
    error: str
    at: float | None


def failures(session: Session, *, tenant_id: int | None, limit: int = 10) -> list[Failure]:
    query = select(
        ProcessedEvent.key,
        ProcessedEvent.kind,
        ProcessedEvent.priority,
        ProcessedEvent.error,
        ProcessedEvent.finished_at,
    ).where(ProcessedEvent.status == "failed")
    rows = session.execute(
        query.where(_in_scope(tenant_id)).order_by(ProcessedEvent.updated_at.desc()).limit(limit)
    ).all()
    return [Failure(str(k), str(kind), str(p), str(e or ""), f) for k, kind, p, e, f in rows]
