"""Tables of the admin service: API keys, inbound hooks and their jobs, outbound webhooks, deliveries.

Kept apart from `db.models` (same `Base`, same naming convention) because only the admin service
and the job sink read them. Hook and webhook secrets are stored sealed with Fernet (`bots.admin.sealing`):
HMAC needs the shared secret itself, so it is encrypted rather than hashed. Admin keys are only ever
compared, so only their SHA-256 is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, Id, utcnow


class AdminKey(Base):
    """An admin API key: global (tenant_id NULL) or limited to one tenant."""

    __tablename__ = "admin_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The public half of the key, shown in lists and logs; the secret half is only hashed.
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class InboundHook(Base):
    """A URL a system outside LLMOS posts signed jobs to, for one tenant."""

    __tablename__ = "admin_hooks"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    # Sealed: "fernet:" + a Fernet token.
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class Job(Base):
    """One skill run asked for through a hook; the caller's job id is unique within the tenant."""

    __tablename__ = "admin_jobs"
    __table_args__ = (UniqueConstraint("tenant_id", "job_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    hook_id: Mapped[int | None] = mapped_column(ForeignKey("admin_hooks.id", ondelete="SET NULL"))
    job_id: Mapped[str] = mapped_column(String(128))
    # The spine's idempotency key of the event this job became (platform "admin").
    event_key: Mapped[str] = mapped_column(String(300), unique=True)
    skill: Mapped[str] = mapped_column(String(16))
    input: Mapped[str] = mapped_column(Text, default="")
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    destination: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[str] = mapped_column(String(16), default="batch")
    # queued, running, completed, failed or refused.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # Why showing the answer on Slack/Discord failed, when it did (the result is kept regardless).
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Webhook(Base):
    """An outbound subscription: notices of the listed kinds are POSTed, signed, to `url`."""

    __tablename__ = "admin_webhooks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # NULL: every tenant's notices (global keys only); otherwise that tenant's and the engine's.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Sealed: "fernet:" + a Fernet token.
    secret: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class Delivery(Base):
    """One signed POST to make (a notice to a webhook, a job's result to its callback) and its attempts."""

    __tablename__ = "admin_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "notice_id"),
        UniqueConstraint("job_id", "kind"),
        Index("ix_admin_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("admin_webhooks.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("admin_jobs.id", ondelete="CASCADE"))
    notice_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending, delivered or failed (gave up after the last retry).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Epoch seconds, like the event timestamps.
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    lease_until: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # One entry per attempt: when, HTTP status or error, milliseconds.
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class AdminCursor(Base):
    """How far a background reader of the admin service got (the notice fan-out, the metrics tail)."""

    __tablename__ = "admin_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
