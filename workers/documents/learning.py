"""`/learn` and `/knowledge`: a channel's documents, answered by LLMOS without the engine.

`/learn` with files adds them to the channel's knowledge; the admin API adds documents for a whole
tenant. `/knowledge` lists what this channel's questions are answered from; `/knowledge forget <name>`
removes one of the channel's own documents (a tenant's documents are removed through the admin API).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from db import knowledge
from db.directory import Place
from db.vectors import Probe
from engine.embeddings import Embedder
from workers.documents.chunks import split
from workers.events import Attachment

USAGE_LEARN = (
    "Usage: send /learn with the files to learn attached (PDF, Word, PowerPoint, Excel, CSV, HTML or text); "
    "every question in this channel is then answered from them."
)
USAGE_KNOWLEDGE = "Usage: /knowledge lists this channel's documents; /knowledge forget <name> removes one."
# Characters of a question embedded: its gist, well inside an embedding model's input limit.
QUESTION_CHARS = 1000
NO_VECTORS = (
    "The embeddings service did not answer, so these passages are found by their words only "
    "until they are learned again."
)
MAX_NAME = 256


@dataclass(frozen=True, slots=True)
class Learned:
    name: str
    chunks: int
    replaced: bool
    # Whether the passages have vectors; None where no embeddings endpoint is configured.
    embedded: bool | None = None


def learn_text(
    session: Session,
    *,
    tenant_id: int,
    channel_id: int | None,
    name: str,
    text: str,
    added_by: str = "",
    embedder: Embedder | None = None,
) -> Learned:
    """Chunk and index one converted document at a channel (or, with no channel, for the whole tenant);
    with an embedder, the passages' vectors too (asked before anything is written)."""
    name = name.strip()[:MAX_NAME] or "document"
    chunks = split(text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    vectors = embedder.embed(chunks) if embedder is not None and chunks else None
    model = embedder.model if embedder is not None else None
    embedded = (model, vectors) if model and vectors is not None else None
    _row, replaced = knowledge.add(
        session,
        tenant_id=tenant_id,
        channel_id=channel_id,
        name=name,
        sha256=digest,
        chunks=chunks,
        added_by=added_by,
        embedded=embedded,
    )
    # A document with no passages needs no vectors: it is not "without vectors".
    done = None if embedder is None else embedded is not None or not chunks
    return Learned(name=name, chunks=len(chunks), replaced=replaced, embedded=done)


def probe(embedder: Embedder | None, question: str, *, floor: float = 0.0) -> Probe | None:
    """The question's embedding for a hybrid search; None (full text only) without an endpoint or when it fails."""
    if embedder is None or not question.strip():
        return None
    vectors = embedder.embed([question[:QUESTION_CHARS]])
    model = embedder.model
    return Probe(model=model, vector=vectors[0], floor=floor) if vectors and model else None


def run_learn(
    session: Session,
    *,
    place: Place,
    attachments: Sequence[Attachment],
    added_by: str = "",
    embedder: Embedder | None = None,
) -> str:
    readable = [a for a in attachments if a.text and a.text.strip()]
    skipped = [a.name for a in attachments if not (a.text and a.text.strip())]
    if not readable:
        return USAGE_LEARN + (f" (I could not read: {', '.join(skipped)}.)" if skipped else "")
    lines = ["Added to this channel's knowledge:"]
    unembedded = False
    for item in readable:
        learned = learn_text(
            session,
            tenant_id=place.tenant_id,
            channel_id=place.channel_id,
            name=item.name,
            text=item.text or "",
            added_by=added_by,
            embedder=embedder,
        )
        again = " (replacing the earlier copy)" if learned.replaced else ""
        lines.append(f"• {learned.name}: {learned.chunks} passage(s){again}")
        unembedded = unembedded or learned.embedded is False
    if skipped:
        lines.append(f"Not added (no text I could read): {', '.join(skipped)}.")
    if unembedded:
        lines.append(NO_VECTORS)
    lines.append("Questions here are now answered from them, with [1], [2] citations. /knowledge lists them.")
    return "\n".join(lines)


def run_knowledge(session: Session, *, place: Place, args: Mapping[str, str]) -> str:
    action = args.get("action", "")
    if action == "forget":
        name = args.get("name", "").strip()
        if not name:
            return USAGE_KNOWLEDGE
        gone = knowledge.forget(session, tenant_id=place.tenant_id, channel_id=place.channel_id, name=name)
        if gone:
            return f"Done: {name} is no longer part of this channel's knowledge."
        return f"This channel has no document called {name!r}; /knowledge lists them."
    if action:
        return USAGE_KNOWLEDGE
    rows = knowledge.listed(session, tenant_id=place.tenant_id, channel_id=place.channel_id)
    if not rows:
        return "This channel has no documents yet. Send /learn with files attached to add some."
    lines = ["Questions here are answered from these documents:"]
    for row in rows:
        where = "this channel" if row.channel_id is not None else "the whole workspace"
        lines.append(f"• {row.name} ({row.chars:,} characters, {where})")
    lines.append("Remove one of this channel's with /knowledge forget <name>.")
    return "\n".join(lines)
