"""Which tools a tenant's assistant may call: admins switch built-in and MCP tools off per tenant.

The deployment's MCP_CONFIG decides which MCP servers and tools a tenant may use at all; this only
narrows that. Tools are named as the model sees them: `calculate`, or `server__tool` for an MCP
server's tool; `server__*` switches a whole MCP server off.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bots.admin.deps import Caller, Svc, tenant_row
from db import preferences
from db.preferences import Scope
from workers.tools.toolbox import TOOLS_OFF, switched_off

router = APIRouter(prefix="/api/tenants/{tenant_id}", tags=["tools"])

BUILTIN_NAMES = ("current_time", "calculate", "search_conversations", "remember")
ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$|^[A-Za-z0-9_-]{1,32}__\*$")]


class ToolsOff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    off: list[ToolName] = Field(max_length=200, description="tools switched off for this tenant")


def _report(off: frozenset[str]) -> dict[str, list[str]]:
    return {"builtin": list(BUILTIN_NAMES), "off": sorted(off)}


@router.get("/tools", summary="The built-in tools, and the tools switched off for this tenant")
def tenant_tools(tenant_id: int, svc: Svc, caller: Caller) -> dict[str, list[str]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        return _report(switched_off(preferences.at_level(session, tenant_id=tenant_id, scope=Scope.TENANT)))


@router.put("/tools", summary="Switch tools off for this tenant (the list replaces the previous one)")
def set_tenant_tools(tenant_id: int, body: ToolsOff, svc: Svc, caller: Caller) -> dict[str, list[str]]:
    off = frozenset(body.off)
    with svc.sessions.begin() as session:
        tenant_row(session, caller, tenant_id)
        if off:
            value = ",".join(sorted(off))
            preferences.set_value(session, tenant_id=tenant_id, scope=Scope.TENANT, key=TOOLS_OFF, value=value)
        else:
            preferences.unset(session, tenant_id=tenant_id, scope=Scope.TENANT, key=TOOLS_OFF)
    return _report(off)
