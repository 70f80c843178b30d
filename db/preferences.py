"""Preferences at three levels. Per key, the most specific level wins: user, then channel, then tenant."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from db.models import Preference


class Scope(StrEnum):
    TENANT = "tenant"
    CHANNEL = "channel"
    USER = "user"


# Lowest precedence first: later levels overwrite earlier ones.
_ORDER = (Scope.TENANT, Scope.CHANNEL, Scope.USER)


def _ref(scope: Scope, *, channel_id: int | None, user_id: int | None) -> str:
    if scope is Scope.TENANT:
        return ""
    ref = channel_id if scope is Scope.CHANNEL else user_id
    if ref is None:
        raise ValueError(f"a {scope} preference needs a {scope} id")
    return str(ref)


def effective(session: Session, *, tenant_id: int, channel_id: int, user_id: int) -> dict[str, str]:
    rows = session.execute(
        select(Preference.scope, Preference.key, Preference.value).where(
            Preference.tenant_id == tenant_id,
            or_(
                Preference.scope == Scope.TENANT,
                (Preference.scope == Scope.CHANNEL) & (Preference.scope_ref == str(channel_id)),
                (Preference.scope == Scope.USER) & (Preference.scope_ref == str(user_id)),
            ),
        )
    ).all()
    by_scope: dict[str, dict[str, str]] = {}
    for scope, key, value in rows:
        by_scope.setdefault(scope, {})[key] = value
    merged: dict[str, str] = {}
    for scope in _ORDER:
        merged.update(by_scope.get(scope, {}))
    return merged


def at_level(
    session: Session, *, tenant_id: int, scope: Scope, channel_id: int | None = None, user_id: int | None = None
) -> dict[str, str]:
    ref = _ref(scope, channel_id=channel_id, user_id=user_id)
    rows = session.execute(
        select(Preference.key, Preference.value).where(
            Preference.tenant_id == tenant_id, Preference.scope == scope, Preference.scope_ref == ref
        )
    ).all()
    return dict(rows)


def set_value(
    session: Session,
    *,
    tenant_id: int,
    scope: Scope,
    key: str,
    value: str,
    channel_id: int | None = None,
    user_id: int | None = None,
) -> None:
    ref = _ref(scope, channel_id=channel_id, user_id=user_id)
    row = session.scalars(
        select(Preference).where(
            Preference.tenant_id == tenant_id,
            Preference.scope == scope,
            Preference.scope_ref == ref,
            Preference.key == key,
        )
    ).first()
    if row is None:
        session.add(Preference(tenant_id=tenant_id, scope=scope, scope_ref=ref, key=key, value=value))
    else:
        row.value = value


def unset(
    session: Session,
    *,
    tenant_id: int,
    scope: Scope,
    key: str,
    channel_id: int | None = None,
    user_id: int | None = None,
) -> bool:
    ref = _ref(scope, channel_id=channel_id, user_id=user_id)
    result = session.execute(
        delete(Preference).where(
            Preference.tenant_id == tenant_id,
            Preference.scope == scope,
            Preference.scope_ref == ref,
            Preference.key == key,
        )
    )
    return bool(getattr(result, "rowcount", 0))
