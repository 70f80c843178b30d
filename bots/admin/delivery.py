"""Outbound deliveries: notices fanned out to webhooks, job results to callbacks, each signed and retried.

Whoever has something to send writes a `Delivery` row (the job sink in a worker, the fan-out here),
so nothing is lost when a receiver is down or the admin service restarts. The deliverer claims due
rows under a short lease (two admin services never send the same row at once), POSTs them and
reschedules failures with doubling, jittered delays until the last attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bots.admin import outbound, signing
from bots.admin.sealing import SecretBox, SecretUnreadable
from bots.admin.settings import AdminSettings
from db import notices
from db.admin import AdminCursor, Delivery, InboundHook, Job, Webhook
from db.models import Notice, utcnow

log = logging.getLogger(__name__)

CURSOR = "notices"
LEASE_SECONDS = 60.0
BATCH = 50
# Deliveries sent at once, in all and per tenant (so one tenant's slow receivers cannot hold them all).
MAX_IN_FLIGHT = 16
PER_TENANT = 2


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
    tenant_id: int | None
    url: str
    kind: str
    body: bytes
    secret: str | None


def claim(
    session: Session,
    *,
    now: float,
    box: SecretBox,
    in_flight: Mapping[int | None, int] | None = None,
    limit: int = BATCH,
) -> list[Outgoing]:
    """Lease due deliveries, oldest first, at most PER_TENANT in flight per tenant (the rest wait their turn)."""
    due = select(Delivery.id, Delivery.tenant_id).where(
        Delivery.status == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )
    claimed: list[Outgoing] = []
    taken_per: dict[int | None, int] = dict(in_flight or {})
    for delivery_id, tenant_id in session.execute(due.order_by(Delivery.next_attempt_at).limit(limit * 4)).all():
        if len(claimed) >= limit:
            break
        if taken_per.get(tenant_id, 0) >= PER_TENANT:
            continue
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
            claimed.append(
                Outgoing(row.id, row.tenant_id, row.url, row.kind, body, _opened(box, _secret(session, row)))
            )
            taken_per[tenant_id] = taken_per.get(tenant_id, 0) + 1
    return claimed


def _secret(session: Session, row: Delivery) -> str | None:
    """Webhooks sign with their own secret; job callbacks with the secret of the hook the job came in on."""
    if row.webhook_id is not None:
        hook = session.get(Webhook, row.webhook_id)
        return hook.secret if hook is not None else None
    job = session.get(Job, row.job_id) if row.job_id is not None else None
    inbound = session.get(InboundHook, job.hook_id) if job is not None and job.hook_id is not None else None
    return inbound.secret if inbound is not None else None


def _opened(box: SecretBox, secret: str | None) -> str | None:
    try:
        return box.open(secret) if secret is not None else None
    except SecretUnreadable:
        log.error("a webhook or hook secret does not open with ADMIN_SECRET_KEY; its deliveries fail")
        return None


def _host(url: str) -> str:
    """Enough of a URL for a log line: some receivers put a token in the path."""
    return urlsplit(url).hostname or "?"


class Deliverer:
    """The background loop of the admin service that fans notices out and sends what is due.

    Sends run concurrently on one event loop, at most PER_TENANT per tenant and MAX_IN_FLIGHT in all,
    each under one total deadline: a receiver that answers slowly, or never, holds only its own
    tenant's slots, and everyone else's deliveries go on being claimed and sent.
    """

    def __init__(self, *, sessions: sessionmaker[Session], settings: AdminSettings, box: SecretBox) -> None:
        self._sessions = sessions
        self._settings = settings
        self._box = box
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy: dict[int | None, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="admin-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._settings.delivery_timeout_seconds + 5)

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=self._settings.delivery_timeout_seconds, limits=limits) as client:
            while not self._stop.is_set():
                try:
                    await self.run_once(client)
                except Exception:
                    log.exception("delivery round failed; trying again next round")
                await asyncio.sleep(self._settings.poll_seconds)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _round(self, busy: dict[int | None, int]) -> list[Outgoing]:
        """Fan out and claim (on a thread: the database calls block), given what is in flight right now."""
        with self._sessions.begin() as session:
            fan_out(session)
        free = MAX_IN_FLIGHT - sum(busy.values())
        if free <= 0:
            return []
        with self._sessions.begin() as session:
            return claim(session, now=time.time(), box=self._box, in_flight=busy, limit=min(BATCH, free))

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: fan out new notices and start every delivery now due; returns how many were started."""
        batch = await asyncio.to_thread(self._round, dict(self._busy))
        for item in batch:
            self._busy[item.tenant_id] = self._busy.get(item.tenant_id, 0) + 1
            task = asyncio.create_task(self._send(client, item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(batch)

    async def _send(self, client: httpx.AsyncClient, item: Outgoing) -> None:
        started = time.monotonic()
        try:
            outcome = await self._attempt(client, item)
            millis = int((time.monotonic() - started) * 1000)
            await asyncio.to_thread(self._settle, item, code=outcome.status, error=outcome.error, millis=millis)
        except Exception:
            log.exception("delivery %s: could not record its attempt", item.id)
        finally:
            self._busy[item.tenant_id] -= 1

    async def _attempt(self, client: httpx.AsyncClient, item: Outgoing) -> outbound.Outcome:
        if item.secret is None:
            return outbound.Outcome(None, "the hook or webhook it belongs to was removed; nothing to sign with")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "LLMOS-Webhooks/1",
            "X-LLMOS-Delivery": str(item.id),
            "X-LLMOS-Event": item.kind,
            **signing.signed_headers(item.secret, item.body),
            # The delivery's id: the same on every retry, so a receiver can drop duplicates.
            **signing.standard_headers(item.secret, item.body, message_id=f"llmos-delivery-{item.id}"),
        }
        return await outbound.post(
            client,
            item.url,
            body=item.body,
            headers=headers,
            deadline=self._settings.delivery_timeout_seconds,
            allow_private=self._settings.allow_private_urls,
        )

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
