"""A web chat answer as the page follows it: server-sent events from the reply bus, through an outage.

When the engine is down the worker apologises ("I will answer here as soon as it is back") and the
event is sent again once the engine answers, into the same stream. The page must still be listening
then, so the apology goes on as a status and the stream stays open while the ledger says the answer
is coming; an apology that is the end (a refused request, an answer dropped after the re-send
window) ends the stream as an error, as before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import ServerSentEvent

from db import events
from workers.replybus import ReplyBus, follow

# How long the failing attempt may take to record its failure after its apology is published.
SETTLE_SECONDS = 3.0


def still_coming(sessions: sessionmaker[Session], key: str, *, settle: float = SETTLE_SECONDS) -> bool:
    """Whether the answer to `key` will still come; an attempt still running after `settle` may yet answer."""
    deadline = time.monotonic() + settle
    while True:
        with sessions() as session:
            coming = events.answer_coming(session, key=key)
        if coming is not None:
            return coming
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)


def answer_events(
    bus: ReplyBus, sessions: sessionmaker[Session], key: str, *, idle_timeout: float
) -> Iterator[ServerSentEvent]:
    items = follow(bus, key, idle_timeout=idle_timeout, recovers=lambda: still_coming(sessions, key))
    return _events(items)


def _events(items: Iterator[dict[str, Any]]) -> Iterator[ServerSentEvent]:
    try:
        for item in items:
            yield ServerSentEvent(data=json.dumps(item), event=str(item.get("type", "delta")))
    except TimeoutError as exc:
        yield ServerSentEvent(data=json.dumps({"type": "error", "text": f"No answer came: {exc}."}), event="error")
