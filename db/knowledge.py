"""Knowledge: documents a channel (or a whole tenant) added, split into chunks and searched by full text.

Full-text search works on both stores with no extra service: PostgreSQL ranks a generated `tsvector`
column (GIN index) with `ts_rank`, SQLite ranks its FTS5 table with `bm25`. Given the question's
embedding (a `Probe`, when EMBEDDING_URL is set), the search is hybrid: the full-text ranking and the
passages' vector ranking (db/vectors.py) are merged by reciprocal rank fusion. Every query names its
tenant, and a channel only ever sees its own documents and its tenant's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session

from db import scopes, vectors
from db.models import KnowledgeChunk, KnowledgeDocument
from db.vectors import Probe

# Words a question carries that say nothing about which passage answers it.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "should",
    "so", "than", "that", "the", "their", "them", "there", "these", "they", "this", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "about",
    "into", "any", "all", "also", "may", "must", "not", "no", "yes", "tell", "please",
})  # fmt: skip
MAX_TERMS = 24
# Reciprocal rank fusion: a passage scores 1 / (RRF_K + rank) in each ranking it appears in; 60 is the
# constant of the method's paper, which damps the weight of the very first ranks.
RRF_K = 60
# Candidates each ranking contributes to the fusion, per passage finally kept.
POOL_PER_RESULT = 4


@dataclass(frozen=True, slots=True)
class Found:
    """One passage a search found, with the name of its document."""

    chunk_id: int
    document: str
    content: str
    score: float


def terms(question: str) -> list[str]:
    """The question's searchable words, lower-case, stopwords out, each once, in order."""
    words = (w.lower() for w in re.findall(r"\w+", question))
    kept = [w for w in words if len(w) > 1 and w not in STOPWORDS and not w.startswith("_")]
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def _visible(tenant_id: int, channel_id: int | None) -> list[ColumnElement[bool]]:
    """A channel sees its own documents and its tenant's; with no channel, only the tenant's."""
    columns = KnowledgeDocument.tenant_id, KnowledgeDocument.channel_id
    return scopes.channel_and_tenant(*columns, tenant_id=tenant_id, channel_id=channel_id)


def add(
    session: Session,
    *,
    tenant_id: int,
    channel_id: int | None,
    name: str,
    sha256: str,
    chunks: Sequence[str],
    added_by: str = "",
    embedded: tuple[str, Sequence[Sequence[float]]] | None = None,
) -> tuple[KnowledgeDocument, bool]:
    """Store a document and its chunks (and, given `embedded` = (model, one vector per chunk), their
    vectors); a document of the same name in the same place is replaced.

    Returns the row and whether it replaced an earlier one."""
    replaced = forget(session, tenant_id=tenant_id, channel_id=channel_id, name=name) > 0
    row = KnowledgeDocument(
        tenant_id=tenant_id,
        channel_id=channel_id,
        name=name,
        sha256=sha256,
        chars=sum(len(c) for c in chunks),
        added_by=added_by,
    )
    session.add(row)
    session.flush()
    rows = [
        KnowledgeChunk(tenant_id=tenant_id, document_id=row.id, channel_id=channel_id, position=n, content=chunk)
        for n, chunk in enumerate(chunks)
    ]
    session.add_all(rows)
    session.flush()
    if embedded is not None:
        model, found = embedded
        ids = [chunk.id for chunk in rows]
        vectors.store(session, tenant_id=tenant_id, channel_id=channel_id, model=model, chunk_ids=ids, vectors=found)
    return row, replaced


def listed(session: Session, *, tenant_id: int, channel_id: int | None) -> list[KnowledgeDocument]:
    """What a channel's questions are answered from: its own documents, then its tenant's, by name."""
    query = select(KnowledgeDocument).where(*_visible(tenant_id, channel_id))
    return list(session.scalars(query.order_by(KnowledgeDocument.channel_id.is_(None), KnowledgeDocument.name)))


def forget(session: Session, *, tenant_id: int, channel_id: int | None, name: str) -> int:
    """Delete the document called `name` at exactly this level (a channel's, or the tenant's with None)."""
    place = KnowledgeDocument.channel_id.is_(None) if channel_id is None else KnowledgeDocument.channel_id == channel_id
    ids = list(
        session.scalars(
            select(KnowledgeDocument.id).where(
                KnowledgeDocument.tenant_id == tenant_id, place, KnowledgeDocument.name == name
            )
        )
    )
    if not ids:
        return 0
    # Vectors, then chunks, explicitly: SQLite's FTS triggers see each deleted chunk, and no vector
    # outlives its passage even where foreign keys are not enforced.
    in_documents = select(KnowledgeChunk.id).where(
        KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.document_id.in_(ids)
    )
    vectors.drop(session, tenant_id=tenant_id, chunk_ids=in_documents)
    session.execute(
        delete(KnowledgeChunk).where(KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.document_id.in_(ids))
    )
    session.execute(
        delete(KnowledgeDocument).where(KnowledgeDocument.tenant_id == tenant_id, KnowledgeDocument.id.in_(ids))
    )
    return len(ids)


def unname_adder(session: Session, *, tenant_id: int, added_by: str) -> int:
    """Drop a person's id from the documents they added (their data is being deleted); the documents stay
    with their channel, which learned them."""
    result = session.execute(
        update(KnowledgeDocument)
        .where(KnowledgeDocument.tenant_id == tenant_id, KnowledgeDocument.added_by == added_by)
        .values(added_by="")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def has_any(session: Session, *, tenant_id: int, channel_id: int | None) -> bool:
    query = select(KnowledgeDocument.id).where(*_visible(tenant_id, channel_id)).limit(1)
    return session.scalar(query) is not None


def search(
    session: Session,
    *,
    tenant_id: int,
    channel_id: int | None,
    question: str,
    limit: int = 5,
    probe: Probe | None = None,
) -> list[Found]:
    """The passages that best match `question` among those this channel may see, best first: by full
    text, or, given the question's embedding, by full text and vectors together."""
    words = terms(question)
    if not (words or probe) or not has_any(session, tenant_id=tenant_id, channel_id=channel_id):
        return []
    pool = limit * POOL_PER_RESULT if probe else limit
    by_text = _full_text(session, tenant_id=tenant_id, channel_id=channel_id, words=words, limit=pool) if words else []
    if probe is None:
        return by_text
    near = vectors.nearest(session, tenant_id=tenant_id, channel_id=channel_id, probe=probe, limit=pool)
    return fuse(by_text, _passages(session, tenant_id=tenant_id, scored=near), limit=limit)


def fuse(*rankings: Sequence[Found], limit: int) -> list[Found]:
    """Reciprocal rank fusion: each passage scores the sum of 1 / (RRF_K + rank) over the rankings."""
    scores: dict[int, float] = {}
    passages: dict[int, Found] = {}
    for ranking in rankings:
        for rank, found in enumerate(ranking, start=1):
            scores[found.chunk_id] = scores.get(found.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            passages.setdefault(found.chunk_id, found)
    # A stable sort: on a tie, the earlier ranking's passage (full text, when it is given first) stays first.
    best = sorted(scores, key=lambda chunk_id: -scores[chunk_id])[:limit]
    return [replace(passages[chunk_id], score=scores[chunk_id]) for chunk_id in best]


def _passages(session: Session, *, tenant_id: int, scored: Sequence[tuple[int, float]]) -> list[Found]:
    """The passages `scored` names (chunk id, score), in that order, with their documents' names."""
    if not scored:
        return []
    rows = session.execute(
        select(KnowledgeChunk.id, KnowledgeDocument.name, KnowledgeChunk.content)
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .where(KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.id.in_([chunk_id for chunk_id, _ in scored]))
    )
    found = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
    return [Found(cid, *found[cid], score) for cid, score in scored if cid in found]


def _full_text(
    session: Session, *, tenant_id: int, channel_id: int | None, words: list[str], limit: int
) -> list[Found]:
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgres(session, tenant_id=tenant_id, channel_id=channel_id, words=words, limit=limit)
    return _search_sqlite(session, tenant_id=tenant_id, channel_id=channel_id, words=words, limit=limit)


def _search_postgres(
    session: Session, *, tenant_id: int, channel_id: int | None, words: list[str], limit: int
) -> list[Found]:
    # Any of the words may match (a question rarely shares all its words with its answer); the rank
    # weighs how many do, and how rare they are.
    query = text(
        "SELECT c.id, d.name, c.content, ts_rank(c.tsv, q, 1) AS score "
        "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id, "
        "to_tsquery('english', :query) q "
        # With no channel (:channel is NULL), `c.channel_id = :channel` is never true: tenant-wide only.
        "WHERE c.tenant_id = :tenant AND (c.channel_id IS NULL OR c.channel_id = :channel) AND c.tsv @@ q "
        "ORDER BY score DESC, c.id LIMIT :limit"
    )
    rows = session.execute(
        query, {"query": " | ".join(words), "tenant": tenant_id, "channel": channel_id, "limit": limit}
    )
    return [Found(int(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]


def _search_sqlite(
    session: Session, *, tenant_id: int, channel_id: int | None, words: list[str], limit: int
) -> list[Found]:
    match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
    query = text(
        "SELECT c.id, d.name, c.content, bm25(knowledge_fts) AS score "
        "FROM knowledge_fts JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid "
        "JOIN knowledge_documents d ON d.id = c.document_id "
        "WHERE knowledge_fts MATCH :query AND c.tenant_id = :tenant "
        "AND (c.channel_id IS NULL OR c.channel_id = :channel) "
        "ORDER BY score, c.id LIMIT :limit"
    )
    rows = session.execute(query, {"query": match, "tenant": tenant_id, "channel": channel_id, "limit": limit})
    # bm25 is lower-is-better and negative; turned round so that every backend's higher is better.
    return [Found(int(r[0]), str(r[1]), str(r[2]), -float(r[3])) for r in rows]


def chunk_count(session: Session, *, tenant_id: int) -> int:
    return int(session.scalar(select(func.count()).where(KnowledgeChunk.tenant_id == tenant_id)) or 0)
