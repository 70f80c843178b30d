"""What the dashboard shows, gathered in one place so the page and its refresh render the same thing."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bots.admin import charts, stats
from bots.admin.health import BrokerProbe, EngineWatch
from bots.admin.keys import Principal
from bots.admin.stats import Bucket
from db import feedback
from workers.queues import ROUTES

WINDOW_SECONDS = 3600
FEEDBACK_DAYS = 14
REFRESH_SECONDS = 5
COLORS = {"ttft50": "#2f6fde", "ttft95": "#8fb3f2", "total95": "#c98a12", "ok": "#1f9d55", "bad": "#d64545"}


def _clock(at: float) -> str:
    """Hours and minutes in UTC, as the page says."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M")


def _charts(buckets: list[Bucket], queues: list[stats.QueueRow]) -> dict[str, str]:
    labels = [_clock(b.start) for b in buckets]
    latency = charts.line_chart(
        title="Latency per minute (seconds)",
        series=[
            charts.Series("first token p50", COLORS["ttft50"], [b.ttft_p50 for b in buckets]),
            charts.Series("first token p95", COLORS["ttft95"], [b.ttft_p95 for b in buckets]),
            charts.Series("end to end p95", COLORS["total95"], [b.total_p95 for b in buckets]),
        ],
        x_labels=labels,
        unit="s",
    )
    throughput = charts.bar_chart(
        title="Answers per minute",
        stacks=[
            charts.Series("answered", COLORS["ok"], [float(b.answered) for b in buckets]),
            charts.Series("failed", COLORS["bad"], [float(b.failed) for b in buckets]),
        ],
        x_labels=labels,
    )
    waiting = charts.bar_chart(
        title="Waiting and running now",
        stacks=[
            charts.Series("waiting", COLORS["total95"], [float(q.waiting) for q in queues]),
            charts.Series("running", COLORS["ttft50"], [float(q.running) for q in queues]),
        ],
        x_labels=[q.priority for q in queues],
    )
    return {"chart_latency": latency, "chart_throughput": throughput, "chart_queues": waiting}


def context(
    *,
    sessions: sessionmaker[Session],
    caller: Principal,
    watch: EngineWatch,
    broker: BrokerProbe,
    now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    since = now - WINDOW_SECONDS
    scope = caller.tenant_id
    with sessions() as session:
        queues = stats.queues(session, tenant_id=scope, now=now)
        rows = stats.finished(session, tenant_id=scope, since=since)
        usage = stats.usage_by_tenant(session, tenant_id=scope, since=datetime.fromtimestamp(now, UTC).date())
        failures = stats.failures(session, tenant_id=scope)
        rated = feedback.rates(session, tenant_id=scope, since=datetime.fromtimestamp(now - FEEDBACK_DAYS * 86400, UTC))
    # The minute buckets end now, so the newest bar is the minute in progress.
    start = now - (WINDOW_SECONDS // 60) * 60
    buckets = stats.per_minute(rows, since=start, now=now)
    latencies = stats.latencies(rows)
    recent = [r for r in rows if r.finished_at >= now - 300 and r.status == "done"]
    return {
        "scope": scope,
        "window_minutes": WINDOW_SECONDS // 60,
        "refresh": REFRESH_SECONDS,
        "updated": datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S UTC"),
        "engine": watch.latest(),
        "queues": queues,
        # Broker queues hold every tenant's messages: only a global key sees their lengths.
        "broker": broker.queue_lengths() if scope is None else None,
        "queue_names": {str(p): str(r.queue) for p, r in ROUTES.items()},
        "latencies": latencies,
        "overall": latencies[-1],
        "per_minute": len(recent) / 5.0,
        "usage": usage,
        "failures": [_failure(f) for f in failures],
        "feedback_days": FEEDBACK_DAYS,
        "feedback": _feedback_totals(rated),
        "chart_feedback": _feedback_chart(rated),
        **_charts(buckets, queues),
    }


def _feedback_totals(rated: list[feedback.Rate]) -> list[feedback.Rate]:
    """Each model and skill over the whole period, most rated first."""
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for rate in rated:
        up, down = totals.get((rate.model, rate.skill), (0, 0))
        totals[(rate.model, rate.skill)] = (up + rate.up, down + rate.down)
    rows = [feedback.Rate("", model, skill, up, down) for (model, skill), (up, down) in totals.items()]
    return sorted(rows, key=lambda r: (-(r.up + r.down), r.model, r.skill))


def _feedback_chart(rated: list[feedback.Rate]) -> str:
    """The share of 👍 per day for each model: how a model (or a prompt change) is received over time."""
    days = sorted({r.day for r in rated})
    models = sorted({r.model for r in rated})
    palette = list(COLORS.values())
    series = []
    for index, model in enumerate(models):
        by_day = {day: [0, 0] for day in days}
        for rate in rated:
            if rate.model == model:
                by_day[rate.day][0] += rate.up
                by_day[rate.day][1] += rate.down
        values = [100.0 * up / (up + down) if up + down else None for up, down in by_day.values()]
        series.append(charts.Series(model or "(no model)", palette[index % len(palette)], values))
    labels = [day[5:] for day in days]  # MM-DD
    return charts.line_chart(title="Helpful answers per day (% 👍)", series=series, x_labels=labels, unit="%")


def _failure(failure: stats.Failure) -> dict[str, Any]:
    return {
        "kind": failure.kind,
        "priority": failure.priority,
        "error": failure.error,
        "when": datetime.fromtimestamp(failure.at, UTC).strftime("%H:%M:%S") if failure.at else "",
    }
