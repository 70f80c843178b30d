"""Where a Discord answer goes: the ids the adapter puts in `Event.ref` and the worker's sink reads back.

One small type, so the two sides of the queue cannot drift apart. The bot token never goes in here;
an interaction's own token does (it is what lets the worker follow up on that one interaction, for
fifteen minutes, and nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReplyMode(StrEnum):
    # Posted in a channel (or thread), as a reply to `reply_to` when there is one.
    CHANNEL = "channel"
    # The follow-up of a slash command or component: edits the interaction's original response.
    INTERACTION = "interaction"


@dataclass(frozen=True, slots=True)
class DiscordRef:
    mode: ReplyMode
    # The channel (or thread) the answer is posted in.
    channel_id: str
    guild_id: str | None = None
    reply_to: str | None = None
    application_id: str | None = None
    token: str | None = None
    # Only the asking user sees the answer (interactions only).
    ephemeral: bool = False
    # Limits the adapter applied (a skipped file, a cut text), shown small above the answer.
    notices: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.mode is ReplyMode.INTERACTION and not (self.application_id and self.token):
            raise ValueError("an interaction reply needs its application_id and token")

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": str(self.mode),
            "channel_id": self.channel_id,
            "guild_id": self.guild_id,
            "reply_to": self.reply_to,
            "application_id": self.application_id,
            "token": self.token,
            "ephemeral": self.ephemeral,
            "notices": list(self.notices),
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DiscordRef:
        return cls(
            mode=ReplyMode(data.get("mode", ReplyMode.CHANNEL)),
            channel_id=str(data["channel_id"]),
            guild_id=_text(data.get("guild_id")),
            reply_to=_text(data.get("reply_to")),
            application_id=_text(data.get("application_id")),
            token=_text(data.get("token")),
            ephemeral=bool(data.get("ephemeral")),
            notices=tuple(str(n) for n in data.get("notices", ())),
        )


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def channel_ref(*, tenant: str, channel: str, thread: str | None) -> dict[str, Any]:
    """A post that answers nobody in particular (an admin job's): a thread is a channel of its own."""
    return DiscordRef(mode=ReplyMode.CHANNEL, channel_id=thread or channel, guild_id=tenant).to_dict()
