"""Allow and block lists per tenant, for users, roles and channels.

A block always wins. For each kind of subject, once any allow rule exists, only allowed subjects of
that kind get through (an allow-list); with no allow rules, everyone not blocked does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import AccessRule


class Subject(StrEnum):
    USER = "user"
    ROLE = "role"
    CHANNEL = "channel"


class Effect(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


def set_rule(session: Session, *, tenant_id: int, subject_type: Subject, subject: str, effect: Effect) -> None:
    row = session.scalars(
        select(AccessRule).where(
            AccessRule.tenant_id == tenant_id,
            AccessRule.subject_type == subject_type,
            AccessRule.subject == subject,
        )
    ).first()
    if row is None:
        session.add(AccessRule(tenant_id=tenant_id, subject_type=subject_type, subject=subject, effect=effect))
    else:
        row.effect = effect


def remove_rule(session: Session, *, tenant_id: int, subject_type: Subject, subject: str) -> bool:
    result = session.execute(
        delete(AccessRule).where(
            AccessRule.tenant_id == tenant_id,
            AccessRule.subject_type == subject_type,
            AccessRule.subject == subject,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def rules(session: Session, *, tenant_id: int) -> list[tuple[Subject, str, Effect]]:
    rows = session.execute(
        select(AccessRule.subject_type, AccessRule.subject, AccessRule.effect)
        .where(AccessRule.tenant_id == tenant_id)
        .order_by(AccessRule.subject_type, AccessRule.subject)
    ).all()
    return [(Subject(t), s, Effect(e)) for t, s, e in rows]


def check(session: Session, *, tenant_id: int, user: str, channel: str, roles: Iterable[str] = ()) -> Decision:
    held = {Subject.USER: {user}, Subject.CHANNEL: {channel}, Subject.ROLE: set(roles)}
    allows: dict[Subject, set[str]] = {}
    for subject_type, subject, effect in rules(session, tenant_id=tenant_id):
        if effect is Effect.BLOCK and subject in held[subject_type]:
            return Decision(False, f"this {subject_type} is blocked from using the assistant")
        if effect is Effect.ALLOW:
            allows.setdefault(subject_type, set()).add(subject)
    for subject_type, allowed in allows.items():
        if not allowed & held[subject_type]:
            return Decision(False, f"the assistant is limited to allowed {subject_type}s here")
    return Decision(True)
