"""Knowledge: full-text retrieval that finds the right passage, channel and tenant boundaries, list and forget."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import delete, func, select, text

from bots.terminal import TerminalChat, read_files
from db import directory, knowledge
from db.models import KnowledgeChunk, KnowledgeDocument, Tenant
from tests.helpers import chat, settle
from tests.workers.knowledge_set import DOCUMENTS, QUESTIONS
from tests.workers.test_tools import ask_as
from workers.documents.learning import learn_text
from workers.events import Kind
from workers.requests import parse
from workers.stack import Stack

TOP = 5


def place(stack: Stack, *, tenant: str, channel: str | None) -> tuple[int, int | None]:
    """The row ids of a terminal tenant and channel (created as the terminal surface would)."""
    with stack.sessions.begin() as session:
        row = directory.tenant(session, platform="terminal", external_id=tenant)
        session.flush()
        if channel is None:
            return row.id, None
        found = directory.channel(session, tenant_id=row.id, external_id=channel)
        session.flush()
        return row.id, found.id


def learn(stack: Stack, *, tenant: str, channel: str | None, name: str, text: str) -> None:
    tenant_id, channel_id = place(stack, tenant=tenant, channel=channel)
    with stack.sessions.begin() as session:
        learn_text(session, tenant_id=tenant_id, channel_id=channel_id, name=name, text=text)


def last_prompt(simulator) -> str:
    return str(simulator.requests[-1].body["messages"][-1]["content"])


def test_the_parser_knows_the_knowledge_commands() -> None:
    assert parse("/learn").kind is Kind.LEARN
    assert parse("/knowledge").args == {}
    assert parse("/knowledge forget staff handbook.docx").args == {"action": "forget", "name": "staff handbook.docx"}
    assert parse("/knowledge FORGET").args == {"action": "forget"}


def test_full_text_retrieval_finds_the_answering_passage_in_the_top_five(clean_stack: Stack) -> None:
    for name, body in DOCUMENTS.items():
        learn(clean_stack, tenant="school", channel="staff", name=name, text=body)
    # Another channel's and another tenant's documents say the same things in other words; never found here.
    learn(clean_stack, tenant="school", channel="pupils", name="pupil-guide.md", text=DOCUMENTS["it-guide.pdf"])
    learn(clean_stack, tenant="rival", channel="staff", name="theirs.md", text=DOCUMENTS["safety-policy.pdf"])
    tenant_id, channel_id = place(clean_stack, tenant="school", channel="staff")
    hits = firsts = 0
    with clean_stack.sessions() as session:
        chunks = session.scalar(
            select(func.count()).select_from(KnowledgeChunk).where(KnowledgeChunk.channel_id == channel_id)
        )
        for question, phrase in QUESTIONS:
            found = knowledge.search(session, tenant_id=tenant_id, channel_id=channel_id, question=question, limit=TOP)
            assert {f.document for f in found} <= set(DOCUMENTS)
            hits += any(phrase in f.content for f in found)
            firsts += bool(found) and phrase in found[0].content
    rate = hits / len(QUESTIONS)
    backend = clean_stack.sessions.kw["bind"].dialect.name
    print(
        f"\nretrieval check ({backend}): {hits}/{len(QUESTIONS)} = {rate:.0%} in the top {TOP} of {chunks} passages "
        f"({firsts} ranked first)"
    )
    assert len(QUESTIONS) == 30 and chunks is not None and chunks > 3 * TOP
    assert rate >= 0.9


def learn_in_terminal(stack: Stack, file: Path, text: str) -> str:
    """`/learn` with `file` (holding `text`) attached, in the terminal as user ana; returns the reply."""
    file.write_text(text)
    attachments, _ = read_files([file])
    out = io.StringIO()
    terminal = TerminalChat(
        sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, user="ana", thread="k",
        out=out, attachments=attachments,
    )  # fmt: skip
    assert terminal.ask("/learn") == 0
    settle(stack)
    return out.getvalue()


def test_a_channels_knowledge_stays_in_its_channel_and_tenant(clean_stack: Stack, simulator, tmp_path: Path) -> None:
    said = learn_in_terminal(clean_stack, tmp_path / "policy.md", "The secret door code of the staff room is 4711.")
    assert said.startswith("Added to this channel's knowledge:\n• policy.md: 1 passage(s)")

    chat(clean_stack, "What is the door code of the staff room?")
    assert "[1] (policy.md)\nThe secret door code of the staff room is 4711." in last_prompt(simulator)
    ask_as(clean_stack, "What is the door code of the staff room?", user="ana", channel="elsewhere")
    assert "4711" not in last_prompt(simulator)
    ask_as(clean_stack, "What is the door code of the staff room?", user="ana", channel="terminal", tenant="other")
    assert "4711" not in last_prompt(simulator)

    # A tenant-level document reaches every channel of its tenant, and no other tenant.
    learn(clean_stack, tenant="local", channel=None, name="rules.md", text="The staff room closes at 18:00.")
    ask_as(clean_stack, "When does the staff room close?", user="ana", channel="elsewhere")
    assert "[1] (rules.md)" in last_prompt(simulator)
    ask_as(clean_stack, "When does the staff room close?", user="ana", channel="terminal", tenant="other")
    assert "18:00" not in last_prompt(simulator)

    listed = chat(clean_stack, "/knowledge").out
    assert "• policy.md (47 characters, this channel)\n• rules.md (31 characters, the whole workspace)" in listed
    # A channel forgets its own documents, not its tenant's.
    assert "no document called 'rules.md'" in chat(clean_stack, "/knowledge forget rules.md").out
    assert chat(clean_stack, "/knowledge forget policy.md").out.startswith("Done: policy.md is no longer")
    with clean_stack.sessions() as session:
        assert [d.name for d in session.scalars(select(KnowledgeDocument))] == ["rules.md"]
        tenant_id, channel_id = place(clean_stack, tenant="local", channel="terminal")
        assert knowledge.search(session, tenant_id=tenant_id, channel_id=channel_id, question="door code") == []
    chat(clean_stack, "What is the door code of the staff room?")
    assert "4711" not in last_prompt(simulator)


def test_learn_without_files_says_how(clean_stack: Stack) -> None:
    said = chat(clean_stack, "/learn").out
    assert said.startswith("Usage: send /learn with the files to learn attached")
    assert chat(clean_stack, "/knowledge").out.startswith("This channel has no documents yet.")
    assert chat(clean_stack, "/knowledge drop x").out.startswith("Usage: /knowledge lists")


def test_knowledge_goes_with_its_tenant(clean_stack: Stack) -> None:
    learn(clean_stack, tenant="gone", channel="c", name="a.md", text="The vault code is 9921.")
    learn(clean_stack, tenant="gone", channel=None, name="b.md", text="The vault is in the basement.")
    learn(clean_stack, tenant="kept", channel="c", name="a.md", text="The vault code is 1234.")
    gone_id, _ = place(clean_stack, tenant="gone", channel="c")
    kept_id, kept_channel = place(clean_stack, tenant="kept", channel="c")
    with clean_stack.sessions.begin() as session:
        session.execute(delete(Tenant).where(Tenant.id == gone_id))
    with clean_stack.sessions() as session:
        assert session.scalars(select(KnowledgeChunk.tenant_id).distinct()).all() == [kept_id]
        found = knowledge.search(session, tenant_id=kept_id, channel_id=kept_channel, question="vault code")
        assert [f.content for f in found] == ["The vault code is 1234."]
        if session.get_bind().dialect.name == "sqlite":
            # The full-text index lost the deleted passages too, not only the table.
            indexed = session.execute(text("SELECT count(*) FROM knowledge_fts WHERE knowledge_fts MATCH 'vault'"))
            assert indexed.scalar() == 1
