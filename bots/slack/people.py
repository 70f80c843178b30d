"""Who someone is in a workspace (name, admin or not), from users.info, remembered for an hour.

Names make transcripts readable to the model ("Ada: we ship Friday"); the admin flag decides who may
set channel prompts and access rules. Slack's own answer is the authority on both: a workspace
admin or owner (`is_admin`, `is_owner`, `is_primary_owner`) administers LLMOS there.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

TTL_SECONDS = 3600.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    admin: bool = False
    bot: bool = False


class People:
    def __init__(self, *, ttl: float = TTL_SECONDS) -> None:
        self._ttl = ttl
        self._known: dict[tuple[str, str], tuple[float, Person]] = {}
        self._lock = threading.Lock()

    def get(self, client: WebClient, *, team: str, user: str) -> Person:
        now = time.monotonic()
        with self._lock:
            cached = self._known.get((team, user))
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        person = self._lookup(client, user)
        if person is None:
            return Person(id=user, name="")
        with self._lock:
            if len(self._known) >= MAX_ENTRIES:
                self._known.clear()
            self._known[(team, user)] = (now, person)
        return person

    @staticmethod
    def _lookup(client: WebClient, user: str) -> Person | None:
        """Slack's answer, or None when it could not be had (not remembered, so asked again next time)."""
        try:
            info = client.users_info(user=user)["user"]
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user, exc.response.get("error") if exc.response else exc)
            return None
        profile = info.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or info.get("real_name") or info.get("name")
        admin = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        return Person(id=user, name=str(name or ""), admin=admin, bot=bool(info.get("is_bot")))

    def forget(self, *, team: str, user: str) -> None:
        with self._lock:
            self._known.pop((team, user), None)
