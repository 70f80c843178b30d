"""Knowledge and files over the admin API: documents for a tenant or a channel, jobs with files, key scoping."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.terminal import TerminalChat, read_files
from db import vectors
from db.models import KnowledgeChunk
from engine.embeddings import Embedder
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.bots.admin.test_admin_api import local_tenant
from tests.bots.admin.test_webchat import browser, events
from tests.fixtures import documents
from tests.helpers import chat, settle
from tests.workers.test_tools import ask_as


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_documents_added_for_a_tenant_or_a_channel_are_listed_retrieved_and_removed(admin: Admin, simulator) -> None:
    chat(admin.stack, "hello")
    tenant_id = local_tenant(admin)
    handbook = documents.pdf(["Holidays. Staff have 28 days of annual leave.", "Parking is behind the gym."])
    base = f"/api/tenants/{tenant_id}/knowledge"
    with admin.api() as api:
        added = api.post(base, json={"file": {"name": "handbook.pdf", "content": b64(handbook)}})
        assert added.status_code == 201, added.text
        assert added.json() == {
            "name": "handbook.pdf", "channel": None, "passages": 1, "replaced": False, "vectors": None, "notes": []
        }  # fmt: skip
        sheet = documents.xlsx({"Rota": [["Monday", "Ana"], ["Tuesday", "Ben"]]})
        rota = api.post(base, json={"file": {"name": "rota.xlsx", "content": b64(sheet)}, "channel": "terminal"})
        assert rota.status_code == 201 and rota.json()["channel"] == "terminal"
        listed = api.get(base).json()
        assert [(d["name"], d["channel"]) for d in listed] == [("handbook.pdf", None), ("rota.xlsx", "terminal")]
        assert [d["name"] for d in api.get(base, params={"channel": "terminal"}).json()] == [
            "rota.xlsx",
            "handbook.pdf",
        ]
        assert api.get(base, params={"channel": "nowhere"}).status_code == 404

        bad = api.post(base, json={"file": {"name": "x.pdf", "content": "not base64!"}})
        assert bad.status_code == 422 and bad.json()["detail"] == "The content of x.pdf is not valid base64."
        both = api.post(base, json={"file": {"name": "x.pdf", "content": "", "url": "https://example.com/x.pdf"}})
        assert both.status_code == 422
        down = api.post(base, json={"file": {"name": "x.pdf", "url": "http://127.0.0.1:9/x.pdf"}})
        assert down.status_code == 422 and down.json()["detail"] == "I could not fetch x.pdf: ConnectError."
        unreadable = api.post(base, json={"file": {"name": "x.zip", "content": b64(b"PK")}})
        assert unreadable.json()["detail"].startswith("I can't read x.zip")

    ask_as(admin.stack, "How many days of annual leave do staff have?", user="ana", channel="elsewhere")
    assert "[1] (handbook.pdf)" in simulator.requests[-1].body["messages"][-1]["content"]
    ask_as(admin.stack, "Who is on the rota on Tuesday?", user="ana", channel="elsewhere")
    assert "rota.xlsx" not in simulator.requests[-1].body["messages"][-1]["content"]
    chat(admin.stack, "Who is on the rota on Tuesday?")
    assert "(rota.xlsx)" in simulator.requests[-1].body["messages"][-1]["content"]

    with admin.api() as api:
        assert api.delete(f"{base}/handbook.pdf").json() == {"removed": "handbook.pdf", "channel": None}
        assert api.delete(f"{base}/handbook.pdf").status_code == 404
        assert api.delete(f"{base}/rota.xlsx").status_code == 404  # it is the channel's
        assert api.delete(f"{base}/rota.xlsx", params={"channel": "terminal"}).status_code == 200
        assert api.get(base).json() == []


def test_with_an_embeddings_endpoint_a_document_added_over_the_api_gets_vectors(
    admin: Admin, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id = admin.tenant("admin", "acme")
    base = f"/api/tenants/{tenant_id}/knowledge"
    note = {"file": {"name": "n.md", "content": b64(b"Visitors must park behind the gym.")}}
    embedder = Embedder(url=simulator.url, pause=0.0)
    monkeypatch.setattr(admin.service.services, "embedder", embedder)
    try:
        with admin.api() as api:
            assert api.post(base, json=note).json()["vectors"] is True
            simulator.config.embeddings = "unavailable"
            # The document is still added, searchable by its words; the answer says it has no vectors.
            again = api.post(base, json=note)
            assert again.status_code == 201 and again.json()["vectors"] is False and again.json()["replaced"]
    finally:
        embedder.close()
    with admin.stack.sessions() as session:
        assert vectors.count(session, tenant_id=tenant_id) == 0
        assert session.scalar(select(func.count()).select_from(KnowledgeChunk)) == 1


class OneFile(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        found = self.path == "/minutes.docx"
        self.send_response(200 if found else 404)
        self.end_headers()
        self.wfile.write(self.body if found else b"")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[str]:
    OneFile.body = documents.docx(["The board meets on the first Monday of each month."])
    server = ThreadingHTTPServer(("127.0.0.1", 0), OneFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_document_is_fetched_from_its_url_only_where_allowed(
    admin: Admin, file_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id = admin.tenant("admin", "acme")
    base = f"/api/tenants/{tenant_id}/knowledge"
    with admin.api() as api:
        fetched = api.post(base, json={"file": {"name": "minutes.docx", "url": f"{file_server}/minutes.docx"}})
        assert fetched.status_code == 201 and fetched.json()["passages"] == 1
        missing = api.post(base, json={"file": {"name": "gone.docx", "url": f"{file_server}/gone.docx"}})
        assert missing.json()["detail"] == "I could not fetch gone.docx: the server answered HTTP 404."
        # By default (ADMIN_ALLOW_PRIVATE_URLS unset) a private address is never fetched.
        monkeypatch.setattr(admin.service.services.settings, "allow_private_urls", False)
        private = api.post(base, json={"file": {"name": "minutes.docx", "url": f"{file_server}/minutes.docx"}})
        assert private.status_code == 422 and private.json()["detail"].startswith("I did not fetch minutes.docx:")
        assert [d["name"] for d in api.get(base).json()] == ["minutes.docx"]


def test_a_tenant_key_reaches_only_its_own_knowledge(admin: Admin) -> None:
    mine, theirs = admin.tenant("admin", "mine"), admin.tenant("admin", "theirs")
    note = {"file": {"name": "n.md", "content": b64(b"Our secret recipe uses saffron.")}}
    with admin.api() as api:
        assert api.post(f"/api/tenants/{theirs}/knowledge", json=note).status_code == 201
    with admin.api(admin.key_for(mine)) as api:
        assert api.post(f"/api/tenants/{mine}/knowledge", json=note).status_code == 201
        assert api.get(f"/api/tenants/{theirs}/knowledge").status_code == 404
        assert api.post(f"/api/tenants/{theirs}/knowledge", json=note).status_code == 404
        assert api.delete(f"/api/tenants/{theirs}/knowledge/n.md").status_code == 404
        assert [d["name"] for d in api.get(f"/api/tenants/{mine}/knowledge").json()] == ["n.md"]
    with admin.api() as api:
        assert [d["name"] for d in api.get(f"/api/tenants/{theirs}/knowledge").json()] == ["n.md"]


def test_a_job_reads_its_files(admin: Admin, simulator) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    deck = documents.pptx([("Quarter", "Sales grew by 12 percent."), ("Next", "Open two shops.")])
    job = {
        "id": "deck-1",
        "skill": "ask",
        "input": "What grew?",
        "files": [{"name": "deck.pptx", "content": b64(deck)}],
        "destination": {"type": "callback", "url": "https://example.com/hook"},
    }
    taken = signed_post(admin, hook_id, secret, job)
    assert taken.status_code == 202, taken.text
    wait_job(admin, tenant_id, "deck-1", until={"done", "failed"})
    asked = simulator.requests[-1].body["messages"][-1]["content"]
    slides = "[slide 1]\nQuarter\nSales grew by 12 percent.\n\n[slide 2]\nNext\nOpen two shops."
    assert asked == f"What grew?\n\n[file deck.pptx]\n{slides}"
    broken = {**job, "id": "deck-2", "files": [{"name": "deck.pptx", "content": b64(b"not a deck")}]}
    refused = signed_post(admin, hook_id, secret, broken)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"].startswith("I could not read deck.pptx")


def test_the_web_chat_uploads_documents_to_a_question_and_to_learn(admin: Admin, simulator) -> None:
    sheet = documents.xlsx({"Menu": [["Monday", "soup"], ["Friday", "fish"]]})
    attached = {"name": "menu.xlsx", "content": b64(sheet)}
    with browser(admin.url) as alice:
        sent = alice.post("/chat/messages", json={"text": "What is on Friday?", "thread": "t", "files": [attached]})
        assert sent.status_code == 202 and sent.json()["notes"] == []
        events(alice, sent.json()["stream"])
        asked = simulator.requests[-1].body["messages"][-1]["content"]
        assert asked == "What is on Friday?\n\n[file menu.xlsx]\n[sheet Menu]\nMonday | soup\nFriday | fish"

        learned = alice.post("/chat/messages", json={"text": "/learn", "thread": "t", "files": [attached]})
        done = events(alice, learned.json()["stream"])
        assert "Added to this channel's knowledge:\n• menu.xlsx" in str(done[-1][1]["text"])
        broken = {"name": "menu.xlsx", "content": b64(b"not a workbook")}
        refused = alice.post("/chat/messages", json={"text": "and now?", "thread": "t", "files": [broken]})
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith("I could not read menu.xlsx")


def test_deleting_a_person_keeps_the_channels_documents_without_their_name(
    admin: Admin, simulator, tmp_path: Path
) -> None:
    (tmp_path / "faq.md").write_text("The library opens at nine.")
    attachments, _ = read_files([tmp_path / "faq.md"])
    TerminalChat(
        sessions=admin.stack.sessions, bus=admin.stack.bus, enqueue=admin.stack.enqueue, user="alice",
        out=io.StringIO(), attachments=attachments,
    ).ask("/learn")  # fmt: skip
    settle(admin.stack)
    tenant_id = local_tenant(admin)
    with admin.api() as api:
        assert [d["added_by"] for d in api.get(f"/api/tenants/{tenant_id}/knowledge").json()] == ["alice"]
        assert api.delete(f"/api/tenants/{tenant_id}/users/alice").status_code == 200
        assert [(d["name"], d["added_by"]) for d in api.get(f"/api/tenants/{tenant_id}/knowledge").json()] == [
            ("faq.md", "")
        ]
