"""Rating an answer from any surface: find the answer in the presser's tenant and keep their 👍 or 👎.

Surfaces only say who pressed which button on which answer (the event key rides on the button);
what counts as the answer, and the reply the person sees, are decided here once. Where a surface
takes the comment after the rating (Slack's and Discord's "Add a comment"), `comment` adds it to the
rating given, which stays as it is.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import conversations, directory
from db import feedback as store
from db.models import Tenant

UP, DOWN = store.UP, store.DOWN
THANKS = "Thanks for the feedback."
NOTED = "Thanks, your comment is kept with your rating."
NO_ANSWER = "There is no finished answer to rate here."
ADD_COMMENT = "Add a comment"


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
    return _keep(sessions, platform=platform, tenant=tenant, key=key, user=user, rating=rating, comment=comment)


def comment(
    sessions: sessionmaker[Session], *, platform: str, tenant: str, key: str, user: str, rating: int, text: str
) -> str:
    """Add `user`'s comment to their rating of the answer to event `key`; `rating` (the button they
    pressed before) counts only where no rating of theirs is stored. What to tell them."""
    said = _keep(sessions, platform=platform, tenant=tenant, key=key, user=user, rating=rating, comment=text, keep=True)
    return NOTED if said == THANKS else said


def _keep(
    sessions: sessionmaker[Session],
    *,
    platform: str,
    tenant: str,
    key: str,
    user: str,
    rating: int,
    comment: str,
    keep: bool = False,
) -> str:
    """Record the rating (with `keep`, the one already stored if there is one) and the comment."""
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
        given = store.rating_of(session, answer=answer, user_id=person.id) if keep else None
        store.record(session, answer=answer, user_id=person.id, rating=given or rating, comment=comment)
    return THANKS
