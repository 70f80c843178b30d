"""What a server admin (Manage Server) changes with `/admin`: per-channel system prompts, allow and
block lists, and the per-user request rate. All of it is platform-neutral data the workers and intake
already read; these functions only write it for one guild.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db import access, directory, limits, preferences
from db.access import Effect, Subject
from db.preferences import Scope
from workers.events import Platform

PROMPT_LIMIT = 2000
SYSTEM_PROMPT = "system_prompt"


@dataclass(frozen=True, slots=True)
class Guild:
    id: str
    name: str = ""


def _tenant_id(session: Session, guild: Guild) -> int:
    tenant = directory.tenant(session, platform=str(Platform.DISCORD), external_id=guild.id, name=guild.name)
    session.flush()
    return tenant.id


def channel_prompt(
    sessions: sessionmaker[Session], *, guild: Guild, channel: str, channel_name: str, text: str | None, clear: bool
) -> str:
    """Show, set or clear the system prompt every answer in this channel (and its threads) gets."""
    where = f"<#{channel}>"
    if text is not None and len(text) > PROMPT_LIMIT:
        return f"That prompt has {len(text)} characters; keep it under {PROMPT_LIMIT}."
    with sessions.begin() as session:
        tenant_id = _tenant_id(session, guild)
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


def _label(subject_type: Subject, subject: str) -> str:
    return {Subject.USER: f"<@{subject}>", Subject.ROLE: f"<@&{subject}>", Subject.CHANNEL: f"<#{subject}>"}[
        subject_type
    ]


def change_access(
    sessions: sessionmaker[Session], *, guild: Guild, action: str, subject_type: Subject, subject: str
) -> str:
    """`allow`, `block` or `remove` one user, role or channel in this guild."""
    label = _label(subject_type, subject)
    with sessions.begin() as session:
        tenant_id = _tenant_id(session, guild)
        if action == "remove":
            gone = access.remove_rule(session, tenant_id=tenant_id, subject_type=subject_type, subject=subject)
            return f"Removed the rule for {label}." if gone else f"There was no rule for {label}."
        effect = Effect.ALLOW if action == "allow" else Effect.BLOCK
        access.set_rule(session, tenant_id=tenant_id, subject_type=subject_type, subject=subject, effect=effect)
    if effect is Effect.ALLOW:
        return (
            f"Allowed {label}. Once any {subject_type} is allowed, only allowed {subject_type}s can use the "
            "assistant here; blocks always win."
        )
    return f"Blocked {label} from using the assistant here."


def list_access(sessions: sessionmaker[Session], *, guild: Guild) -> str:
    with sessions.begin() as session:
        rules = access.rules(session, tenant_id=_tenant_id(session, guild))
    if not rules:
        return "No access rules: everyone here can use the assistant."
    lines = ["Access rules (blocks win; an allow rule limits its kind to the allowed ones):"]
    lines += [f"• {effect} {_label(kind, subject)}" for kind, subject, effect in rules]
    return "\n".join(lines)


# Whatever the deployment allows, a server's own rate stays within what the command declares.
MAX_PER_MINUTE = 1000


def rate_limit(sessions: sessionmaker[Session], *, guild: Guild, per_minute: int, ceiling: int | None = None) -> str:
    """Requests one user may make per minute in this guild; 0 returns to the deployment default.

    `ceiling` is the deployment's own rate: a server's admins may tighten it, never loosen it.
    """
    if per_minute < 0:
        return "The rate must be 0 (no limit of this server's own) or more."
    highest = min(ceiling or MAX_PER_MINUTE, MAX_PER_MINUTE)
    if per_minute > highest:
        return f"The rate can be at most {highest} per minute here (the deployment's limit)."
    with sessions.begin() as session:
        limits.update(
            session,
            tenant_id=_tenant_id(session, guild),
            changes={"user_requests_per_minute": per_minute or None},
        )
    if per_minute == 0:
        return "Removed this server's per-user rate limit; the deployment's default applies."
    return f"Each user here may now ask {per_minute} time(s) per minute."
