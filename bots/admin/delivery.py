"""Outbound deliveries: notices fanned out to webhooks, job results to callbacks, each signed and retried.

Whoever has something to send writes a `Delivery` row (the job sink in a worker, the fan-out here),
so nothing is lost when a receiver is down or the admin service restarts. The deliverer claims due
rows under a short lease (two admin services never send the same row at once), POSTs them and
reschedules failures with doubling, jittered delays until the last attempt.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bots.admin import signing, urls
from bots.admin.settings import AdminSettings
from db import notices
from db.admin import AdminCursor, Delivery, InboundHook, Job, Webhook
from db.models import Notice, utcnow

log = logging.getLogger(__name__)

CURSOR = "notices"
LEASE_SECONDS = 60.0
BATCH = 50


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before try number `attempts + 1`: doubling from `base`, capped, with ±20 % jitter."""
    delay = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def wants(hook: Webhook, notice: Notice) -> bool:
    if hook.kinds and notice.kind not in hook.kinds:
        return False
    # A tenant's webhook hears its own tenant's notices and the engine's (tenant NULL), never another's.
    return hook.tenant_id is None or notice.tenant_id is None or hook.tenant_id == notice.tenant_id


def notice_payload(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "type": notice.kind,
        "tenant_id": notice.tenant_id,
        "created_at": notice.created_at.isoformat(),
        "data": notice.data,
    }


def fan_out(session: Session) -> int:
    """Turn notices not yet seen into one delivery per interested webhook; returns deliveries added."""
    cursor = session.get(AdminCursor, CURSOR)
    if cursor is None:
        cursor = AdminCursor(name=CURSOR, position=0)
        session.add(cursor)
    batch = notices.after(session, last_id=cursor.position, limit=200)
    if not batch:
        return 0
    hooks = list(session.scalars(select(Webhook).where(Webhook.disabled_at.is_(None))))
    added = 0
    for notice in batch:
        for hook in hooks:
            # A webhook hears what happens from its creation on, not the history before it.
            if notice.created_at < hook.created_at or not wants(hook, notice):
                continue
            row = Delivery(
                tenant_id=hook.tenant_id,
                webhook_id=hook.id,
                notice_id=notice.id,
                kind=notice.kind,
                url=hook.url,
                payload=notice_payload(notice),
                next_attempt_at=time.time(),
            )
            try:
                with session.begin_nested():
                    session.add(row)
                added += 1
            except IntegrityError:
                pass  # another admin service fanned this notice out first
    cursor.position = max(cursor.position, batch[-1].id)
    return added


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    url: str
    kind: str
    body: bytes
    secret: str | None


def claim(session: Session, *, now: float, limit: int = BATCH) -> list[Outgoing]:
    due = select(Delivery.id).where(
        Delivery.status == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )
    claimed: list[Outgoing] = []
    for delivery_id in session.scalars(due.order_by(Delivery.next_attempt_at).limit(limit)).all():
        taken = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
            .values(lease_until=now + LEASE_SECONDS)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0):
            row = session.get(Delivery, delivery_id)
            assert row is not None
            body = json.dumps(row.payload, separators=(",", ":"), sort_keys=True).encode()
            claimed.append(Outgoing(row.id, row.url, row.kind, body, _secret(session, row)))
    return claimed


def _secret(session: Session, row: Delivery) -> str | None:
    """Webhooks sign with their own secret; job callbacks with the secret of the hook the job came in on."""
    if row.webhook_id is not None:
        hook = session.get(Webhook, row.webhook_id)
        return hook.secret if hook is not None else None
    job = session.get(Job, row.job_id) if row.job_id is not None else None
    inbound = session.get(InboundHook, job.hook_id) if job is not None and job.hook_id is not None else None
    return inbound.secret if inbound is not None else None


def _host(url: str) -> str:
    """Enough of a URL for a log line: some receivers put a token in the path."""
    return urlsplit(url).hostname or "?"


class Deliverer:
    """The background loop of the admin service that fans notices out and sends what is due."""

    def __init__(self, *, sessions: sessionmaker[Session], settings: AdminSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._http = httpx.Client(timeout=settings.delivery_timeout_seconds, follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="admin-delivery")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="admin-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._settings.delivery_timeout_seconds + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.poll_seconds):
            try:
                self.run_once()
            except Exception:
                log.exception("delivery round failed; trying again next round")

    def run_once(self) -> int:
        """One round: fan out new notices, send every delivery now due; returns how many were sent."""
        with self._sessions.begin() as session:
            fan_out(session)
        with self._sessions.begin() as session:
            batch = claim(session, now=time.time())
        list(self._pool.map(self._send, batch))
        return len(batch)

    def _send(self, item: Outgoing) -> None:
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        try:
            if item.secret is None:
                raise RuntimeError("the hook or webhook it belongs to was removed; nothing to sign with")
            urls.check(item.url, allow_private=self._settings.allow_private_urls)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "LLMOS-Webhooks/1",
                "X-LLMOS-Delivery": str(item.id),
                "X-LLMOS-Event": item.kind,
                **signing.signed_headers(item.secret, item.body),
                # The delivery's id: the same on every retry, so a receiver can drop duplicates.
                **signing.standard_headers(item.secret, item.body, message_id=f"llmos-delivery-{item.id}"),
            }
            code = self._http.post(item.url, content=item.body, headers=headers).status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except (httpx.HTTPError, urls.UnsafeURL, RuntimeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._settle(item, code=code, error=error, millis=int((time.monotonic() - started) * 1000))

    def _settle(self, item: Outgoing, *, code: int | None, error: str | None, millis: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(Delivery, item.id)
            if row is None:
                return
            row.attempts += 1
            row.last_status, row.last_error, row.lease_until = code, error, None
            entry = {"at": utcnow().isoformat(), "status": code, "error": error, "ms": millis}
            row.log = [*(row.log or []), entry][-50:]
            if error is None:
                row.status, row.delivered_at = "delivered", utcnow()
            elif row.attempts >= self._settings.delivery_attempts:
                row.status = "failed"
                log.warning(
                    "delivery %s to %s gave up after %d attempts: %s", row.id, _host(row.url), row.attempts, error
                )
            else:
                row.next_attempt_at = time.time() + backoff(
                    row.attempts,
                    base=self._settings.delivery_backoff_seconds,
                    cap=self._settings.delivery_backoff_max_seconds,
                )
                log.info("delivery %s attempt %d failed (%s); retrying", row.id, row.attempts, error)
