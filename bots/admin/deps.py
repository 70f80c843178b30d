"""What every route needs, as FastAPI dependencies: the shared services, the caller's key, its scope.

API routes take the key from `Authorization: Bearer`; the dashboard pages from an HttpOnly,
SameSite=Strict cookie set by the login form, so a key is never put in a URL.
A tenant-scoped key asking about another tenant gets 404, the same answer as for a tenant that does
not exist, so it cannot even learn which tenants there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker

from bots.admin import keys
from bots.admin.destinations import DestinationCheck
from bots.admin.health import BrokerProbe, EngineWatch
from bots.admin.keys import Principal
from bots.admin.metrics import Metrics
from bots.admin.sealing import SecretBox
from bots.admin.settings import AdminSettings
from db.models import Tenant
from engine.embeddings import Embedder
from workers.documents.convert import DEFAULT_LIMITS, Limits
from workers.intake import Enqueue
from workers.leases import Leases
from workers.replybus import ReplyBus

COOKIE = "llmos_admin"


@dataclass
class Services:
    settings: AdminSettings
    sessions: sessionmaker[Session]
    enqueue: Enqueue
    bus: ReplyBus
    broker: BrokerProbe
    watch: EngineWatch
    metrics: Metrics
    templates: Environment
    # Seals and opens hook and webhook secrets.
    box: SecretBox
    # Whether a job's Slack/Discord channel is its tenant's (None: only the worker checks, before sending).
    destinations: DestinationCheck | None = None
    # The plugin skills' names, so `/name …` in the web chat reaches them.
    skills: frozenset[str] = frozenset()
    # How much of a document added to knowledge is read (DOCUMENT_MAX_BYTES, _PAGES, _CHARS).
    documents: Limits = DEFAULT_LIMITS
    # Where the web chat's Stop is left for the worker answering (the stack's leases).
    leases: Leases | None = None
    # Vectors for documents added over the API (EMBEDDING_URL); None: they are searched by full text only.
    embedder: Embedder | None = None


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]
_bearer = HTTPBearer(auto_error=False, description="An admin key from `llmos admin create-key`")


def authenticate(svc: Services, token: str | None) -> Principal | None:
    if not token:
        return None
    with svc.sessions.begin() as session:
        return keys.authenticate(session, token)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def api_principal(svc: Svc, credentials: Bearer) -> Principal:
    found = authenticate(svc, credentials.credentials if credentials else None)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid admin key is required: Authorization: Bearer llmos_...",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


Caller = Annotated[Principal, Depends(api_principal)]


def page_principal(request: Request, svc: Svc) -> Principal:
    found = authenticate(svc, request.cookies.get(COOKIE))
    if found is None:
        target = quote(request.url.path, safe="/")
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": f"/login?next={target}"})
    return found


PageCaller = Annotated[Principal, Depends(page_principal)]


def global_principal(caller: Caller) -> Principal:
    if not caller.is_global:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs a global admin key")
    return caller


GlobalCaller = Annotated[Principal, Depends(global_principal)]


def tenant_row(session: Session, caller: Principal, tenant_id: int) -> Tenant:
    """The tenant if the caller may see it; 404 otherwise (also for another tenant's id)."""
    tenant = session.get(Tenant, tenant_id) if caller.may_see(tenant_id) else None
    if tenant is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tenant {tenant_id}")
    return tenant


def scope_of(caller: Principal, tenant_id: int | None) -> int | None:
    """The tenant a list is limited to: the key's own, or the one a global key asked for (None: all)."""
    if caller.tenant_id is not None:
        if tenant_id is not None and tenant_id != caller.tenant_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tenant {tenant_id}")
        return caller.tenant_id
    return tenant_id
