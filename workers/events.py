"""The one neutral event every surface produces, and the only thing that crosses the queue.

Adapters turn a Slack event, a Discord message, a webhook job or a terminal line into an `Event`;
the worker never sees a platform payload. Platform identifiers the reply sink needs later (a Slack
`ts`, a Discord channel id, a callback URL) travel untouched in `ref`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Platform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    ADMIN = "admin"
    TERMINAL = "terminal"
    WEB = "web"
    # A surface from a plugin (`llmos.surfaces`): `ref["surface"]` names which.
    PLUGIN = "plugin"


class Kind(StrEnum):
    """What the user asked for: a skill answered by the engine, or a command answered by LLMOS."""

    ASK = "ask"
    SUMMARIZE = "summarize"
    TRANSLATE = "translate"
    DRAFT = "draft"
    MINUTES = "minutes"
    QUIZ = "quiz"
    PREFS = "prefs"
    FORGET = "forget"
    USAGE = "usage"
    HELP = "help"
    # A skill from a plugin (`llmos.skills`): `args["skill"]` names which (see `Event.skill`).
    SKILL = "skill"
    REMEMBER = "remember"
    MEMORIES = "memories"
    FORGET_MEMORY = "forget-memory"
    LEARN = "learn"
    KNOWLEDGE = "knowledge"


class PriorityClass(StrEnum):
    INTERACTIVE = "interactive"
    COMMANDS = "commands"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime_type: str
    size: int
    text: str | None = None
    url: str | None = None
    # An image for vision-capable models: a data URL (data:image/png;base64,...) or an https URL the
    # engine can fetch (Discord's CDN links).
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Quoted:
    """A message the adapter fetched for context (a Slack thread to summarize, a Discord reply chain)."""

    author: str
    text: str


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Event:
    platform: Platform
    tenant: str
    channel: str
    thread: str
    user: str
    message_id: str
    text: str
    kind: Kind = Kind.ASK
    priority: PriorityClass = PriorityClass.INTERACTIVE
    args: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    context: tuple[Quoted, ...] = ()
    # The user's roles where the platform has them (Discord), for role allow/block lists.
    roles: tuple[str, ...] = ()
    user_name: str = ""
    tenant_name: str = ""
    channel_name: str = ""
    ref: Mapping[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        for name in ("tenant", "channel", "thread", "user", "message_id"):
            if not getattr(self, name):
                raise ValueError(f"event field {name!r} must not be empty")
        object.__setattr__(self, "platform", Platform(self.platform))
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "priority", PriorityClass(self.priority))
        object.__setattr__(self, "args", _frozen(self.args))
        object.__setattr__(self, "ref", _frozen(self.ref))
        if self.kind is Kind.SKILL and not self.skill:
            raise ValueError("a skill event must name its skill in args['skill']")
        if self.platform is Platform.PLUGIN and not self.surface:
            raise ValueError("a plugin surface's event must name its surface in ref['surface']")

    @property
    def skill(self) -> str:
        """The plugin skill a `Kind.SKILL` event asks for; empty for every other kind."""
        return self.args.get("skill", "") if self.kind is Kind.SKILL else ""

    @property
    def regenerates(self) -> str:
        """The event whose answer this one asks again (Regenerate); empty for a new question."""
        return self.args.get("regenerates", "")

    @property
    def asked(self) -> str:
        """The event whose user message this one answers: its own, or the first question a Regenerate asks again."""
        return self.args.get("asked", "") or self.key

    @property
    def surface(self) -> str:
        """The plugin surface a `Platform.PLUGIN` event came from; empty for the built-in platforms."""
        return str(self.ref.get("surface", "")) if self.platform is Platform.PLUGIN else ""

    @property
    def tenant_platform(self) -> str:
        """The platform of the tenant the event belongs to: its own, except for an admin job run on behalf
        of a Slack workspace or Discord guild (`ref["tenant_platform"]`), which counts in that tenant."""
        return str(self.ref.get("tenant_platform") or self.platform)

    @property
    def key(self) -> str:
        """Idempotency key: the platform's own id for this message within its tenant."""
        return f"{self.platform}:{self.tenant}:{self.message_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": str(self.platform),
            "tenant": self.tenant,
            "channel": self.channel,
            "thread": self.thread,
            "user": self.user,
            "message_id": self.message_id,
            "text": self.text,
            "kind": str(self.kind),
            "priority": str(self.priority),
            "args": dict(self.args),
            "attachments": [asdict(a) for a in self.attachments],
            "context": [{"author": q.author, "text": q.text} for q in self.context],
            "roles": list(self.roles),
            "user_name": self.user_name,
            "tenant_name": self.tenant_name,
            "channel_name": self.channel_name,
            "ref": dict(self.ref),
            "received_at": self.received_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        fields = dict(data)
        fields["attachments"] = tuple(Attachment(**a) for a in fields.get("attachments", ()))
        fields["context"] = tuple(Quoted(**q) for q in fields.get("context", ()))
        fields["roles"] = tuple(fields.get("roles", ()))
        return cls(**fields)
