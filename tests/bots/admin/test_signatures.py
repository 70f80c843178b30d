"""Signed job hooks: only a fresh, matching HMAC gets a job in; everything else is 401 and changes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from bots.admin import signing
from db.admin import Job
from db.models import Message, ProcessedEvent
from tests.bots.admin.conftest import Admin, signed_post
from tests.bots.admin.receiver import Receiver
from tests.helpers import count, settle


def job(receiver_url: str, **extra: object) -> dict[str, object]:
    return {
        "skill": "ask",
        "input": "What is 2 + 2?",
        "destination": {"type": "callback", "url": receiver_url},
        **extra,
    }


def nothing_changed(admin: Admin) -> None:
    assert count(admin.stack, ProcessedEvent) == 0
    assert count(admin.stack, Message) == 0
    assert count(admin.stack, Job) == 0


@pytest.fixture
def hook(admin: Admin) -> tuple[int, str]:
    return admin.hook(admin.tenant("admin", "acme"))


def test_a_valid_signature_is_accepted(admin: Admin, hook, simulator) -> None:
    hook_id, secret = hook
    with Receiver() as receiver:
        response = signed_post(admin, hook_id, secret, job(receiver.url, id="job-1"))
        assert response.status_code == 202, response.text
        assert response.json()["id"] == "job-1"
        receiver.wait_for(1)
    settle(admin.stack)
    assert len(simulator.requests) == 1


def test_unsigned_requests_are_refused(admin: Admin, hook) -> None:
    hook_id, _ = hook
    with admin.client() as client:
        response = client.post(f"/hooks/{hook_id}/jobs", json=job("http://127.0.0.1:9/x"))
        assert response.status_code == 401
        assert "unsigned request" in response.json()["detail"]
        # Not even malformed JSON gets past the signature check to a 422.
        response = client.post(f"/hooks/{hook_id}/jobs", content=b"{not json")
        assert response.status_code == 401
    nothing_changed(admin)


def test_a_wrong_secret_or_tampered_body_is_refused(admin: Admin, hook) -> None:
    hook_id, secret = hook
    assert signed_post(admin, hook_id, "not-the-secret", job("http://127.0.0.1:9/x")).status_code == 401
    original = json.dumps(job("http://127.0.0.1:9/x", id="a")).encode()
    tampered = original.replace(b"2 + 2", b"rm -rf")
    headers = {"Content-Type": "application/json", **signing.signed_headers(secret, original)}
    with admin.client() as client:
        response = client.post(f"/hooks/{hook_id}/jobs", content=tampered, headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"] == "the signature does not match the body and timestamp"
        # The timestamp is signed too: moving it invalidates the signature.
        moved = {**headers, signing.TIMESTAMP_HEADER: str(int(headers[signing.TIMESTAMP_HEADER]) + 1)}
        assert client.post(f"/hooks/{hook_id}/jobs", content=original, headers=moved).status_code == 401
        garbled = {**headers, signing.TIMESTAMP_HEADER: "yesterday"}
        assert client.post(f"/hooks/{hook_id}/jobs", content=original, headers=garbled).status_code == 401
    nothing_changed(admin)


def test_stale_and_replayed_requests_are_refused(admin: Admin, hook, simulator) -> None:
    hook_id, secret = hook
    body = json.dumps(job("http://127.0.0.1:9/x", id="late")).encode()
    for skew in (-310, 310):
        response = signed_post(admin, hook_id, secret, body, now=time.time() + skew)
        assert response.status_code == 401, (skew, response.text)
        assert "stale request" in response.json()["detail"]
    nothing_changed(admin)

    # A request captured and sent again within the window is the same job, not a second one ...
    headers = {"Content-Type": "application/json", **signing.signed_headers(secret, body)}
    with admin.client() as client:
        first = client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers)
        again = client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["duplicate"] is True and again.json()["id"] == "late"
    settle(admin.stack)
    assert count(admin.stack, Job) == 1 and count(admin.stack, ProcessedEvent) == 1
    assert len(simulator.requests) == 1


def test_a_replay_after_the_window_is_refused(admin: Admin, hook, monkeypatch) -> None:
    hook_id, secret = hook
    body = json.dumps(job("http://127.0.0.1:9/x")).encode()
    headers = {"Content-Type": "application/json", **signing.signed_headers(secret, body)}
    # Five minutes and a bit later, the same bytes are sent again.
    later = time.time() + 301
    monkeypatch.setattr(signing.time, "time", lambda: later)
    with admin.client() as client:
        response = client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers)
    assert response.status_code == 401 and "stale request" in response.json()["detail"]
    nothing_changed(admin)


def test_unknown_or_disabled_hooks_and_bad_bodies(admin: Admin, hook) -> None:
    hook_id, secret = hook
    assert signed_post(admin, 999_999, secret, job("http://127.0.0.1:9/x")).status_code == 404
    bad = signed_post(admin, hook_id, secret, {"skill": "dance", "input": "", "destination": {"type": "callback"}})
    assert bad.status_code == 422
    problems = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert ("skill",) in problems and ("input",) in problems and ("destination",) in problems
    tenant_id = admin.tenant("admin", "acme")
    with admin.api() as api:
        assert api.delete(f"/api/tenants/{tenant_id}/hooks/{hook_id}").json()["disabled"] is True
    assert signed_post(admin, hook_id, secret, job("http://127.0.0.1:9/x")).status_code == 404
    nothing_changed(admin)


def test_a_job_signed_the_standard_webhooks_way_is_accepted(admin: Admin, hook) -> None:
    """Inbound hooks accept Standard Webhooks headers as made by the `standardwebhooks` package itself."""
    hook_id, secret = hook
    body = json.dumps(job("http://127.0.0.1:9/x", id="standard")).encode()
    now = datetime.now(tz=UTC)
    signature = Webhook(secret.encode()).sign("msg_1", now, body.decode())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": f"v1,bm90LXRoZS1zaWduYXR1cmU= {signature}",  # a rotated-out key's, then ours
    }
    with admin.client() as client:
        assert client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers).status_code == 202
        forged = {**headers, "webhook-signature": Webhook(b"another secret").sign("msg_1", now, body.decode())}
        refused = client.post(f"/hooks/{hook_id}/jobs", content=body, headers=forged)
        assert refused.status_code == 401 and "does not match" in refused.json()["detail"]
        no_id = {k: v for k, v in headers.items() if k != "webhook-id"}
        assert "needs webhook-id" in client.post(f"/hooks/{hook_id}/jobs", content=body, headers=no_id).text
        stale = {**headers, "webhook-timestamp": str(int(now.timestamp()) - 400)}
        assert "stale request" in client.post(f"/hooks/{hook_id}/jobs", content=body, headers=stale).text
