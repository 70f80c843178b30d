"""`/remember`, `/memories` and `/forget-memory`: a person's memories, answered by LLMOS without the engine."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from db import memories
from db.directory import Place

USAGE_REMEMBER = "Usage: /remember <something to remember>, or say “remember that …”."
USAGE_FORGET = "Usage: /forget-memory <number from /memories> or /forget-memory all."


def run_remember(session: Session, *, place: Place, args: Mapping[str, str]) -> str:
    fact = args.get("fact", "").strip()
    if not fact:
        return USAGE_REMEMBER
    if len(fact) > memories.MAX_CHARS:
        return f"That is {len(fact)} characters; a memory can hold {memories.MAX_CHARS}. Please shorten it."
    memories.add(session, tenant_id=place.tenant_id, user_id=place.user_id, channel_id=None, content=fact)
    return f"I will remember: {fact}\n(/memories lists what I remember; /forget-memory removes one.)"


def run_memories(session: Session, *, place: Place) -> str:
    rows = memories.listed(session, tenant_id=place.tenant_id, user_id=place.user_id)
    if not rows:
        return "I remember nothing about you yet. Teach me with /remember <something>."
    lines = ["What I remember about you (most recent first):"]
    lines += [f"{number}. {row.content}" for number, row in enumerate(rows, start=1)]
    lines.append("Remove one with /forget-memory <number>, or all with /forget-memory all.")
    return "\n".join(lines)


def run_forget_memory(session: Session, *, place: Place, args: Mapping[str, str]) -> str:
    which = args.get("which", "")
    if which == "all":
        gone = memories.forget(session, tenant_id=place.tenant_id, user_id=place.user_id, number=None)
        return f"Done: I forgot all {gone} of your memories." if gone else "I had no memories of yours."
    if not which.isdigit():
        return USAGE_FORGET
    number = int(which)
    if not memories.forget(session, tenant_id=place.tenant_id, user_id=place.user_id, number=number):
        return f"There is no memory number {number}; /memories lists them."
    return f"Done: I forgot memory {number}. The others keep their order; /memories shows the new numbers."
