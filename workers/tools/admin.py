"""`admin tools …` in chat: a tenant admin switches tools off and on, on any surface that has admin commands.

The same setting as the admin API's `PUT /api/tenants/{id}/tools` (the tenant preference `tools_off`);
the surface checks that the person is an admin before it calls `run`.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session, sessionmaker

from db import directory, preferences
from db.preferences import Scope
from workers.tools.toolbox import TOOLS_OFF, switched_off

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$|^[A-Za-z0-9_-]{1,32}__\*$")
USAGE = (
    "Usage: `admin tools` lists the tools switched off; `admin tools off <tool> …` and `admin tools on <tool> …` "
    "switch tools off and back on (built-in: current_time, calculate, search_conversations, remember; "
    "an MCP server's tool as server__tool, a whole server as server__*)."
)


def run(session: Session, *, tenant_id: int, text: str) -> str:
    verb, *names = text.split() or [""]
    current = switched_off(preferences.at_level(session, tenant_id=tenant_id, scope=Scope.TENANT))
    if not verb and not names:
        return f"Tools switched off here: {', '.join(sorted(current))}." if current else "Every tool is on here."
    bad = [name for name in names if not NAME.match(name)]
    if verb not in {"off", "on"} or not names or bad:
        return USAGE
    changed = current | set(names) if verb == "off" else current - set(names)
    if changed:
        value = ",".join(sorted(changed))
        preferences.set_value(session, tenant_id=tenant_id, scope=Scope.TENANT, key=TOOLS_OFF, value=value)
    else:
        preferences.unset(session, tenant_id=tenant_id, scope=Scope.TENANT, key=TOOLS_OFF)
    return f"Switched {verb}: {', '.join(names)}."


def run_for(sessions: sessionmaker[Session], *, platform: str, tenant: str, name: str = "", text: str) -> str:
    """`run` in a transaction of its own, for a tenant named by its platform id (a Discord guild)."""
    with sessions.begin() as session:
        row = directory.tenant(session, platform=platform, external_id=tenant, name=name)
        session.flush()
        return run(session, tenant_id=row.id, text=text)
