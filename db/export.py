"""A tenant's data as JSON Lines: conversations, knowledge, usage, memories and feedback, with a manifest of
sha256 sums.

`llmos export` writes one file per kind and `manifest.json`; the same data gives the same bytes (rows in
id order, keys sorted, no export time), so data-versioning tools such as DVC see a change only when
there is one. The admin API's export streams the same message, memory and feedback records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import feedback as ratings
from db.models import Channel, Conversation, KnowledgeChunk, KnowledgeDocument, Memory, Message, Tenant, Usage, User

MANIFEST = "manifest.json"
BATCH = 500

Records = Iterator[dict[str, Any]]


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def messages(session: Session, *, tenant_id: int, user_id: int | None = None) -> Records:
    query = (
        select(Message, Conversation.thread_key, Channel.external_id, User.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(User, User.id == Message.user_id)
        .where(Message.tenant_id == tenant_id)
        .order_by(Message.conversation_id, Message.id)
    )
    if user_id is not None:
        query = query.where(Message.user_id == user_id)
    for message, thread, channel, user in session.execute(query.execution_options(yield_per=BATCH)):
        yield {
            "conversation": message.conversation_id,
            "channel": channel,
            "thread": thread,
            "user": user,
            "role": message.role,
            "kind": message.kind,
            "content": message.content,
            "model": message.model or None,
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "created_at": message.created_at.isoformat(),
            # An answer asked again (Regenerate): kept, with the newer answer after it.
            **({"superseded": True} if message.superseded else {}),
        }


def memories(session: Session, *, tenant_id: int, user_id: int | None = None) -> Records:
    """What people asked the assistant to remember, one record each."""
    query = (
        select(Memory, User.external_id, Channel.external_id)
        .outerjoin(User, User.id == Memory.user_id)
        .outerjoin(Channel, Channel.id == Memory.channel_id)
        .where(Memory.tenant_id == tenant_id)
        .order_by(Memory.id)
    )
    if user_id is not None:
        query = query.where(Memory.user_id == user_id)
    for memory, user, channel in session.execute(query):
        yield {"memory": memory.content, "user": user, "channel": channel, "created_at": memory.created_at.isoformat()}


def knowledge(session: Session, *, tenant_id: int) -> Records:
    """Each document with its passages in order: enough to rebuild the index elsewhere."""
    query = (
        select(KnowledgeDocument, Channel.external_id)
        .outerjoin(Channel, Channel.id == KnowledgeDocument.channel_id)
        .where(KnowledgeDocument.tenant_id == tenant_id)
        .order_by(KnowledgeDocument.id)
    )
    for document, channel in session.execute(query).all():
        passages = session.scalars(
            select(KnowledgeChunk.content)
            .where(KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.document_id == document.id)
            .order_by(KnowledgeChunk.position)
        )
        yield {
            "name": document.name,
            "channel": channel,
            "sha256": document.sha256,
            "characters": document.chars,
            "added_by": document.added_by,
            "created_at": document.created_at.isoformat(),
            "passages": list(passages),
        }


def usage(session: Session, *, tenant_id: int) -> Records:
    query = (
        select(Usage, User.external_id)
        .outerjoin(User, User.id == Usage.user_id)
        .where(Usage.tenant_id == tenant_id)
        .order_by(Usage.id)
    )
    for row, user in session.execute(query.execution_options(yield_per=BATCH)):
        yield {
            "event": row.event_key,
            "user": user,
            "model": row.model or None,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "day": row.day.isoformat(),
        }


def feedback(session: Session, *, tenant_id: int, user_id: int | None = None) -> Records:
    yield from ratings.for_export(session, tenant_id=tenant_id, user_id=user_id)


KINDS: dict[str, Callable[..., Records]] = {
    "conversations": messages,
    "knowledge": knowledge,
    "usage": usage,
    "memories": memories,
    "feedback": feedback,
}


@dataclass(frozen=True, slots=True)
class Written:
    name: str
    records: int
    sha256: str
    changed: bool


def write(session: Session, *, tenant: Tenant, out: Path) -> list[Written]:
    """Every kind as `<kind>.jsonl` in `out`, then the manifest; a file whose bytes did not change is left alone."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, records in KINDS.items():
        lines = [line(r) for r in records(session, tenant_id=tenant.id)]
        written.append(_put(out / f"{kind}.jsonl", "".join(lines).encode("utf-8"), records=len(lines)))
    manifest = {
        "tenant": {"platform": tenant.platform, "external_id": tenant.external_id, "name": tenant.name},
        "files": {w.name: {"sha256": w.sha256, "records": w.records} for w in written},
    }
    body = (json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")
    written.append(_put(out / MANIFEST, body, records=len(written)))
    return written


def _put(path: Path, data: bytes, *, records: int) -> Written:
    digest = hashlib.sha256(data).hexdigest()
    changed = not path.is_file() or path.read_bytes() != data
    if changed:
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
    return Written(name=path.name, records=records, sha256=digest, changed=changed)
