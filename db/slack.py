"""Queries the Slack surface asks before it hands a message over, by Slack's own ids."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import preferences
from db.models import Tenant, User
from db.preferences import Scope

PLATFORM = "slack"


def user_preferences(session: Session, *, team: str, user: str) -> dict[str, str]:
    """The preferences a user set themselves; none for someone LLMOS has not met."""
    found = session.execute(
        select(Tenant.id, User.id)
        .join(User, User.tenant_id == Tenant.id)
        .where(Tenant.platform == PLATFORM, Tenant.external_id == team, User.external_id == user)
    ).first()
    if found is None:
        return {}
    return preferences.at_level(session, tenant_id=found[0], scope=Scope.USER, user_id=found[1])
