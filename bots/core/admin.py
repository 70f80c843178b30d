"""What a workspace or server admin changes, on every surface: per-channel system prompts, allow and
block rules, and the per-user request rate. All of it is platform-neutral data that intake and the
workers already read; these functions only write it for one tenant and say what they did.

Who counts as an admin is the surface's question (Slack's owners and admins, Discord's Manage
Server); how a user, role or channel is written in the reply is the surface's `Label`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from db import access, directory, limits, preferences
from db.access import Effect, Subject
from db.preferences import Scope

PROMPT_LIMIT = 2000
SYSTEM_PROMPT = "system_prompt"

# How a surface writes a user, role or channel in a message (`<@U…>`, `<#C…>`, …).
Label = Callable[[Subject, str], str]


@dataclass(frozen=True, slots=True)
class Tenancy:
    """The tenant an admin command runs in: a Slack workspace, a Discord guild."""

    platform: str
    id: str
    name: str = ""


class Change(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    REMOVE = "remove"


def _tenant_id(session: Session, tenancy: Tenancy) -> int:
    tenant = directory.tenant(session, platform=tenancy.platform, external_id=tenancy.id, name=tenancy.name)
    session.flush()
    return tenant.id


def channel_prompt(
    sessions: sessionmaker[Session],
    *,
    tenancy: Tenancy,
    channel: str,
    channel_name: str = "",
    text: str | None,
    clear: bool,
    where: str,
) -> str:
    """Show, set or clear the system prompt every answer in this channel (and its threads) gets."""
    if text is not None and len(text) > PROMPT_LIMIT:
        return f"That prompt has {len(text)} characters; keep it under {PROMPT_LIMIT}."
    with sessions.begin() as session:
        tenant_id = _tenant_id(session, tenancy)
        row = directory.channel(session, tenant_id=tenant_id, external_id=channel, name=channel_name)
        session.flush()
        if clear:
            removed = preferences.unset(
                session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id, key=SYSTEM_PROMPT
            )
            return f"Cleared the system prompt of {where}." if removed else f"{where} had no system prompt."
        if text is not None and text.strip():
            preferences.set_value(
                session,
                tenant_id=tenant_id,
                scope=Scope.CHANNEL,
                channel_id=row.id,
                key=SYSTEM_PROMPT,
                value=text.strip(),
            )
            return f"Saved. Answers in {where} now follow:\n> {text.strip()}"
        current = preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id)
    prompt = current.get(SYSTEM_PROMPT)
    return f"System prompt of {where}:\n> {prompt}" if prompt else f"{where} has no system prompt of its own."


def change_access(
    sessions: sessionmaker[Session],
    *,
    tenancy: Tenancy,
    change: Change,
    named: Sequence[tuple[Subject, str]],
    label: Label,
) -> str:
    """Allow, block or remove the rules of each user, role or channel named."""
    if not named:
        return "Name at least one member, role or channel."
    lines = []
    with sessions.begin() as session:
        tenant_id = _tenant_id(session, tenancy)
        for kind, subject in named:
            shown = label(kind, subject)
            if change is Change.REMOVE:
                gone = access.remove_rule(session, tenant_id=tenant_id, subject_type=kind, subject=subject)
                lines.append(f"Removed the rule for {shown}." if gone else f"There was no rule for {shown}.")
                continue
            effect = Effect.ALLOW if change is Change.ALLOW else Effect.BLOCK
            access.set_rule(session, tenant_id=tenant_id, subject_type=kind, subject=subject, effect=effect)
            lines.append(
                f"Allowed {shown}." if change is Change.ALLOW else f"Blocked {shown} from using the assistant here."
            )
    if change is Change.ALLOW:
        for kind in dict.fromkeys(kind for kind, _ in named):
            lines.append(
                f"Once any {kind} is allowed, only allowed {kind}s can use the assistant here; blocks always win."
            )
    return " ".join(lines) if len(named) == 1 else "\n".join(lines)


def list_access(sessions: sessionmaker[Session], *, tenancy: Tenancy, label: Label) -> str:
    with sessions.begin() as session:
        rules = access.rules(session, tenant_id=_tenant_id(session, tenancy))
    if not rules:
        return "No access rules: everyone here can use the assistant."
    lines = ["Access rules (blocks win; an allow rule limits its kind to the allowed ones):"]
    lines += [f"• {effect} {label(kind, subject)}" for kind, subject, effect in rules]
    return "\n".join(lines)


# The most requests per user and minute a tenant's admins may set, whatever the deployment allows.
MAX_PER_MINUTE = 1000


def rate_limit(
    sessions: sessionmaker[Session], *, tenancy: Tenancy, per_minute: int, ceiling: int | None = None
) -> str:
    """Requests one user may make per minute in this tenant; 0 returns to the deployment default.

    `ceiling` is the deployment's own rate (SCHED_USER_REQUESTS_PER_MINUTE): a tenant's admins may
    tighten it, never loosen it.
    """
    if per_minute < 0:
        return "The rate must be 0 (no limit of this tenant's own) or more."
    highest = min(ceiling or MAX_PER_MINUTE, MAX_PER_MINUTE)
    if per_minute > highest:
        return f"The rate can be at most {highest} per minute here (the deployment's limit)."
    with sessions.begin() as session:
        limits.update(
            session,
            tenant_id=_tenant_id(session, tenancy),
            changes={"user_requests_per_minute": per_minute or None},
        )
    if per_minute == 0:
        return "Removed the per-user rate limit here; the deployment's default applies."
    return f"Each user here may now ask {per_minute} time(s) per minute."
