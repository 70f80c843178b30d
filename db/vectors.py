"""Passage vectors: stored beside the chunks, searched by a scan of what the asking channel may see.

A scan in Python over the channel's and tenant's vectors (unit length, so cosine similarity is a dot
product) needs no database extension and behaves the same on PostgreSQL and SQLite. Every query names
its tenant and the channel scope exactly as full-text search does.
"""

from __future__ import annotations

import heapq
import operator
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.orm import Session

from db import scopes
from db.models import KnowledgeVector


@dataclass(frozen=True, slots=True)
class Probe:
    """A question's embedding, and the model that made it (only that model's vectors are compared)."""

    model: str
    vector: Sequence[float]
    # Passages less similar than this are not candidates at all (cosine, -1 to 1).
    floor: float = 0.0


def pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def unpack(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def _visible(tenant_id: int, channel_id: int | None) -> list[ColumnElement[bool]]:
    columns = KnowledgeVector.tenant_id, KnowledgeVector.channel_id
    return scopes.channel_and_tenant(*columns, tenant_id=tenant_id, channel_id=channel_id)


def store(
    session: Session,
    *,
    tenant_id: int,
    channel_id: int | None,
    model: str,
    chunk_ids: Sequence[int],
    vectors: Sequence[Sequence[float]],
) -> None:
    """One vector per chunk, in the same order."""
    if len(chunk_ids) != len(vectors):
        raise ValueError(f"{len(vectors)} vectors for {len(chunk_ids)} passages")
    session.add_all(
        KnowledgeVector(
            chunk_id=chunk_id, tenant_id=tenant_id, channel_id=channel_id, model=model, dims=len(v), vector=pack(v)
        )
        for chunk_id, v in zip(chunk_ids, vectors, strict=True)
    )
    session.flush()


def drop(session: Session, *, tenant_id: int, chunk_ids: Select[int]) -> None:
    """Delete the vectors of the chunks `chunk_ids` selects."""
    session.execute(
        delete(KnowledgeVector).where(KnowledgeVector.tenant_id == tenant_id, KnowledgeVector.chunk_id.in_(chunk_ids))
    )


def nearest(
    session: Session, *, tenant_id: int, channel_id: int | None, probe: Probe, limit: int
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the `limit` passages closest to the probe, closest first."""
    query = probe.vector
    rows = session.execute(
        select(KnowledgeVector.chunk_id, KnowledgeVector.vector).where(
            *_visible(tenant_id, channel_id), KnowledgeVector.model == probe.model, KnowledgeVector.dims == len(query)
        )
    )
    scored = ((int(chunk_id), sum(map(operator.mul, query, unpack(blob)))) for chunk_id, blob in rows)
    close = (pair for pair in scored if pair[1] > probe.floor)
    return heapq.nlargest(limit, close, key=lambda pair: (pair[1], -pair[0]))


def count(session: Session, *, tenant_id: int) -> int:
    return int(session.scalar(select(func.count()).where(KnowledgeVector.tenant_id == tenant_id)) or 0)
