"""The database work the bot process does itself: hand events to intake, and recognise its threads.

These are blocking SQLAlchemy calls; the bot runs them with `asyncio.to_thread` so the gateway's
heartbeats never wait on the database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from bots.discord.questions import Stored
from bots.discord.throttle import LocalThrottle, Throttle
from db import conversations
from workers.documents.convert import DEFAULT_LIMITS, Limits
from workers.events import Event, Platform
from workers.intake import Enqueue, Handed, hand_over
from workers.leases import Leases


@dataclass(frozen=True, slots=True)
class Store:
    sessions: sessionmaker[Session]
    enqueue: Enqueue
    # The deployment's per-user rate (SCHED_USER_REQUESTS_PER_MINUTE): a server's admins may lower it, not raise it.
    rate_ceiling: int | None = None
    # The plugin skills' names: `/name …` in a message and `/ask skill:name` reach them.
    skills: frozenset[str] = frozenset()
    # How much of an attached PDF or office document is read (DOCUMENT_MAX_BYTES, _PAGES, _CHARS).
    documents: Limits = DEFAULT_LIMITS
    # Where a Stop button's press is left for the worker answering (the stack's leases).
    leases: Leases | None = None
    # Which public refusals were said lately (shared through Redis where there is one).
    notices: Throttle = field(default_factory=LocalThrottle)

    def submit(self, event: Event) -> Handed:
        """Store and queue; what the user must hear when it was not taken is in the result."""
        return hand_over(event, sessions=self.sessions, enqueue=self.enqueue)

    def questions(self, *, tenant: str, interactions: Collection[int]) -> dict[int, Stored]:
        """The questions of LLMOS's answers to these slash commands (by interaction id), as stored."""
        keys = {f"{Platform.DISCORD}:{tenant}:{ident}": ident for ident in interactions}
        with self.sessions() as session:
            found = conversations.questions(session, platform=str(Platform.DISCORD), tenant=tenant, event_keys=keys)
        return {keys[key]: Stored(kind=kind, text=text) for key, (kind, text) in found.items()}

    def knows_thread(self, *, tenant: str, channel: str, thread: str) -> bool:
        """True when the bot already talks in this Discord thread (it was mentioned there before a
        restart emptied the gateway cache): the thread then continues without mentions."""
        with self.sessions() as session:
            return conversations.known_thread(
                session, platform=str(Platform.DISCORD), tenant=tenant, channel=channel, thread=thread
            )
