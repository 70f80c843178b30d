"""Admin API keys: `llmos_<key id>_<secret>`, stored as the key id and the secret's SHA-256.

The secret is 256 random bits, so a plain SHA-256 cannot be brute-forced and keeps every request
cheap (a password hash like scrypt would cost each API call tens of milliseconds for nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.admin import AdminKey
from db.models import utcnow

PREFIX = "llmos"
# Writing last_used_at on every request would make each read a write; once a minute is enough.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key, global (tenant_id None) or limited to one tenant."""

    key_id: str
    tenant_id: int | None
    name: str

    @property
    def is_global(self) -> bool:
        return self.tenant_id is None

    def may_see(self, tenant_id: int | None) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, *, tenant_id: int | None, name: str = "") -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(AdminKey(key_id=key_id, secret_hash=_hash(secret), tenant_id=tenant_id, name=name))
    return NewKey(key_id=key_id, token=f"{PREFIX}_{key_id}_{secret}")


def revoke(session: Session, *, key_id: str) -> bool:
    row = session.scalars(select(AdminKey).where(AdminKey.key_id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def listed(session: Session, *, tenant_id: int | None = None) -> list[AdminKey]:
    query = select(AdminKey).order_by(AdminKey.id)
    if tenant_id is not None:
        query = query.where(AdminKey.tenant_id == tenant_id)
    return list(session.scalars(query))


def authenticate(session: Session, token: str) -> Principal | None:
    """The key's principal, or None for a malformed, unknown, wrong or revoked key."""
    prefix, _, rest = token.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    row = session.scalars(select(AdminKey).where(AdminKey.key_id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    now = utcnow()
    last = row.last_used_at
    if last is None or _aware(last) < now - _TOUCH_EVERY:
        row.last_used_at = now
    return Principal(key_id=row.key_id, tenant_id=row.tenant_id, name=row.name)


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
