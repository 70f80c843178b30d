"""Outbound webhooks: notices POSTed signed, retried with backoff, logged; tenants hear only their own."""

from __future__ import annotations

import itertools
import json
import time

from standardwebhooks import Webhook

from bots.admin import signing
from db import notices
from tests.bots.admin.conftest import Admin
from tests.bots.admin.receiver import Receiver


def emit(admin: Admin, kind: str, tenant_id: int | None, **data: object) -> None:
    with admin.stack.sessions.begin() as session:
        notices.emit(session, kind=kind, tenant_id=tenant_id, data=data)


def subscribe(admin: Admin, url: str, *, key: str | None = None, **body: object) -> dict[str, object]:
    with admin.api(key) as api:
        response = api.post("/api/webhooks", json={"url": url, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())


def wait_delivery(admin: Admin, webhook_id: int, status: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    with admin.api() as api:
        while time.monotonic() < deadline:
            log = api.get(f"/api/webhooks/{webhook_id}/deliveries").json()
            if log and log[0]["status"] == status:
                return dict(log[0])
            time.sleep(0.05)
    raise AssertionError(f"no {status} delivery: {log}")


def test_a_failing_receiver_is_retried_with_backoff_until_it_accepts(admin: Admin) -> None:
    tenant_id = admin.tenant("admin", "acme")
    with Receiver(fail_with=[500, 503]) as receiver:
        hook = subscribe(admin, receiver.url, kinds=["quota.exceeded"])
        emit(admin, notices.QUOTA_EXCEEDED, tenant_id, limit=1000, used=1234)
        calls = receiver.wait_for(3)
    delivered = wait_delivery(admin, int(hook["id"]), "delivered")
    assert delivered["attempts"] == 3
    assert [entry["status"] for entry in delivered["log"]] == [500, 503, 200]
    assert delivered["log"][0]["error"] == "HTTP 500"
    # Each try waits longer than the one before (doubling from 0.05 s, with jitter).
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.08
    # Every try is the same signed notice.
    assert len({c.body for c in calls}) == 1
    for call in calls:
        signing.verify(
            str(hook["secret"]),
            timestamp=call.headers["x-llmos-timestamp"],
            signature=call.headers["x-llmos-signature"],
            body=call.body,
            window=300,
        )
        # The same notice in the Standard Webhooks format, checked with its own library; one id for every try.
        standard = {k: v for k, v in call.headers.items() if k.startswith("webhook-")}
        Webhook(str(hook["secret"]).encode()).verify(call.body, standard, json_parse=False)
    assert len({c.headers["webhook-id"] for c in calls}) == 1
    sent = json.loads(calls[0].body)
    assert sent["type"] == "quota.exceeded" and sent["tenant_id"] == tenant_id
    assert sent["data"] == {"limit": 1000, "used": 1234}


def test_a_receiver_that_never_accepts_is_given_up_and_can_be_retried(admin: Admin) -> None:
    with Receiver(fail_with=[500] * 4) as receiver:
        hook = subscribe(admin, receiver.url, kinds=["quota.exceeded"])
        emit(admin, notices.QUOTA_EXCEEDED, None, used=5)
        receiver.wait_for(4)
        failed = wait_delivery(admin, int(hook["id"]), "failed")
        assert failed["attempts"] == 4 and failed["last_status"] == 500
        time.sleep(0.3)
        assert len(receiver.received) == 4  # no fifth try on its own
        with admin.api() as api:
            assert api.post(f"/api/deliveries/{failed['id']}/retry").json()["status"] == "pending"
        receiver.wait_for(5)
    assert wait_delivery(admin, int(hook["id"]), "delivered")["attempts"] == 1


def test_tenant_webhooks_hear_only_their_tenant_and_the_engine(admin: Admin) -> None:
    acme, globex = admin.tenant("admin", "acme"), admin.tenant("admin", "globex")
    with Receiver() as mine, Receiver() as everyone:
        subscribe(admin, mine.url, key=admin.key_for(acme))
        subscribe(admin, everyone.url)
        emit(admin, notices.QUOTA_EXCEEDED, globex, used=1)
        emit(admin, notices.QUOTA_EXCEEDED, acme, used=2)
        emit(admin, notices.ENGINE_RECOVERED, None, state="available")
        everyone.wait_for(3)
        mine.wait_for(2)
        time.sleep(0.3)
        heard = sorted((json.loads(r.body)["type"], json.loads(r.body)["tenant_id"]) for r in mine.received)
    assert heard == [("engine.recovered", None), ("quota.exceeded", acme)]


def test_a_new_webhook_does_not_get_old_notices_and_kinds_filter(admin: Admin) -> None:
    emit(admin, notices.QUOTA_EXCEEDED, None, old=True)
    time.sleep(0.05)
    with Receiver() as receiver:
        subscribe(admin, receiver.url, kinds=["job.failed"])
        emit(admin, notices.QUOTA_EXCEEDED, None, new=True)
        emit(admin, notices.JOB_FAILED, None, job="x")
        receiver.wait_for(1)
        time.sleep(0.3)
        assert [json.loads(r.body)["type"] for r in receiver.received] == ["job.failed"]


def test_engine_outage_and_recovery_are_announced(admin: Admin, simulator) -> None:
    with Receiver() as receiver:
        subscribe(admin, receiver.url, kinds=["engine.unavailable", "engine.recovered"])
        simulator.config.mode = "unavailable"
        receiver.wait_for(1)
        simulator.config.mode = "ok"
        calls = receiver.wait_for(2)
        time.sleep(0.5)  # several more health checks: no repeated notices
        assert [json.loads(c.body)["type"] for c in receiver.received] == ["engine.unavailable", "engine.recovered"]
    assert json.loads(calls[1].body)["data"]["models"] == ["sim-model"]


def test_bad_webhook_requests_are_explained(admin: Admin) -> None:
    acme, globex = admin.tenant("admin", "acme"), admin.tenant("admin", "globex")
    with admin.api() as api:
        bad = api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/x", "kinds": ["job.done"]})
        assert bad.status_code == 422 and "unknown kinds" in bad.json()["detail"]
    admin.service.settings.allow_private_urls = False
    with admin.api() as api:
        bad = api.post("/api/webhooks", json={"url": "http://10.0.0.8/hook"})
        assert bad.status_code == 422 and "non-public address" in bad.json()["detail"]
    admin.service.settings.allow_private_urls = True
    with admin.api(admin.key_for(acme)) as api:
        assert api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/x", "tenant_id": globex}).status_code == 404
