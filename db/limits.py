"""Per-tenant limits: per-user request rate, daily token quota and fair-share weight."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from db.models import TenantLimits

FIELDS = ("user_requests_per_minute", "tenant_tokens_per_day", "weight")


def get(session: Session, *, tenant_id: int) -> TenantLimits | None:
    return session.get(TenantLimits, tenant_id)


def update(session: Session, *, tenant_id: int, changes: Mapping[str, int | float | None]) -> TenantLimits:
    """Change only the limits named in `changes`; None clears a limit back to the deployment default."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
    row = session.get(TenantLimits, tenant_id)
    if row is None:
        row = TenantLimits(tenant_id=tenant_id, weight=1.0)
        session.add(row)
    for name, value in changes.items():
        if name == "weight":
            row.weight = 1.0 if value is None else float(value)
        else:
            setattr(row, name, None if value is None else int(value))
    return row
