"""Who am I, and which keys exist (keys are created and revoked with `llmos admin`, never over HTTP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bots.admin import keys
from bots.admin.deps import Caller, Svc

router = APIRouter(prefix="/api", tags=["keys"])


@router.get("/whoami", summary="The key you are calling with and its scope")
def whoami(caller: Caller) -> dict[str, Any]:
    return {"key_id": caller.key_id, "name": caller.name, "tenant_id": caller.tenant_id, "global": caller.is_global}


@router.get("/keys", summary="Keys visible to you: all for a global key, your tenant's otherwise")
def list_keys(svc: Svc, caller: Caller) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        rows = keys.listed(session, tenant_id=caller.tenant_id)
        return [
            {
                "key_id": row.key_id,
                "name": row.name,
                "tenant_id": row.tenant_id,
                "created_at": row.created_at.isoformat(),
                "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
                "revoked": row.revoked_at is not None,
            }
            for row in rows
        ]
