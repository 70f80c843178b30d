"""Rating an answer from any surface: find the answer in the presser's tenant and keep their 👍 or 👎.

Surfaces only say who pressed which button on which answer (the event key rides on the button);
what counts as the answer, and the reply the person sees, are decided here once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import conversations, directory
from db import feedback as store
from db.models import Tenant

UP, DOWN = store.UP, store.DOWN
THANKS = "Thanks for the feedback."
NO_ANSWER = "There is no finished answer to rate here."


def give(
    sessions: sessionmaker[Session],
    *,
    platform: str,
    tenant: str,
    key: str,
    user: str,
    rating: int,
    comment: str = "",
) -> str:
    """Keep `user`'s rating of the answer to event `key` in their tenant; what to tell them."""
    with sessions.begin() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.platform == platform, Tenant.external_id == tenant))
        answer = (
            conversations.find_message(session, tenant_id=tenant_id, event_key=key, role="assistant")
            if tenant_id is not None
            else None
        )
        if tenant_id is None or answer is None:
            return NO_ANSWER
        person = directory.user(session, tenant_id=tenant_id, external_id=user)
        session.flush()
        store.record(session, answer=answer, user_id=person.id, rating=rating, comment=comment)
    return THANKS
