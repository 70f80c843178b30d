"""Where a Slack answer goes: the platform ids the adapter puts in `Event.ref` and the sink reads back.

Kept in one small type so the two sides of the queue cannot drift apart. No token ever goes in
here: the event is stored and queued, and the sink looks the workspace's token up itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ReplyMode(StrEnum):
    # Streamed as a reply in `thread_ts` (a mention, a thread, an assistant thread, a slash header).
    THREAD = "thread"
    # Posted in the channel itself and updated as it grows (a top-level direct message).
    CHANNEL = "channel"
    # Only the asking user sees it, through the interaction's response_url (commands, drafts).
    EPHEMERAL = "ephemeral"


@dataclass(frozen=True, slots=True)
class SlackRef:
    mode: ReplyMode
    team: str
    channel: str
    user: str
    enterprise: str | None = None
    is_enterprise_install: bool = False
    thread_ts: str | None = None
    # The team of the user who asked (differs from `team` in Slack Connect channels).
    user_team: str | None = None
    response_url: str | None = None
    # Things the user should know about their request (a file that was too large, ...).
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = str(self.mode)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SlackRef:
        values = dict(data)
        values["mode"] = ReplyMode(values["mode"])
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


def channel_ref(*, tenant: str, channel: str, thread: str | None) -> dict[str, Any]:
    """A post into a channel (or its thread) that answers nobody in particular: an admin job's answer."""
    mode = ReplyMode.THREAD if thread else ReplyMode.CHANNEL
    return SlackRef(mode=mode, team=tenant, channel=channel, user="", thread_ts=thread).to_dict()
