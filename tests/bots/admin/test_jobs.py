"""Webhook jobs end to end: signed in, through the queue, worker and engine, out to their destination."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import select

from bots.admin import signing
from db.admin import Delivery, Job
from db.models import Channel, ProcessedEvent, Tenant, Usage
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.bots.admin.receiver import Receiver
from tests.helpers import count, settle
from workers.events import Event, Platform
from workers.stack import Stack


class RecordingSink:
    """Stands in for the Slack / Discord sinks (built on other branches) behind the same registry."""

    def __init__(self, event: Event, calls: list[tuple[Any, ...]]) -> None:
        self.event, self.calls = event, calls

    def start(self, *, resume_ref: str | None) -> str:
        e = self.event
        self.calls.append(("start", str(e.platform), e.tenant, e.channel, e.thread, resume_ref))
        return "platform-msg-1"

    def append(self, text: str) -> None:
        self.calls.append(("append", text))

    def finish(self, text: str) -> None:
        self.calls.append(("finish", text))

    def fail(self, message: str) -> None:
        self.calls.append(("fail", message))

    def destination_refusal(self, *, tenant: str, destination: Mapping[str, Any]) -> str | None:
        """The platform's ownership check (asked before anything is sent); these tests' channels are the tenant's."""
        return None


@pytest.fixture
def platform_sinks(clean_stack: Stack) -> Iterator[list[tuple[Any, ...]]]:
    calls: list[tuple[Any, ...]] = []
    lock = threading.Lock()

    def factory(event: Event, _runtime: object) -> RecordingSink:
        with lock:
            return RecordingSink(event, calls)

    registry = clean_stack.runtime.sinks
    saved = {p: registry._factories.get(p) for p in (Platform.SLACK, Platform.DISCORD)}
    for platform in saved:
        registry.register(platform, factory)
    yield calls
    for platform, previous in saved.items():
        if previous is None:
            registry._factories.pop(platform, None)
        else:
            registry.register(platform, previous)


def callback_job(url: str, **extra: object) -> dict[str, object]:
    return {"skill": "ask", "input": "What is 2 + 2?", "destination": {"type": "callback", "url": url}, **extra}


def test_job_lifecycle_into_a_callback_url(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "Four."
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with Receiver() as receiver:
        accepted = signed_post(admin, hook_id, secret, callback_job(receiver.url, id="job-42"))
        assert accepted.status_code == 202
        assert accepted.json()["status"] in {"queued", "running", "completed"}
        [call] = receiver.wait_for(1)
    # The callback is signed with the hook's secret, the same way jobs are.
    signing.verify(
        secret,
        timestamp=call.headers["x-llmos-timestamp"],
        signature=call.headers["x-llmos-signature"],
        body=call.body,
        window=300,
    )
    sent = json.loads(call.body)
    assert sent["type"] == "job.completed" and call.headers["x-llmos-event"] == "job.completed"
    assert sent["job"]["id"] == "job-42" and sent["job"]["result"] == "Four."
    assert sent["job"]["usage"]["completion_tokens"] == 2

    done = wait_job(admin, tenant_id, "job-42", until={"completed"})
    assert done["status"] == "completed" and done["result"] == "Four." and done["priority"] == "batch"
    deadline = time.monotonic() + 10
    while done["callback"] is None or done["callback"]["status"] != "delivered":
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
        done = wait_job(admin, tenant_id, "job-42", until={"completed"})
    assert done["callback"]["attempts"] == 1
    # The caller can read it back with the hook's own signature (the path is what is signed).
    path = f"/hooks/{hook_id}/jobs/job-42"
    with admin.client() as client:
        read = client.get(path, headers=signing.signed_headers(secret, path.encode()))
        assert read.status_code == 200 and read.json()["result"] == "Four."
        assert client.get(path, headers=signing.signed_headers("wrong", path.encode())).status_code == 401
    with admin.stack.sessions() as session:
        event = session.scalars(select(ProcessedEvent)).one()
        assert event.key == "admin:acme:job-42" and event.priority == "batch" and event.status == "done"


def test_the_same_job_id_twice_is_one_job(admin: Admin, simulator) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with Receiver() as receiver:
        first = signed_post(admin, hook_id, secret, callback_job(receiver.url, id="once"))
        second = signed_post(admin, hook_id, secret, callback_job(receiver.url, id="once"))
        assert first.status_code == second.status_code == 202
        assert second.json()["duplicate"] is True
        receiver.wait_for(1)
        settle(admin.stack)
        # The same id for a different job is a mistake the caller hears about.
        other = signed_post(admin, hook_id, secret, callback_job(receiver.url, id="once", input="Something else"))
        assert other.status_code == 409 and "different job" in other.json()["detail"]
        settle(admin.stack)
        assert len(receiver.received) == 1
    assert count(admin.stack, Job) == 1 and count(admin.stack, ProcessedEvent) == 1
    assert len(simulator.requests) == 1


def test_a_job_into_a_slack_channel_streams_through_the_slack_sink(admin: Admin, simulator, platform_sinks) -> None:
    simulator.config.answer = lambda msgs: "Here is the weekly summary."
    tenant_id = admin.tenant("slack", "T0TEAM", "Team")
    hook_id, secret = admin.hook(tenant_id)
    job = {
        "id": "digest-1",
        "skill": "ask",
        "input": "Summarize the week",
        "destination": {"type": "slack", "channel": "C0GENERAL"},
    }
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    done = wait_job(admin, tenant_id, "digest-1", until={"completed", "failed"})
    assert done["status"] == "completed" and done["delivery_error"] is None
    assert platform_sinks[0] == ("start", "slack", "T0TEAM", "C0GENERAL", "job-digest-1", None)
    assert "".join(c[1] for c in platform_sinks if c[0] == "append") == "Here is the weekly summary."
    assert platform_sinks[-1] == ("finish", "Here is the weekly summary.")
    # The job counts in the Slack workspace's tenant, not in a shadow "admin" tenant.
    with admin.stack.sessions() as session:
        assert [t.platform for t in session.scalars(select(Tenant))] == ["slack"]
        assert session.scalars(select(Usage.tenant_id)).one() == tenant_id
        assert session.scalars(select(Channel.external_id)).all() == ["C0GENERAL"]


def test_a_discord_destination_and_a_failing_platform(admin: Admin, simulator, platform_sinks) -> None:
    tenant_id = admin.tenant("discord", "912345678901234567")
    hook_id, secret = admin.hook(tenant_id)
    job = {
        "id": "d1",
        "skill": "ask",
        "input": "hi",
        "destination": {"type": "discord", "channel": "42", "thread": "77"},
    }
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    assert wait_job(admin, tenant_id, "d1", until={"completed"})["status"] == "completed"
    assert platform_sinks[0][:5] == ("start", "discord", "912345678901234567", "42", "77")

    def broken(_event: Event, _runtime: object) -> RecordingSink:
        raise ConnectionError("discord is down")

    admin.stack.runtime.sinks.register(Platform.DISCORD, broken)
    assert signed_post(admin, hook_id, secret, {**job, "id": "d2"}).status_code == 202
    done = wait_job(admin, tenant_id, "d2", until={"completed", "failed"})
    # The answer is kept on the job and the failure is said, rather than the job being lost.
    assert done["status"] == "completed" and done["result"] == "You said: hi"
    assert "discord is down" in done["delivery_error"]


def test_destinations_must_belong_to_the_hooks_tenant(admin: Admin) -> None:
    hook_id, secret = admin.hook(admin.tenant("admin", "acme"))
    slack = {"skill": "ask", "input": "hi", "destination": {"type": "slack", "channel": "C1"}}
    response = signed_post(admin, hook_id, secret, slack)
    assert response.status_code == 422 and "own slack tenant" in response.json()["detail"]
    assert count(admin.stack, Job) == 0


def test_private_callback_urls_are_refused_unless_allowed(admin: Admin) -> None:
    admin.service.settings.allow_private_urls = False
    hook_id, secret = admin.hook(admin.tenant("admin", "acme"))
    for url in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8080/api", "ftp://example.org/x"):
        response = signed_post(admin, hook_id, secret, callback_job(url))
        assert response.status_code == 422, url
        assert response.json()["detail"].startswith("destination.url:")
    assert count(admin.stack, Job) == 0


def test_jobs_obey_the_tenants_access_rules(admin: Admin, simulator) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id, name="crm")
    with admin.api() as api:
        rule = {"subject_type": "user", "subject": "hook-crm", "effect": "block"}
        assert api.put(f"/api/tenants/{tenant_id}/access", json=rule).status_code == 200
    response = signed_post(admin, hook_id, secret, callback_job("http://127.0.0.1:9/x", id="r1"))
    assert response.status_code == 403 and "blocked" in response.json()["detail"]
    assert wait_job(admin, tenant_id, "r1", until={"refused"})["status"] == "refused"
    assert simulator.requests == []
    # Once the rule is lifted, sending the same job again runs it.
    with admin.api() as api:
        assert api.delete(f"/api/tenants/{tenant_id}/access/user/hook-crm").status_code == 200
    assert signed_post(admin, hook_id, secret, callback_job("http://127.0.0.1:9/x", id="r1")).status_code == 202
    assert wait_job(admin, tenant_id, "r1", until={"completed"})["status"] == "completed"
    assert len(simulator.requests) == 1


def test_an_engine_failure_fails_the_job_and_tells_the_callback(admin: Admin, simulator) -> None:
    simulator.config.mode = "unavailable"
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with Receiver() as receiver:
        assert signed_post(admin, hook_id, secret, callback_job(receiver.url, id="f1")).status_code == 202
        [call] = receiver.wait_for(1)
    sent = json.loads(call.body)
    assert sent["type"] == "job.failed" and sent["job"]["status"] == "failed"
    assert "not answering" in sent["job"]["error"]
    with admin.api() as api:
        kinds = [n["kind"] for n in api.get("/api/notices").json()]
    assert "job.failed" in kinds


def test_skills_get_their_input_in_the_right_place(admin: Admin, simulator) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    jobs = [
        {"id": "s1", "skill": "summarize", "input": "alice: we ship friday\nbob: I own the notes\nand the demo"},
        {"id": "s2", "skill": "translate", "input": "good morning", "language": "German"},
        {"id": "s3", "skill": "quiz", "input": "photosynthesis", "questions": 2},
        {"id": "s4", "skill": "draft", "input": "carol: can you send the deck?", "instructions": "Say yes, by noon."},
    ]
    for job in jobs:
        job["destination"] = {"type": "callback", "url": "http://127.0.0.1:9/x"}
        assert signed_post(admin, hook_id, secret, job).status_code == 202
        wait_job(admin, tenant_id, str(job["id"]), until={"completed"})
    prompts = [r.body["messages"][-1]["content"] for r in simulator.requests]
    assert "alice: we ship friday\nbob: I own the notes\nand the demo" in prompts[0]
    assert prompts[0].startswith("Summarize the following conversation")
    assert prompts[1] == "Translate the following text into German. Reply with the translation only.\n\ngood morning"
    assert prompts[2].startswith("Write a quiz of 2 multiple-choice questions about: photosynthesis")
    assert "Say yes, by noon." in prompts[3] and "carol: can you send the deck?" in prompts[3]
    with admin.stack.sessions() as session:
        assert {p for p in session.scalars(select(ProcessedEvent.priority))} == {"batch"}


def test_priority_can_be_chosen(admin: Admin, simulator) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    job = {**callback_job("http://127.0.0.1:9/x", id="p1"), "priority": "interactive"}
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    assert wait_job(admin, tenant_id, "p1", until={"completed"})["priority"] == "interactive"
    with admin.stack.sessions() as session:
        assert session.scalars(select(ProcessedEvent.priority)).one() == "interactive"


def test_a_callback_that_fails_is_retried_and_survives_a_restart(admin: Admin, clean_stack: Stack) -> None:
    from bots.admin.service import AdminService
    from tests.bots.admin.conftest import admin_settings

    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with Receiver(fail_with=[500, 502]) as receiver:
        assert signed_post(admin, hook_id, secret, callback_job(receiver.url, id="flaky")).status_code == 202
        receiver.wait_for(2)
        # The admin service goes away between tries; the delivery waits in the database.
        admin.service.stop()
        later = AdminService.for_stack(clean_stack, admin_settings())
        later.start()
        try:
            calls = receiver.wait_for(3)
        finally:
            later.stop()
    assert len({c.body for c in calls}) == 1 and json.loads(calls[-1].body)["job"]["id"] == "flaky"
    with clean_stack.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts) == ("delivered", 3)
        assert [entry["status"] for entry in delivery.log] == [500, 502, 200]


def test_a_job_id_clash_across_platforms_is_refused_clearly(admin: Admin, simulator) -> None:
    # Two tenants whose external ids are the same on different platforms share the event key space.
    first = admin.hook(admin.tenant("slack", "ACME"))
    second = admin.hook(admin.tenant("admin", "ACME"))
    assert signed_post(admin, *first, callback_job("http://127.0.0.1:9/x", id="x1")).status_code == 202
    clash = signed_post(admin, *second, callback_job("http://127.0.0.1:9/x", id="x1"))
    assert clash.status_code == 409 and "clashes" in clash.json()["detail"]
    assert signed_post(admin, *second, callback_job("http://127.0.0.1:9/x", id="x2")).status_code == 202
    settle(admin.stack)
    assert count(admin.stack, Job) == 2
