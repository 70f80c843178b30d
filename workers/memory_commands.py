"""`/remember`, `/memories` and `/forget-memory`: a person's memories, answered by LLMOS without the engine."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from db import directory, memories
from db.directory import Place
from workers.guides import PLAIN, Guide


def run_remember(session: Session, *, place: Place, args: Mapping[str, str], guide: Guide = PLAIN) -> str:
    fact = args.get("fact", "").strip()
    if not fact:
        return f"Usage: {guide.way('/remember <something to remember>')}, or say “remember that …”."
    if len(fact) > memories.MAX_CHARS:
        return f"That is {len(fact)} characters; a memory can hold {memories.MAX_CHARS}. Please shorten it."
    memories.add(session, tenant_id=place.tenant_id, user_id=place.user_id, channel_id=None, content=fact)
    listing, forgetting = guide.way("/memories"), guide.way("/forget-memory")
    return f"I will remember: {fact}\n({listing} lists what I remember; {forgetting} removes one.)"


def run_memories(session: Session, *, place: Place, guide: Guide = PLAIN) -> str:
    rows = memories.listed(session, tenant_id=place.tenant_id, user_id=place.user_id)
    if not rows:
        return f"I remember nothing about you yet. Teach me with {guide.way('/remember <something>')}."
    lines = ["What I remember about you (most recent first):"]
    lines += [f"{number}. {row.content}" for number, row in enumerate(rows, start=1)]
    lines.append(
        f"Remove one with {guide.way('/forget-memory <number>')}, or all with {guide.way('/forget-memory all')}."
    )
    return "\n".join(lines)


def run_forget_memory(session: Session, *, place: Place, args: Mapping[str, str], guide: Guide = PLAIN) -> str:
    which = args.get("which", "")
    if which == "all":
        gone = memories.forget(session, tenant_id=place.tenant_id, user_id=place.user_id, number=None)
        return f"Done: I forgot all {gone} of your memories." if gone else "I had no memories of yours."
    if not (which.isascii() and which.isdigit() and len(which) <= 9):
        listing, forgetting = guide.way("/memories"), guide.way("/forget-memory")
        return f"Usage: {forgetting} <number from {listing}> or {forgetting} all."
    number = int(which)
    if not memories.forget(session, tenant_id=place.tenant_id, user_id=place.user_id, number=number):
        return f"There is no memory number {number}; {guide.way('/memories')} lists them."
    return (
        f"Done: I forgot memory {number}. The others keep their order; {guide.way('/memories')} shows the new numbers."
    )


CHANNEL_USAGE = (
    "Usage: `admin memory <fact>` saves a memory everyone in this channel shares; `admin memory` lists them; "
    "`admin memory forget <number>|all` removes them."
)


def run_channel(session: Session, *, tenant_id: int, channel_id: int, text: str) -> str:
    """A channel admin's `admin memory …`: memories every answer in the channel is given."""
    verb, _, rest = text.strip().partition(" ")
    if not text.strip():
        rows = memories.listed(session, tenant_id=tenant_id, user_id=None, channel_id=channel_id)
        if not rows:
            return "This channel has no memories. Add one with `admin memory <fact>`."
        lines = ["This channel's memories (most recent first):"]
        return "\n".join(lines + [f"{n}. {row.content}" for n, row in enumerate(rows, start=1)])
    if verb.lower() == "forget":
        which = rest.strip().lower()
        if which != "all" and not (which.isascii() and which.isdigit() and len(which) <= 9):
            return CHANNEL_USAGE
        number = None if which == "all" else int(which)
        gone = memories.forget(session, tenant_id=tenant_id, user_id=None, channel_id=channel_id, number=number)
        return f"Removed {gone} channel memory(ies)." if gone else "No such channel memory."
    fact = text.strip()
    if len(fact) > memories.MAX_CHARS:
        return f"That is {len(fact)} characters; a memory can hold {memories.MAX_CHARS}."
    memories.add(session, tenant_id=tenant_id, user_id=None, channel_id=channel_id, content=fact)
    return f"Everyone's answers in this channel now keep in mind: {fact}"


def run_channel_for(
    sessions: sessionmaker[Session], *, platform: str, tenant: str, channel: str, names: tuple[str, str], text: str
) -> str:
    """`run_channel` in a transaction of its own, for a tenant and channel named by their platform ids."""
    with sessions.begin() as session:
        tenant_row = directory.tenant(session, platform=platform, external_id=tenant, name=names[0])
        session.flush()
        row = directory.channel(session, tenant_id=tenant_row.id, external_id=channel, name=names[1])
        session.flush()
        return run_channel(session, tenant_id=tenant_row.id, channel_id=row.id, text=text)
