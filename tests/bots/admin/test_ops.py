"""Health, readiness, Prometheus metrics, the OpenAPI description and the page safeguards."""

from __future__ import annotations

import re
import time

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from db.models import Usage
from tests.bots.admin.conftest import Admin
from tests.helpers import chat


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_health_and_readiness(admin: Admin, simulator) -> None:
    with admin.api() as client, admin.client() as anyone:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert set(ready.json()["checks"]) == {"database", "broker", "engine"}
        simulator.config.mode = "unavailable"
        time.sleep(0.5)  # the engine watch looks every 0.2 s
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["engine"]["ok"] is False
        assert down.json()["checks"]["database"]["ok"] is True
        # Without a global key: ready or not, nothing about addresses or errors.
        tenant_key = admin.key_for(admin.tenant("admin", "acme"))
        for headers in ({}, {"Authorization": f"Bearer {tenant_key}"}, {"Authorization": "Bearer llmos_x_y"}):
            told = anyone.get("/readyz", headers=headers)
            assert (told.status_code, told.json()) == (503, {"ready": False})
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        simulator.config.mode = "ok"
        time.sleep(0.5)
        assert client.get("/readyz").status_code == 200


def test_metrics_follow_the_task_path(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "alpha beta gamma"
    simulator.config.ttft = 0.05
    with admin.api() as api:
        api.get("/metrics")  # counting starts with the service
        for line in ("one", "two", "/help"):
            assert chat(admin.stack, line).code == 0
        simulator.config.mode = "unavailable"
        chat(admin.stack, "three")
        simulator.config.mode = "ok"
        scraped = api.get("/metrics")
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    interactive = (("priority", "interactive"),)
    assert found[("llmos_time_to_first_token_seconds_count", interactive)] == 2
    assert found[("llmos_end_to_end_seconds_count", interactive)] == 2
    assert found[("llmos_queue_wait_seconds_count", interactive)] == 3  # the failed one waited too
    assert found[("llmos_time_to_first_token_seconds_bucket", (("le", "0.05"), *interactive))] == 0
    assert found[("llmos_events_total", (("priority", "commands"), ("status", "done")))] == 1
    assert found[("llmos_errors_total", interactive)] == 1
    assert found[("llmos_queue_depth", interactive)] == 0
    assert found[("llmos_engine_up", ())] in {0.0, 1.0}
    with admin.stack.sessions() as session:
        prompt, completion = session.execute(
            select(func.sum(Usage.prompt_tokens), func.sum(Usage.completion_tokens))
        ).one()
    assert found[("llmos_tokens_total", (("type", "completion"),))] == completion == 6
    assert found[("llmos_tokens_total", (("type", "prompt"),))] == prompt
    # A second scrape does not count the same events again.
    with admin.api() as api:
        again = samples(api.get("/metrics").text)
    assert again[("llmos_end_to_end_seconds_count", interactive)] == 2


def test_openapi_describes_the_service(admin: Admin) -> None:
    with admin.client() as client:
        spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "LLMOS admin"
    for path in ("/hooks/{hook_id}/jobs", "/api/tenants", "/api/usage", "/api/webhooks", "/metrics", "/readyz"):
        assert path in spec["paths"], path
    body = spec["paths"]["/hooks/{hook_id}/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/JobRequest"}
    job = spec["components"]["schemas"]["JobRequest"]
    assert set(job["required"]) == {"skill", "input", "destination"}
    assert "Destination" in spec["components"]["schemas"]
    assert "/chat" not in spec["paths"]  # pages stay out of the API description


def test_pages_ask_for_a_key_and_carry_safeguards(admin: Admin) -> None:
    with admin.client() as client:
        page = client.get("/dashboard", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/dashboard"
        wrong = client.post("/login", data={"key": "llmos_nope_nope", "next": "/dashboard"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        evil = client.post("/login", data={"key": admin.global_key, "next": "//evil.example"}, follow_redirects=False)
        assert evil.headers["location"] == "/dashboard"  # no open redirect
        cookie = evil.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        board = client.get("/dashboard")
        assert board.status_code == 200 and "Queues now" in board.text
        assert "default-src 'self'" in board.headers["content-security-policy"]
        assert board.headers["x-frame-options"] == "DENY"
        # A page reached under a foreign host name (DNS rebinding) is refused.
        assert client.get("/chat", headers={"Host": "evil.example"}).status_code == 400
        client.post("/logout")
        assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_docs_are_served_from_this_service_without_a_cdn(admin: Admin) -> None:
    with admin.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(url.startswith("/static/swagger-ui/") for url in assets), assets
        assert "cdn" not in page.text and "'/openapi.json'" in page.text
        for url in assets:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 500, url
        assert "SwaggerUIBundle" in client.get("/static/swagger-ui/swagger-ui-bundle.js").text
