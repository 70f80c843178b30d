"""Hybrid retrieval: vectors from the simulator's `/v1/embeddings` beside full-text search, on both backends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from db import knowledge, vectors
from db.events import Status
from db.knowledge import Found
from db.models import KnowledgeChunk, KnowledgeVector, ProcessedEvent, Tenant
from engine.embeddings import Embedder
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.conftest import make_scheduling, make_settings
from tests.helpers import chat
from tests.workers.knowledge_set import DOCUMENTS, QUESTIONS
from tests.workers.test_knowledge import last_prompt, learn_in_terminal, place
from tests.workers.test_tools import ask_as
from workers.documents.learning import NO_VECTORS, learn_text, probe
from workers.engines import open_embedder
from workers.settings import SettingsError
from workers.stack import Stack

# The simulator maps these words to one dimension each, as an embedding model puts synonyms close.
SYNONYMS = {"automobile": "car", "vehicle": "car", "guest": "visitor", "leave": "park"}
PARKING = "Visitors must park the automobile behind the gym."
QUESTION = "Where does a guest leave a car?"
FILLER = (
    "The cafeteria serves lunch at noon.",
    "Lockers are assigned in September.",
    "The library opens at eight.",
)


@pytest.fixture
def embedder(simulator: SimulatedEngine) -> Iterator[Embedder]:
    simulator.config = SimulatorConfig(synonyms=SYNONYMS)
    client = Embedder(url=simulator.url, timeout=5.0)
    yield client
    client.close()


@pytest.fixture
def hybrid(clean_stack: Stack, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The shared stack whose worker embeds questions (as EMBEDDING_URL makes `llmos run` do)."""
    assert clean_stack.runtime is not None
    monkeypatch.setattr(clean_stack.runtime, "embedder", embedder)
    return clean_stack


def learn(
    stack: Stack, embedder: Embedder | None, *, tenant: str, channel: str | None, name: str, text: str
) -> tuple[int, int | None]:
    tenant_id, channel_id = place(stack, tenant=tenant, channel=channel)
    with stack.sessions.begin() as session:
        learn_text(session, tenant_id=tenant_id, channel_id=channel_id, name=name, text=text, embedder=embedder)
    return tenant_id, channel_id


def search(stack: Stack, embedder: Embedder | None, tenant_id: int, channel_id: int | None, q: str) -> list[Found]:
    with stack.sessions() as session:
        asked = probe(embedder, q)
        return knowledge.search(session, tenant_id=tenant_id, channel_id=channel_id, question=q, probe=asked)


def test_learning_stores_one_vector_per_passage(clean_stack: Stack, embedder: Embedder, simulator) -> None:
    tenant_id, _ = learn(
        clean_stack, embedder, tenant="school", channel="staff", name="it.pdf", text=DOCUMENTS["it-guide.pdf"]
    )
    with clean_stack.sessions() as session:
        chunks = session.scalars(select(KnowledgeChunk).order_by(KnowledgeChunk.position)).all()
        stored = {v.chunk_id: v for v in session.scalars(select(KnowledgeVector))}
    assert len(chunks) > 1 and set(stored) == {c.id for c in chunks}
    assert simulator.embedded == [c.content for c in chunks]
    for chunk in chunks:
        row = stored[chunk.id]
        assert (row.tenant_id, row.channel_id, row.model, row.dims) == (tenant_id, chunk.channel_id, "sim-model", 256)
        values = vectors.unpack(row.vector)
        assert len(values) == 256 and abs(sum(x * x for x in values) - 1.0) < 1e-5


def test_a_question_in_other_words_finds_its_passage_only_with_vectors(clean_stack: Stack, embedder: Embedder) -> None:
    for n, text in enumerate(FILLER):
        learn(clean_stack, embedder, tenant="school", channel="staff", name=f"filler{n}.md", text=text)
    tenant_id, channel_id = learn(
        clean_stack, embedder, tenant="school", channel="staff", name="parking.md", text=PARKING
    )
    assert search(clean_stack, None, tenant_id, channel_id, QUESTION) == []
    found = search(clean_stack, embedder, tenant_id, channel_id, QUESTION)
    assert [f.document for f in found] == ["parking.md"]
    # Words the question shares with a passage still count: full text and vectors agree, and it ranks first.
    both = search(clean_stack, embedder, tenant_id, channel_id, "When does the cafeteria serve lunch?")
    assert both[0].content == FILLER[0]


def test_a_hybrid_answer_puts_the_passage_in_the_prompt(hybrid: Stack, embedder: Embedder, simulator) -> None:
    learn(hybrid, embedder, tenant="local", channel="terminal", name="parking.md", text=PARKING)
    chat(hybrid, QUESTION)
    assert f"[1] (parking.md)\n{PARKING}" in last_prompt(simulator)
    assert simulator.embedded[-1] == QUESTION


def test_the_question_is_embedded_after_the_claim_is_committed(
    hybrid: Stack, embedder: Embedder, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow embeddings endpoint must not hold the claim's transaction (and its row lock) open."""
    learn(hybrid, embedder, tenant="local", channel="terminal", name="parking.md", text=PARKING)
    seen: list[tuple[str, ...]] = []
    embed = embedder.embed

    def watching(texts: list[str]) -> list[list[float]]:
        if texts == [QUESTION]:
            # Another connection's view of the ledger while the question is embedded.
            with hybrid.sessions() as session:
                seen.append(tuple(session.scalars(select(ProcessedEvent.status).where(ProcessedEvent.kind == "ask"))))
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", watching)
    chat(hybrid, QUESTION)
    assert seen == [(Status.RUNNING,)], "the claim was committed before the embeddings endpoint was asked"
    assert f"[1] (parking.md)\n{PARKING}" in last_prompt(simulator)


def test_embeddings_down_full_text_still_answers_and_a_warning_is_logged(
    hybrid: Stack, simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.config.embeddings = "unavailable"
    with caplog.at_level(logging.WARNING, logger="engine.embeddings"):
        said = learn_in_terminal(hybrid, tmp_path / "policy.md", "The secret door code of the staff room is 4711.")
    assert "• policy.md: 1 passage(s)" in said and NO_VECTORS in said
    assert any("embeddings at" in r.getMessage() and "full text only" in r.getMessage() for r in caplog.records)
    with hybrid.sessions() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeVector)) == 0

    said = chat(hybrid, "What is the door code of the staff room?")
    assert said.code == 0, said.err
    assert "[1] (policy.md)\nThe secret door code of the staff room is 4711." in last_prompt(simulator)


def test_the_endpoint_is_rested_after_a_failure(simulator) -> None:
    simulator.config = SimulatorConfig(embeddings="unavailable")
    resting = Embedder(url=simulator.url, pause=60.0)
    eager = Embedder(url=simulator.url, pause=0.0)
    try:
        assert resting.embed(["one"]) is None and eager.embed(["one"]) is None
        simulator.config.embeddings = "ok"
        assert resting.embed(["two"]) is None  # not asked again within its pause
        assert eager.embed(["two"]) is not None
        assert simulator.embedded == ["two"]
    finally:
        resting.close()
        eager.close()


def test_a_refused_input_does_not_rest_the_endpoint(simulator, caplog: pytest.LogCaptureFixture) -> None:
    simulator.config = SimulatorConfig(embedding_max_tokens=300)
    client = Embedder(url=simulator.url, pause=60.0)
    try:
        with caplog.at_level(logging.WARNING, logger="engine.embeddings"):
            assert client.embed(["word " * 400]) is None
        assert "refused 1 input(s)" in caplog.text
        assert client.embed(["short"]) is not None
        # A long question is embedded by its first part, within the model's limit.
        asked = probe(client, "Where do visitors park? " + "Some more context. " * 200)
        assert asked is not None and simulator.embedded[-1].startswith("Where do visitors park?")
    finally:
        client.close()


def test_a_malformed_or_unknown_model_answer_is_no_vectors(simulator, caplog: pytest.LogCaptureFixture) -> None:
    wrong = Embedder(url=simulator.url + "/v1/", model="no-such-model", pause=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="engine.embeddings"):
            assert wrong.embed(["x"]) is None
        assert "HTTPStatusError" in caplog.text
    finally:
        wrong.close()


def test_forgetting_a_document_removes_its_vectors(hybrid: Stack, embedder: Embedder) -> None:
    learn(hybrid, embedder, tenant="local", channel="terminal", name="parking.md", text=PARKING)
    tenant_id, channel_id = learn(hybrid, embedder, tenant="local", channel="terminal", name="lunch.md", text=FILLER[0])
    with hybrid.sessions() as session:
        assert vectors.count(session, tenant_id=tenant_id) == 2
    assert chat(hybrid, "/knowledge forget parking.md").out.startswith("Done: parking.md")
    with hybrid.sessions() as session:
        kept = session.scalars(select(KnowledgeVector.chunk_id)).all()
        assert kept == session.scalars(select(KnowledgeChunk.id)).all() and len(kept) == 1
    assert search(hybrid, embedder, tenant_id, channel_id, QUESTION) == []
    # Learning a document of the same name again replaces its vectors too.
    learn(hybrid, embedder, tenant="local", channel="terminal", name="lunch.md", text=FILLER[1])
    with hybrid.sessions.begin() as session:
        assert vectors.count(session, tenant_id=tenant_id) == 1
        session.execute(delete(Tenant).where(Tenant.id == tenant_id))
    with hybrid.sessions() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeVector)) == 0


def test_vector_search_keeps_tenant_and_channel_boundaries(hybrid: Stack, embedder: Embedder, simulator) -> None:
    # The same passage, learned in another channel and for another whole tenant: never found from here.
    learn(hybrid, embedder, tenant="local", channel="elsewhere", name="theirs.md", text=PARKING)
    learn(hybrid, embedder, tenant="rival", channel=None, name="rival.md", text=PARKING)
    tenant_id, channel_id = learn(hybrid, embedder, tenant="local", channel="terminal", name="lunch.md", text=FILLER[0])
    assert search(hybrid, embedder, tenant_id, channel_id, QUESTION) == []
    with hybrid.sessions() as session:
        asked = probe(embedder, QUESTION, floor=-1.0)
        assert asked is not None
        # Even the vector scan itself (before passages are read) sees only this channel's one passage.
        near = vectors.nearest(session, tenant_id=tenant_id, channel_id=channel_id, probe=asked, limit=10)
        own = session.scalars(select(KnowledgeChunk.id).where(KnowledgeChunk.channel_id == channel_id)).all()
        assert [chunk_id for chunk_id, _ in near] == list(own)
    chat(hybrid, QUESTION)
    assert PARKING not in last_prompt(simulator)
    # At tenant level it reaches every channel of its tenant, and no other tenant.
    learn(hybrid, embedder, tenant="local", channel=None, name="rules.md", text=PARKING)
    assert [f.document for f in search(hybrid, embedder, tenant_id, channel_id, QUESTION)] == ["rules.md"]
    ask_as(hybrid, QUESTION, user="ana", channel="terminal", tenant="rival")
    assert "rules.md" not in last_prompt(simulator) and "[1] (rival.md)" in last_prompt(simulator)


def test_vectors_of_another_model_are_not_compared(clean_stack: Stack, embedder: Embedder) -> None:
    tenant_id, channel_id = learn(clean_stack, embedder, tenant="school", channel="staff", name="p.md", text=PARKING)
    with clean_stack.sessions() as session:
        asked = probe(embedder, QUESTION)
        assert asked is not None
        other = vectors.Probe(model="another-model", vector=asked.vector)
        assert (
            knowledge.search(session, tenant_id=tenant_id, channel_id=channel_id, question=QUESTION, probe=other) == []
        )


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    a, b, c = (Found(n, "d", str(n), 0.0) for n in (1, 2, 3))
    fused = knowledge.fuse([a, b], [b, c], limit=3)
    assert [f.chunk_id for f in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert knowledge.fuse([a, b], [b, c], limit=1) == [fused[0]]
    # Equal scores keep the first ranking's order.
    assert [f.chunk_id for f in knowledge.fuse([c], [a], limit=2)] == [3, 1]


def test_hybrid_retrieval_check(clean_stack: Stack, embedder: Embedder) -> None:
    """The full-text check's 30 questions again, with vectors too: hybrid ranking must not do worse."""
    for name, body in DOCUMENTS.items():
        learn(clean_stack, embedder, tenant="school", channel="staff", name=name, text=body)
    tenant_id, channel_id = place(clean_stack, tenant="school", channel="staff")
    hits = firsts = 0
    for question, phrase in QUESTIONS:
        found = search(clean_stack, embedder, tenant_id, channel_id, question)
        hits += any(phrase in f.content for f in found)
        firsts += bool(found) and phrase in found[0].content
    backend = clean_stack.sessions.kw["bind"].dialect.name
    print(f"\nhybrid retrieval check ({backend}): {hits}/{len(QUESTIONS)} in the top 5 ({firsts} ranked first)")
    assert hits / len(QUESTIONS) >= 0.9


def test_embedding_url_gives_the_stack_an_embedder(tmp_path: Path) -> None:
    assert open_embedder(make_settings(tmp_path)) is None
    made = open_embedder(make_settings(tmp_path, embedding_url="http://127.0.0.1:9/v1/", embedding_model="e5"))
    assert made is not None and (made.url, made.model) == ("http://127.0.0.1:9", "e5")
    made.close()
    with pytest.raises(SettingsError, match=r"EMBEDDING_URL: .*http:// or https://"):
        make_settings(tmp_path, embedding_url="127.0.0.1:9")
    with pytest.raises(SettingsError, match=r"EMBEDDING_API_KEY: .*placeholder"):
        make_settings(tmp_path, embedding_url="http://e:1", embedding_api_key="changeme")
    assert make_settings(tmp_path, embedding_url="").embedding_url is None
    hybrid = make_settings(tmp_path, embedding_url="http://127.0.0.1:9", engine_url="http://127.0.0.1:9")
    with Stack(hybrid, scheduling=make_scheduling()) as stack:
        assert isinstance(stack.embedder, Embedder) and stack.embedder is stack.embedder
        assert "knowledge: hybrid, embeddings at http://127.0.0.1:9" in stack.describe()
