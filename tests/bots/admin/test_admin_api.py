"""The admin API: tenants, preferences and system prompts, access rules, limits, usage, export, deletion."""

from __future__ import annotations

import json

from sqlalchemy import select

from db.admin import Job
from db.models import Message, Preference, ProcessedEvent, Usage, User
from engine.simulator import tokenize
from tests.bots.admin.conftest import Admin, signed_post, tenant_ids, wait_job
from tests.helpers import chat


def local_tenant(admin: Admin) -> int:
    return tenant_ids(admin)["terminal:local"]


def test_tenants_are_created_listed_and_renamed(admin: Admin) -> None:
    with admin.api() as api:
        made = api.post("/api/tenants", json={"external_id": "acme", "name": "Acme"})
        assert made.status_code == 201 and made.json()["platform"] == "admin"
        assert api.post("/api/tenants", json={"external_id": "acme"}).status_code == 409
        assert api.post("/api/tenants", json={"external_id": "no spaces"}).status_code == 422
        tenant_id = made.json()["id"]
        assert api.patch(f"/api/tenants/{tenant_id}", json={"name": "Acme Ltd"}).json()["name"] == "Acme Ltd"
        assert [t["name"] for t in api.get("/api/tenants").json()] == ["Acme Ltd"]
        assert api.get("/api/tenants/999999").status_code == 404


def test_system_prompts_and_preferences_reach_the_engine(admin: Admin, simulator) -> None:
    chat(admin.stack, "hello")
    tenant_id = local_tenant(admin)
    with admin.api() as api:
        base = f"/api/tenants/{tenant_id}"
        assert api.put(f"{base}/preferences/language", json={"value": "French"}).json() == {"language": "French"}
        prompt = {"value": "You support the Acme help desk. Never promise refunds."}
        put = api.put(f"{base}/channels/terminal/preferences/system_prompt", json=prompt)
        assert put.status_code == 200, put.text
        bad = api.put(f"{base}/preferences/length", json={"value": "enormous"})
        assert bad.status_code == 422 and "choose one of" in bad.json()["detail"]
        assert api.put(f"{base}/preferences/colour", json={"value": "red"}).status_code == 422
        channels = api.get(f"{base}/channels").json()
        assert channels[0]["channel"] == "terminal" and "system_prompt" in channels[0]["preferences"]
    chat(admin.stack, "hello again")
    system = simulator.requests[-1].body["messages"][0]["content"]
    assert "You support the Acme help desk. Never promise refunds." in system
    assert "Always answer in French." in system
    with admin.api() as api:
        assert api.delete(f"/api/tenants/{tenant_id}/channels/terminal/preferences/system_prompt").status_code == 200
        assert api.delete(f"/api/tenants/{tenant_id}/channels/terminal/preferences/system_prompt").status_code == 404
        assert api.get(f"/api/tenants/{tenant_id}/channels/nowhere/preferences").status_code == 404
    chat(admin.stack, "and now?")
    assert "Acme help desk" not in simulator.requests[-1].body["messages"][0]["content"]


def test_access_rules_block_and_unblock(admin: Admin) -> None:
    chat(admin.stack, "hello", user="mallory")
    tenant_id = local_tenant(admin)
    rule = {"subject_type": "user", "subject": "mallory", "effect": "block"}
    with admin.api() as api:
        assert api.put(f"/api/tenants/{tenant_id}/access", json=rule).status_code == 200
        assert api.get(f"/api/tenants/{tenant_id}/access").json() == [rule]
    said = chat(admin.stack, "hello?", user="mallory")
    assert said.code == 1 and "blocked" in said.err
    assert chat(admin.stack, "hello", user="alice").code == 0
    with admin.api() as api:
        assert api.delete(f"/api/tenants/{tenant_id}/access/user/mallory").json() == {"removed": True}
        assert api.delete(f"/api/tenants/{tenant_id}/access/user/mallory").status_code == 404
        assert api.put(f"/api/tenants/{tenant_id}/access", json={**rule, "effect": "maybe"}).status_code == 422
    assert chat(admin.stack, "hello", user="mallory").code == 0


def test_limits_are_stored_and_shown(admin: Admin) -> None:
    tenant_id = admin.tenant("admin", "acme")
    with admin.api() as api:
        shown = api.get(f"/api/tenants/{tenant_id}/limits").json()
        assert shown == {
            "tenant_id": tenant_id,
            "user_requests_per_minute": None,
            "tenant_tokens_per_day": None,
            "weight": 1.0,
        }
        changed = api.put(f"/api/tenants/{tenant_id}/limits", json={"tenant_tokens_per_day": 50_000, "weight": 2})
        assert changed.json()["tenant_tokens_per_day"] == 50_000 and changed.json()["weight"] == 2.0
        # Only the fields sent change; null goes back to the default.
        changed = api.put(f"/api/tenants/{tenant_id}/limits", json={"user_requests_per_minute": 20})
        assert changed.json()["tenant_tokens_per_day"] == 50_000 and changed.json()["user_requests_per_minute"] == 20
        cleared = api.put(f"/api/tenants/{tenant_id}/limits", json={"tenant_tokens_per_day": None}).json()
        assert cleared["tenant_tokens_per_day"] is None and cleared["weight"] == 2.0
        assert api.put(f"/api/tenants/{tenant_id}/limits", json={"weight": -1}).status_code == 422


def test_usage_report_matches_what_was_generated(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "one two three four"
    for user, line in [("alice", "first"), ("alice", "second question"), ("bob", "third")]:
        assert chat(admin.stack, line, user=user, thread=user).code == 0
    with admin.stack.sessions() as session:
        prompt_by_user: dict[str, int] = {}
        for message, user in session.execute(
            select(Message, User.external_id).join(User).where(Message.role == "assistant")
        ):
            prompt_by_user[user] = prompt_by_user.get(user, 0) + message.prompt_tokens
    generated = [len(tokenize("one two three four"))] * 3
    with admin.api() as api:
        report = api.get("/api/usage").json()
    rows = {r["user"]: r for r in report["rows"]}
    assert rows["alice"]["requests"] == 2 and rows["bob"]["requests"] == 1
    assert rows["alice"]["completion_tokens"] == sum(generated[:2])
    assert rows["bob"]["completion_tokens"] == generated[2]
    assert {u: r["prompt_tokens"] for u, r in rows.items()} == prompt_by_user
    assert all(p > 0 for p in prompt_by_user.values())
    [total] = report["tenants"]
    assert total["requests"] == 3 and total["completion_tokens"] == sum(generated)
    assert total["total_tokens"] == sum(generated) + sum(prompt_by_user.values())
    day = rows["alice"]["day"]
    with admin.api() as api:
        assert api.get("/api/usage", params={"since": day, "until": day}).json()["tenants"] == [total]
        assert api.get("/api/usage", params={"until": "2000-01-01"}).json() == {"rows": [], "tenants": []}


def _export(admin: Admin, tenant_id: int, **params: str) -> list[dict[str, object]]:
    with admin.api() as api:
        response = api.get(f"/api/tenants/{tenant_id}/export", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.text.splitlines()]


def test_export_and_delete_a_persons_data(admin: Admin, simulator) -> None:
    chat(admin.stack, "my secret plan", user="alice", thread="a")
    chat(admin.stack, "/prefs set language German", user="alice", thread="a")
    chat(admin.stack, "bob's question", user="bob", thread="b")
    tenant_id = local_tenant(admin)
    alice = _export(admin, tenant_id, user="alice")
    assert [(r["role"], r["content"]) for r in alice][:2] == [
        ("user", "my secret plan"),
        ("assistant", "You said: my secret plan"),
    ]
    assert {r["user"] for r in alice} == {"alice"} and {r["thread"] for r in alice} == {"a"}
    everyone = _export(admin, tenant_id)
    assert {r["user"] for r in everyone} == {"alice", "bob"} and len(everyone) == len(alice) + 2

    with admin.api() as api:
        gone = api.delete(f"/api/tenants/{tenant_id}/users/alice").json()
        assert gone["messages"] == len(alice) and gone["conversations"] == 1 and gone["preferences"] == 1
        assert gone["events_scrubbed"] == 2
        assert api.delete(f"/api/tenants/{tenant_id}/users/alice").status_code == 404
        assert api.get(f"/api/tenants/{tenant_id}/export", params={"user": "alice"}).status_code == 404
        assert [u["user"] for u in api.get(f"/api/tenants/{tenant_id}/users").json()] == ["bob"]
        usage_rows = api.get("/api/usage").json()["rows"]
    assert {r["user"] for r in _export(admin, tenant_id)} == {"bob"}
    assert sorted(str(r["user"]) for r in usage_rows) == ["None", "bob"]  # tokens stay counted, unnamed
    with admin.stack.sessions() as session:
        stored = " ".join(str(p) for p in session.scalars(select(ProcessedEvent.payload)))
        assert "my secret plan" not in stored and "bob's question" in stored
        assert "secret plan" not in " ".join(session.scalars(select(Message.content)))
        assert session.scalars(select(Preference)).all() == []
        assert sorted(u.user_id is None for u in session.scalars(select(Usage))) == [False, True]


def test_a_tenant_key_never_sees_another_tenant(admin: Admin, simulator) -> None:
    acme, globex = admin.tenant("admin", "acme", "Acme"), admin.tenant("admin", "globex", "Globex")
    for tenant_id, name in ((acme, "acme-hook"), (globex, "globex-hook")):
        hook_id, secret = admin.hook(tenant_id, name=name)
        job = {"id": f"{name}-1", "skill": "ask", "input": f"secret of {name}"}
        job["destination"] = {"type": "callback", "url": "http://127.0.0.1:9/x"}
        assert signed_post(admin, hook_id, secret, job).status_code == 202
        wait_job(admin, tenant_id, f"{name}-1", until={"completed"})
    with admin.api() as api:
        foreign_hook = api.post("/api/webhooks", json={"url": "http://127.0.0.1:9/g", "tenant_id": globex}).json()
        api.put(f"/api/tenants/{globex}/access", json={"subject_type": "user", "subject": "x", "effect": "block"})
        api.put(f"/api/tenants/{globex}/channels/hook-globex-hook/preferences/persona", json={"value": "a pirate"})
        deliveries = api.get("/api/deliveries").json()
    foreign_delivery = next(d for d in deliveries if "globex" in json.dumps(d["payload"]))
    acme_key = admin.key_for(acme)
    admin.key_for(globex, name="globex-key")
    g = f"/api/tenants/{globex}"
    refused = [
        ("GET", g, None),
        ("PATCH", g, {"name": "mine now"}),
        ("GET", f"{g}/preferences", None),
        ("PUT", f"{g}/preferences/language", {"value": "French"}),
        ("GET", f"{g}/channels", None),
        ("GET", f"{g}/channels/hook-globex-hook/preferences", None),
        ("GET", f"{g}/access", None),
        ("PUT", f"{g}/access", {"subject_type": "user", "subject": "y", "effect": "allow"}),
        ("DELETE", f"{g}/access/user/x", None),
        ("GET", f"{g}/limits", None),
        ("GET", f"{g}/users", None),
        ("GET", f"{g}/export", None),
        ("DELETE", f"{g}/users/hook-globex-hook", None),
        ("GET", f"/api/usage?tenant_id={globex}", None),
        ("GET", f"{g}/hooks", None),
        ("POST", f"{g}/hooks", {"name": "sneaky"}),
        ("GET", f"{g}/jobs", None),
        ("GET", f"{g}/jobs/globex-hook-1", None),
        ("GET", f"/api/webhooks/{foreign_hook['id']}/deliveries", None),
        ("DELETE", f"/api/webhooks/{foreign_hook['id']}", None),
        ("POST", f"/api/deliveries/{foreign_delivery['id']}/retry", None),
        ("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/x", "tenant_id": globex}),
    ]
    with admin.api(acme_key) as api:
        for method, path, body in refused:
            response = api.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
        lists = {
            "tenants": api.get("/api/tenants").json(),
            "usage": api.get("/api/usage").json(),
            "webhooks": api.get("/api/webhooks").json(),
            "deliveries": api.get("/api/deliveries").json(),
            "notices": api.get("/api/notices").json(),
            "keys": api.get("/api/keys").json(),
            "jobs": api.get(f"/api/tenants/{acme}/jobs").json(),
        }
    with admin.client() as browser:
        browser.cookies.set("llmos_admin", acme_key)
        lists["panel"] = browser.get("/dashboard/panel").text
    seen = json.dumps(lists).lower()
    assert "globex" not in seen and "acme" in seen
    assert {t["id"] for t in lists["tenants"]} == {acme}
    assert {r["tenant_id"] for r in lists["usage"]["rows"]} == {acme}
    assert all(n["tenant_id"] in {acme, None} for n in lists["notices"])
    with admin.stack.sessions() as session:
        assert len(session.scalars(select(Job)).all()) == 2
