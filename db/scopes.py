"""Which rows of a tenant's knowledge a channel may see, written once for documents and vectors alike."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import InstrumentedAttribute


def channel_and_tenant(
    tenant: InstrumentedAttribute[int],
    channel: InstrumentedAttribute[int | None],
    *,
    tenant_id: int,
    channel_id: int | None,
) -> list[ColumnElement[bool]]:
    """A channel sees its own rows and its tenant's tenant-level ones (no channel); with no channel,
    only the tenant-level ones. Never another tenant's."""
    scope: ColumnElement[bool] = channel.is_(None)
    if channel_id is not None:
        scope = or_(scope, channel == channel_id)
    return [tenant == tenant_id, scope]
