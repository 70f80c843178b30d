"""The admin API for tools (switched off per tenant) and for memories (exported and deleted with a person)."""

from __future__ import annotations

import json

from sqlalchemy import select

from db.models import Memory
from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_admin_api import local_tenant
from tests.bots.admin.test_webchat import browser, events
from tests.helpers import chat
from tests.workers.toolscript import call_once, offered, use


def test_tools_switched_off_for_a_tenant_are_not_offered(admin: Admin, simulator) -> None:
    chat(admin.stack, "hello")
    tenant_id = local_tenant(admin)
    with admin.api() as api:
        base = f"/api/tenants/{tenant_id}/tools"
        assert api.get(base).json() == {
            "builtin": ["current_time", "calculate", "search_conversations", "remember"],
            "off": [],
        }
        put = api.put(base, json={"off": ["calculate", "wh__*"]})
        assert put.status_code == 200 and put.json()["off"] == ["calculate", "wh__*"]
        assert api.put(base, json={"off": ["no spaces please"]}).status_code == 422
        assert api.put(base, json={"everything": True}).status_code == 422
    chat(admin.stack, "hello again")
    names = offered(simulator.requests[-1].body)
    assert "calculate" not in names and "current_time" in names
    with admin.api() as api:
        assert api.put(f"/api/tenants/{tenant_id}/tools", json={"off": []}).json()["off"] == []
    chat(admin.stack, "and now")
    assert "calculate" in offered(simulator.requests[-1].body)


def test_memories_are_exported_and_deleted_with_the_person(admin: Admin) -> None:
    chat(admin.stack, "/remember I am allergic to nuts", user="alice", thread="a")
    chat(admin.stack, "/remember I like jazz", user="bob", thread="b")
    tenant_id = local_tenant(admin)
    with admin.api() as api:
        lines = api.get(f"/api/tenants/{tenant_id}/export", params={"user": "alice"}).text.splitlines()
        records = [json.loads(line) for line in lines]
        memories = [r for r in records if "memory" in r]
        assert [(m["memory"], m["user"]) for m in memories] == [("I am allergic to nuts", "alice")]
        everyone = [json.loads(line) for line in api.get(f"/api/tenants/{tenant_id}/export").text.splitlines()]
        assert sorted(r["memory"] for r in everyone if "memory" in r) == ["I am allergic to nuts", "I like jazz"]
        gone = api.delete(f"/api/tenants/{tenant_id}/users/alice").json()
    assert gone["memories"] == 1
    with admin.stack.sessions() as session:
        assert session.scalars(select(Memory.content)).all() == ["I like jazz"]


def test_the_web_chat_streams_the_tool_progress(admin: Admin, simulator) -> None:
    use(simulator, call_once("calculate", expression="6 * 7"))
    with browser(admin.url) as alice:
        sent = alice.post("/chat/messages", json={"text": "six times seven?", "thread": "t"})
        got = events(alice, sent.json()["stream"])
    assert ("status", {"type": "status", "text": "Using the calculator…"}) in got
    assert got[-1] == ("done", {"type": "done", "text": "The tool said: 6 * 7 = 42"})
