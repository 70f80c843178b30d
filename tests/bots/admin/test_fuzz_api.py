"""API fuzzing of the admin service from its own OpenAPI description (schemathesis), and property tests of
the two routes outside it (the web chat and signed hook jobs): no 5xx, and a tenant key never sees another
tenant's data nor changes it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from sqlalchemy import select

from bots.admin import signing
from db.admin import InboundHook
from db.models import Tenant
from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_webchat import browser

FUZZ = settings(
    max_examples=150,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
SECRET_NAME = "BETA-PRIVATE-MARKER"


@dataclass
class Tenants:
    mine: int
    theirs: int
    my_key: str


def two_tenants(admin: Admin) -> Tenants:
    mine = admin.tenant("admin", "acme", "Acme")
    theirs = admin.tenant("admin", "beta", SECRET_NAME)
    admin.hook(theirs, name="beta-hook")
    with admin.api() as api:
        api.post("/api/webhooks", json={"url": "https://example.com/beta", "tenant_id": theirs})
        api.put(f"/api/tenants/{theirs}/preferences/persona", json={"value": SECRET_NAME})
    return Tenants(mine=mine, theirs=theirs, my_key=admin.key_for(mine))


def _fuzz(admin: Admin, key: str, mode: GenerationMode, *, tenant_id: int, forbidden: str | None) -> list[int]:
    """Every operation, with `tenant_id` in the path where the path has one (so the requests reach a real
    tenant's data instead of stopping at 404), the rest generated."""
    schema = schemathesis.openapi.from_url(f"{admin.url}/openapi.json")
    seen: list[int] = []

    @given(case=schema.as_strategy(generation_mode=mode, path_parameters={"tenant_id": tenant_id}))
    @FUZZ
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=admin.url, headers={"Authorization": f"Bearer {key}"}, timeout=15)
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
        if forbidden is not None:
            assert forbidden not in response.text, (case.method, case.formatted_path)

    check()
    return seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_answers_5xx_to_a_global_key(admin: Admin, mode: GenerationMode) -> None:
    tenants = two_tenants(admin)
    seen = _fuzz(admin, admin.global_key, mode, tenant_id=tenants.mine, forbidden=None)
    # The fuzzing reached the routes, not only the key check: valid requests succeed, invalid ones are refused.
    wanted = (lambda code: 200 <= code < 300) if mode is GenerationMode.POSITIVE else (lambda code: code == 422)
    assert any(wanted(code) for code in seen), seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_a_tenant_key_never_sees_or_changes_another_tenant(admin: Admin, mode: GenerationMode) -> None:
    tenants = two_tenants(admin)
    # Aimed at the other tenant's id: every operation must refuse.
    seen = _fuzz(admin, tenants.my_key, mode, tenant_id=tenants.theirs, forbidden=SECRET_NAME)
    assert seen
    with admin.stack.sessions() as session:
        theirs = session.get(Tenant, tenants.theirs)
        hooks = session.scalars(select(InboundHook.name).where(InboundHook.tenant_id == tenants.theirs)).all()
    assert theirs is not None and theirs.name == SECRET_NAME and hooks == ["beta-hook"]


# -- outside the OpenAPI description -------------------------------------------------------------


@given(text=st.text(min_size=1, max_size=300), thread=st.text(max_size=70))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def _chat_lines(admin: Admin, text: str, thread: str) -> None:
    with browser(admin.url) as client:
        body = json.dumps({"text": text, "thread": thread or "t"})
        sent = client.post("/chat/messages", content=body, headers={"Content-Type": "application/json"})
        assert sent.status_code in {202, 403, 422}, sent.text


def test_any_chat_line_gets_a_defined_answer(admin: Admin) -> None:
    _chat_lines(admin)


JOB_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
JOBS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=140),
        "skill": st.sampled_from(["ask", "summarize", "quiz", "nope", ""]) | JOB_VALUES,
        "input": st.text(max_size=200) | JOB_VALUES,
        "questions": st.integers() | JOB_VALUES,
        "destination": st.fixed_dictionaries(
            {"type": st.sampled_from(["callback", "slack", "discord", "x"])},
            optional={"url": st.text(max_size=60), "channel": st.text(max_size=30), "thread": st.text(max_size=30)},
        )
        | JOB_VALUES,
        "priority": st.sampled_from(["batch", "interactive", "urgent"]),
    },
)


def test_any_signed_job_gets_a_defined_answer(admin: Admin) -> None:
    hook_id, secret = admin.hook(admin.tenant("admin", "acme"))

    @given(job=JOBS)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(job: dict[str, object]) -> None:
        body = json.dumps(job).encode()
        headers = {"Content-Type": "application/json", **signing.signed_headers(secret, body)}
        with admin.client() as client:
            answer = client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers)
        assert answer.status_code in {202, 409, 422}, answer.text

    check()
