"""Tenant isolation over every admin route: a key of one tenant gets 403/404/422 for everything of another,
and nothing of the other tenant changes. The routes come from the service's own OpenAPI description, so a
new route is covered the day it is added."""

from __future__ import annotations

import base64
import re
from typing import Any

from sqlalchemy import func, select

from db.admin import Delivery, InboundHook, Webhook
from db.models import KnowledgeDocument, Preference, Tenant
from tests.bots.admin.conftest import Admin

REFUSED = {403, 404, 422}
# A valid body for each route that takes one, so the refusal is about the tenant and not the body.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/tenants/{tenant_id}/hooks"): {"name": "intruder"},
    ("patch", "/api/tenants/{tenant_id}"): {"name": "taken over"},
    ("put", "/api/tenants/{tenant_id}/access"): {"subject_type": "user", "subject": "U1", "effect": "block"},
    ("put", "/api/tenants/{tenant_id}/limits"): {"user_requests_per_minute": 1},
    ("put", "/api/tenants/{tenant_id}/preferences/{key}"): {"value": "intruder"},
    ("put", "/api/tenants/{tenant_id}/channels/{channel}/preferences/{key}"): {"value": "intruder"},
    ("post", "/api/webhooks"): {"url": "https://example.com/intruder"},
    ("post", "/api/tenants/{tenant_id}/knowledge"): {"file": {"name": "intruder.md", "content": "aW50cnVkZXI="}},
}


def _theirs(admin: Admin) -> dict[str, Any]:
    theirs = admin.tenant("admin", "beta", "Beta")
    hook_id, _secret = admin.hook(theirs, name="beta-hook")
    with admin.api() as api:
        webhook = api.post("/api/webhooks", json={"url": "https://example.com/b", "tenant_id": theirs}).json()
        api.put(f"/api/tenants/{theirs}/preferences/persona", json={"value": "theirs"})
        secret = base64.b64encode(b"theirs: the safe code is 2024").decode()
        document = {"file": {"name": "handbook.md", "content": secret}}
        assert api.post(f"/api/tenants/{theirs}/knowledge", json=document).status_code == 201
    with admin.stack.sessions.begin() as session:
        delivery = Delivery(
            tenant_id=theirs, webhook_id=webhook["id"], kind="k", url="https://example.com/b", status="failed"
        )
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    return {
        "tenant_id": theirs,
        "hook_id": hook_id,
        "webhook_id": webhook["id"],
        "delivery_id": delivery_id,
        "job_id": "j1",
        "user": "U1",
        "channel": "C1",
        "key": "persona",
        "name": "handbook.md",
        "subject_type": "user",
        "subject": "U1",
    }


def _snapshot(admin: Admin, tenant_id: int) -> tuple[Any, ...]:
    with admin.stack.sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return (
            tenant.name,
            session.scalar(select(func.count()).select_from(InboundHook).where(InboundHook.tenant_id == tenant_id)),
            session.scalars(select(Webhook.disabled_at).where(Webhook.tenant_id == tenant_id)).all(),
            session.scalars(select(Preference.value).where(Preference.tenant_id == tenant_id)).all(),
            session.scalars(select(Delivery.status).where(Delivery.tenant_id == tenant_id)).all(),
            session.scalars(select(KnowledgeDocument.name).where(KnowledgeDocument.tenant_id == tenant_id)).all(),
        )


def test_a_tenant_key_reaches_nothing_of_another_tenant(admin: Admin) -> None:
    mine = admin.tenant("admin", "acme", "Acme")
    ids = _theirs(admin)
    before = _snapshot(admin, ids["tenant_id"])
    with admin.client() as anonymous:
        spec = anonymous.get("/openapi.json").json()
    tried = []
    with admin.api(admin.key_for(mine)) as api:
        for path, operations in spec["paths"].items():
            names = set(re.findall(r"{(\w+)}", path))
            if not path.startswith("/api/") or not names & {"tenant_id", "webhook_id", "delivery_id"}:
                continue
            url = path.format(**{name: ids[name] for name in names})
            for method in operations:
                body = BODIES.get((method, path))
                answer = api.request(method.upper(), url, json=body)
                tried.append((method, path))
                assert answer.status_code in REFUSED, (method, path, answer.status_code, answer.text[:200])
                assert "Beta" not in answer.text and "theirs" not in answer.text
        # Lists without a tenant in the path show only the key's own tenant.
        for path in ("/api/tenants", "/api/webhooks", "/api/deliveries", "/api/notices", "/api/usage"):
            answer = api.get(path, params={"tenant_id": ids["tenant_id"]})
            assert answer.status_code in REFUSED or "Beta" not in answer.text, path
        assert (
            api.post("/api/webhooks", json={"url": "https://x.example/", "tenant_id": ids["tenant_id"]}).status_code
            in REFUSED
        )
    assert _snapshot(admin, ids["tenant_id"]) == before
    assert len(tried) >= 20, tried
