"""Resolve an event's platform ids to the rows they stand for, creating them on first sight."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db import directory
from db.directory import Place
from workers.events import Event


def place_of(session: Session, event: Event) -> Place:
    return directory.resolve(
        session,
        # A job posted for a Slack workspace belongs to that workspace, whatever surface sent it.
        platform=event.tenant_platform,
        tenant_external=event.tenant,
        user_external=event.user,
        channel_external=event.channel,
        thread_key=event.thread,
        tenant_name=event.tenant_name,
        user_name=event.user_name,
        channel_name=event.channel_name,
    )
