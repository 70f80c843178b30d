"""`/metrics`: Prometheus exposition of the task path, whichever process did the work.

Answers are produced by workers that may live elsewhere, so the admin service reads what they
recorded: on each scrape it observes the events finished since the previous scrape into histograms
and counters (which therefore count from this service's start, as Prometheus expects), and sets the
queue gauges from what is waiting now. Events are read a few seconds behind the clock, so a
transaction committed slightly out of order is not skipped.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bots.admin import stats
from bots.admin.health import BrokerProbe, EngineWatch
from db.models import ProcessedEvent, Usage

SETTLE_SECONDS = 3.0
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)


class Metrics:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        broker: BrokerProbe,
        watch: EngineWatch,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._settle = settle
        self._broker = broker
        self._watch = watch
        self._lock = threading.Lock()
        # Only events finished after this service started are counted.
        self._since = time.time()
        self._edge: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.depth = Gauge("llmos_queue_depth", "Events received and not yet started", ["priority"], registry=r)
        self.oldest = Gauge(
            "llmos_queue_oldest_wait_seconds", "Age of the oldest event still waiting", ["priority"], registry=r
        )
        self.broker_len = Gauge("llmos_broker_queue_length", "Messages in the broker queue", ["queue"], registry=r)
        self.engine_up = Gauge("llmos_engine_up", "1 when the language engine answers", registry=r)
        self.wait = Histogram(
            "llmos_queue_wait_seconds", "Received to started", ["priority"], buckets=BUCKETS, registry=r
        )
        self.ttft = Histogram(
            "llmos_time_to_first_token_seconds", "Received to first token", ["priority"], buckets=BUCKETS, registry=r
        )
        self.total = Histogram(
            "llmos_end_to_end_seconds", "Received to finished", ["priority"], buckets=BUCKETS, registry=r
        )
        self.events = Counter("llmos_events", "Events finished", ["priority", "status"], registry=r)
        self.errors = Counter("llmos_errors", "Events that failed", ["priority"], registry=r)
        self.tokens = Counter("llmos_tokens", "Tokens processed", ["type"], registry=r)

    def exposition(self) -> bytes:
        with self._lock:
            self._gauges()
            self._advance()
            return generate_latest(self.registry)

    def _gauges(self) -> None:
        with self._sessions() as session:
            for row in stats.queues(session, tenant_id=None, now=time.time()):
                self.depth.labels(row.priority).set(row.waiting)
                self.oldest.labels(row.priority).set(row.oldest_wait or 0.0)
        for queue, length in (self._broker.queue_lengths() or {}).items():
            self.broker_len.labels(queue).set(length)
        self.engine_up.set(1 if self._watch.latest().ok else 0)

    def _advance(self) -> None:
        until = time.time() - self._settle
        with self._sessions() as session:
            rows = session.execute(
                select(
                    ProcessedEvent.key,
                    ProcessedEvent.priority,
                    ProcessedEvent.status,
                    ProcessedEvent.received_at,
                    ProcessedEvent.started_at,
                    ProcessedEvent.first_token_at,
                    ProcessedEvent.finished_at,
                    Usage.prompt_tokens,
                    Usage.completion_tokens,
                )
                .outerjoin(Usage, Usage.event_key == ProcessedEvent.key)
                .where(ProcessedEvent.finished_at >= self._since, ProcessedEvent.finished_at <= until)
                .order_by(ProcessedEvent.finished_at)
                .limit(stats.FINISHED_ROWS_CAP)
            ).all()
        for key, priority, status, received, started, first, finished, prompt, completion in rows:
            if key in self._edge and finished == self._since:
                continue
            self._observe(stats.Finished(str(priority), str(status), received, started, first, float(finished or 0.0)))
            if status == "done":
                self.tokens.labels("prompt").inc(prompt or 0)
                self.tokens.labels("completion").inc(completion or 0)
        if rows:
            last = rows[-1].finished_at
            self._edge = {r.key for r in rows if r.finished_at == last} | (self._edge if last == self._since else set())
            self._since = last

    def _observe(self, row: stats.Finished) -> None:
        self.events.labels(row.priority, row.status).inc()
        if row.status == "failed":
            self.errors.labels(row.priority).inc()
        if row.wait is not None:
            self.wait.labels(row.priority).observe(row.wait)
        if row.status == "done":
            if row.ttft is not None:
                self.ttft.labels(row.priority).observe(row.ttft)
            self.total.labels(row.priority).observe(row.total)
