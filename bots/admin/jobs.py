"""Webhook jobs: what a caller may ask for, and how a job becomes an ordinary event on the task path.

A job is a skill with its input and a destination. It is queued as an `Event` on platform "admin"
whose message id is the caller's job id, so the spine's idempotency makes the same job id sent twice
one job. The event counts in the hook's tenant (`ref["tenant_platform"]`), so that tenant's
preferences, access rules and usage apply, and a Slack or Discord destination can only be a channel
of that same workspace or guild.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from bots.admin.files import FileIn
from workers.events import Attachment, Event, Kind, Platform, PriorityClass, Quoted

SKILL_KINDS = (Kind.ASK, Kind.SUMMARIZE, Kind.TRANSLATE, Kind.DRAFT, Kind.MINUTES, Kind.QUIZ)
BUILT_IN = frozenset(str(kind) for kind in SKILL_KINDS)
JOB_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_SPEAKER = re.compile(r"^([^:\n]{1,60}):\s+(.*)$")


class Destination(BaseModel):
    """Where the answer goes: the caller's callback URL, or a channel of the tenant's Slack or Discord."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["callback", "slack", "discord"]
    url: str | None = Field(default=None, max_length=2000)
    channel: str | None = Field(default=None, max_length=128)
    # Reply inside this thread (a Slack thread ts, a Discord thread id) instead of a new message.
    thread: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _complete(self) -> Destination:
        if self.type == "callback" and not self.url:
            raise ValueError("a callback destination needs a url")
        if self.type != "callback" and not self.channel:
            raise ValueError(f"a {self.type} destination needs a channel")
        return self


class JobRequest(BaseModel):
    """The body of `POST /hooks/{hook_id}/jobs`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        pattern=JOB_ID,
        description="Your id for this job; sending the same id again returns the same job. Default: derived "
        "from the signature, so only a byte-identical replay maps to the same job.",
    )
    skill: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,39}$",
        description="ask, summarize, translate, draft, minutes, quiz, or the name of an installed plugin skill",
    )
    input: str = Field(
        min_length=1,
        max_length=200_000,
        description="The question (ask), text to translate, quiz topic, or the conversation to summarize, "
        "draft a reply to or write minutes of ('name: message' lines).",
    )
    language: str | None = Field(default=None, max_length=40, description="translate: the target language")
    instructions: str | None = Field(default=None, max_length=4000, description="draft: what the reply should say")
    questions: int | None = Field(default=None, ge=1, le=20, description="quiz: how many questions")
    destination: Destination
    priority: PriorityClass = PriorityClass.BATCH
    files: list[FileIn] = Field(
        default_factory=list,
        max_length=10,
        description="documents the job works on (PDF, Word, PowerPoint, Excel, CSV, HTML, text), read into the input",
    )

    @field_validator("skill")
    @classmethod
    def _known_skill(cls, value: str, info: ValidationInfo) -> str:
        """A built-in skill, or a plugin's that this service has (the route passes their names)."""
        plugins: frozenset[str] = (info.context or {}).get("skills", frozenset())
        if value in BUILT_IN or value in plugins:
            return value
        raise ValueError(f"unknown skill; use one of {', '.join(sorted(BUILT_IN | plugins))}")

    @property
    def kind(self) -> Kind:
        return Kind(self.skill) if self.skill in BUILT_IN else Kind.SKILL

    def args(self) -> dict[str, str]:
        args: dict[str, str] = {"skill": self.skill} if self.kind is Kind.SKILL else {}
        if self.language:
            args["language"] = self.language
        if self.questions:
            args["n"] = str(self.questions)
        return args

    def same_job(self, *, skill: str, input_text: str, destination: dict[str, Any]) -> bool:
        return (
            self.skill == skill
            and self.input == input_text
            and self.destination.model_dump(exclude_none=True) == destination
        )


def transcript(text: str) -> tuple[Quoted, ...]:
    """'name: message' lines as quoted messages; other lines continue the message before them."""
    quoted: list[Quoted] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _SPEAKER.match(line.strip())
        if match:
            quoted.append(Quoted(author=match.group(1).strip(), text=match.group(2)))
        elif quoted:
            last = quoted.pop()
            quoted.append(Quoted(author=last.author, text=f"{last.text}\n{line}"))
        else:
            quoted.append(Quoted(author="text", text=line))
    return tuple(quoted)


def event_for(
    request: JobRequest,
    *,
    job_id: str,
    tenant_platform: str,
    tenant_external: str,
    tenant_name: str,
    hook_name: str,
    attachments: tuple[Attachment, ...] = (),
) -> Event:
    kind = request.kind
    text, context = request.input, tuple[Quoted, ...]()
    if kind in {Kind.SUMMARIZE, Kind.MINUTES, Kind.DRAFT}:
        text, context = request.instructions or "", transcript(request.input)
    destination = request.destination.model_dump(exclude_none=True)
    channel = request.destination.channel or f"hook-{hook_name}"
    ref: dict[str, Any] = {"job_id": job_id, "destination": destination}
    if tenant_platform != Platform.ADMIN:
        ref["tenant_platform"] = tenant_platform
    return Event(
        platform=Platform.ADMIN,
        tenant=tenant_external,
        channel=channel,
        thread=f"job-{job_id}",
        user=f"hook-{hook_name}",
        message_id=job_id,
        text=text,
        kind=kind,
        priority=request.priority,
        args=request.args(),
        attachments=attachments,
        context=context,
        user_name=f"hook {hook_name}",
        tenant_name=tenant_name,
        channel_name="" if request.destination.channel else f"hook {hook_name}",
        ref=ref,
    )
