"""The database work the bot process does itself: hand events to intake, and recognise its threads.

These are blocking SQLAlchemy calls; the bot runs them with `asyncio.to_thread` so the gateway's
heartbeats never wait on the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Channel, Conversation, Tenant
from workers.events import Event, Platform
from workers.intake import Enqueue, Submitted, submit


@dataclass(frozen=True, slots=True)
class Store:
    sessions: sessionmaker[Session]
    enqueue: Enqueue
    # The deployment's per-user rate (SCHED_USER_REQUESTS_PER_MINUTE): a server's admins may lower it, not raise it.
    rate_ceiling: int | None = None

    def submit(self, event: Event) -> Submitted:
        """Store and queue; raises `IntakeError` (with a message for the user) when it cannot queue."""
        return submit(event, sessions=self.sessions, enqueue=self.enqueue)

    def knows_thread(self, *, tenant: str, channel: str, thread: str) -> bool:
        """True when the bot already talks in this Discord thread (it was mentioned there before a
        restart emptied the gateway cache): the thread then continues without mentions."""
        with self.sessions() as session:
            found = session.scalar(
                select(Conversation.id)
                .join(Tenant, Conversation.tenant_id == Tenant.id)
                .join(Channel, Conversation.channel_id == Channel.id)
                .where(
                    Tenant.platform == str(Platform.DISCORD),
                    Tenant.external_id == tenant,
                    Channel.tenant_id == Tenant.id,
                    Channel.external_id == channel,
                    Conversation.thread_key == thread,
                )
                .limit(1)
            )
            return found is not None
