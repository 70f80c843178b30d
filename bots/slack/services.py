"""What every Slack listener shares: the services it needs, a way to tell one user something, and the
registrar for events acknowledged only once stored.

A listener never answers; it builds the neutral event and hands it to `workers.intake.hand_over`. What
comes back that the user must hear (the access rules said no, the queue is down) goes to them at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.listener_matcher import builtins as matchers
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


def on_event_acked_when_stored(app: App, event: str, listener: Callable[..., None]) -> None:
    """Register an Events API listener that acknowledges Slack itself, with its `ack`, once the event is
    stored.

    `App.event` acknowledges an event before its listener runs, and Slack never sends an acknowledged
    event again: a process killed in between would lose it. Registered this way, bolt waits for the
    listener's own `ack()` (up to its 3 s acknowledgement timeout; past that Slack retries, and the
    retry finds the stored event). bolt has no public switch for one listener, hence its registrar.
    """
    matcher = matchers.event(event, base_logger=app.logger)
    app._register_listener([listener], matcher, None, [], auto_acknowledgement=False)
