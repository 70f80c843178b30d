"""What every Slack listener shares: the services it needs, and a way to tell one user something.

A listener never answers; it builds the neutral event and hands it to `workers.intake.hand_over`. What
comes back that the user must hear (the access rules said no, the queue is down) goes to them at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bots.slack.files import FileReader
from bots.slack.people import People
from bots.slack.settings import SlackSettings
from workers.intake import Enqueue, Tell
from workers.leases import Leases

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    sessions: sessionmaker[Session]
    enqueue: Enqueue
    settings: SlackSettings
    people: People
    files: FileReader
    # The models the engine serves, for checking a `model` preference where it is typed in.
    models: Callable[[], tuple[str, ...]] = tuple
    # The plugin skills' names, so `/llmos name …` and `@LLMOS /name …` reach them.
    skills: frozenset[str] = frozenset()
    # The deployment's per-user rate (SCHED_USER_REQUESTS_PER_MINUTE), the most a workspace admin may set.
    rate_ceiling: int | None = None
    # Where a Stop button's press is left for the worker answering (the stack's leases).
    leases: Leases | None = None


def teller(client: WebClient, *, channel: str, user: str, thread_ts: str | None, private: bool) -> Tell:
    """Tell one user something: privately in a channel, plainly in their direct messages."""

    def tell(text: str) -> None:
        try:
            if private:
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
            else:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning("could not tell %s in %s: %s (%s)", user, channel, text, exc)

    return tell
