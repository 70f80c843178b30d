"""`llmos export`: a tenant's data as JSON Lines with a sha256 manifest, byte-identical when nothing changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bots import cli
from db import feedback
from db.models import Message
from tests.helpers import chat
from tests.workers.test_knowledge import learn
from workers.stack import Stack


def export(stack: Stack, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("DATABASE_URL", stack.settings.resolved_database_url)
    monkeypatch.setenv("LLMOS_HOME", str(out.parent))
    assert cli.main(["export", "--tenant", "terminal:local", "--out", str(out)]) == 0
    return capsys.readouterr().out


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_export_writes_every_kind_with_a_manifest_and_only_changes_what_changed(
    clean_stack: Stack, simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chat(clean_stack, "What is the capital of France?")
    chat(clean_stack, "/remember I live in Lyon")
    learn(clean_stack, tenant="local", channel="terminal", name="faq.md", text="Opening hours: 9 to 5.")
    chat(clean_stack, "hello", user="bob", thread="other")
    learn(clean_stack, tenant="rival", channel="terminal", name="theirs.md", text="Not to be exported.")
    with clean_stack.sessions.begin() as session:  # alice found the first answer helpful
        answer = session.scalars(select(Message).where(Message.role == "assistant").order_by(Message.id)).first()
        assert answer is not None
        feedback.record(session, answer=answer, user_id=answer.user_id, rating=1, comment="spot on")
    out = tmp_path / "export"
    export(clean_stack, out, monkeypatch, capsys)
    first = contents(out)
    assert sorted(first) == [
        "conversations.jsonl",
        "feedback.jsonl",
        "knowledge.jsonl",
        "manifest.json",
        "memories.jsonl",
        "usage.jsonl",
    ]
    manifest = json.loads(first["manifest.json"])
    assert manifest["tenant"]["platform"] == "terminal" and manifest["tenant"]["external_id"] == "local"
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(first[name]).hexdigest() == entry["sha256"]
    records = {name: [json.loads(x) for x in first[name].splitlines()] for name in first if name.endswith(".jsonl")}
    assert [r["content"] for r in records["conversations.jsonl"] if r["role"] == "user"] == [
        "What is the capital of France?",
        "I live in Lyon",
        "hello",
    ]
    assert [(r["name"], r["channel"], r["passages"]) for r in records["knowledge.jsonl"]] == [
        ("faq.md", "terminal", ["Opening hours: 9 to 5."])
    ]
    assert [r["memory"] for r in records["memories.jsonl"]] == ["I live in Lyon"]
    assert [(r["feedback"], r["comment"]) for r in records["feedback.jsonl"]] == [("up", "spot on")]
    assert sorted(r["user"] for r in records["usage.jsonl"]) == ["alice", "bob"]
    assert "Not to be exported" not in first["knowledge.jsonl"].decode()

    said = export(clean_stack, out, monkeypatch, capsys)
    assert contents(out) == first
    assert said.count("(unchanged)") == 6 and "(written)" not in said

    chat(clean_stack, "/remember I cycle to work")
    said = export(clean_stack, out, monkeypatch, capsys)
    now = contents(out)
    changed = {name for name in now if now[name] != first[name]}
    assert changed == {"memories.jsonl", "manifest.json", "conversations.jsonl"}
    assert "usage.jsonl: 2 record(s)" in said and f"{out / 'usage.jsonl'}" in said


def test_an_unknown_tenant_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert cli.main(["export", "--tenant", "slack:T404", "--out", str(tmp_path / "x")]) == 2
    assert "--tenant: no tenant 'slack:T404'" in capsys.readouterr().err
    assert cli.main(["export", "--tenant", "nonsense", "--out", str(tmp_path / "x")]) == 2
