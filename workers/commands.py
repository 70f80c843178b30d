"""Commands LLMOS answers itself, without the engine: prefs, forget, usage, help."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from db import conversations, memories, preferences, usage
from db.directory import Place
from db.preferences import Scope
from engine.embeddings import Embedder
from workers import memory_commands
from workers.documents import learning
from workers.events import Attachment, Kind
from workers.guides import PLAIN, Guide
from workers.skills import SKILLS, Skill, SkillBook

LENGTHS = {"short": 128, "medium": 512, "long": 1024}
REASONING = ("hide", "show")
# Keys whose values are words from a fixed list, stored lower-case.
CHOICE_KEYS = frozenset({"length", "reasoning"})


@dataclass(frozen=True, slots=True)
class PrefKey:
    description: str
    check: Callable[[str, tuple[str, ...]], str | None]


def _free_text(limit: int) -> Callable[[str, tuple[str, ...]], str | None]:
    def check(value: str, _models: tuple[str, ...]) -> str | None:
        return f"keep it under {limit} characters" if len(value) > limit else None

    return check


def _length(value: str, _models: tuple[str, ...]) -> str | None:
    return None if value in LENGTHS else f"choose one of: {', '.join(LENGTHS)}"


def _reasoning(value: str, _models: tuple[str, ...]) -> str | None:
    return None if value in REASONING else f"choose one of: {', '.join(REASONING)}"


def _model(value: str, models: tuple[str, ...]) -> str | None:
    if not models or value in models:
        return None
    return f"this engine serves: {', '.join(models)}"


PREF_KEYS: dict[str, PrefKey] = {
    "persona": PrefKey("how the assistant should behave, e.g. 'a patient maths teacher'", _free_text(500)),
    "language": PrefKey("the language answers are written in, e.g. French", _free_text(40)),
    "model": PrefKey("which served model answers you", _model),
    "length": PrefKey("answer length: short, medium or long", _length),
    "reasoning": PrefKey("show a reasoning model's thinking before its answer: show or hide", _reasoning),
}


def run_prefs(
    session: Session, *, place: Place, args: Mapping[str, str], models: tuple[str, ...], guide: Guide = PLAIN
) -> str:
    action = args.get("action", "show")
    key = args.get("key", "")
    if action in {"set", "unset"} and key not in PREF_KEYS:
        return f"Unknown preference {key!r}. You can set: {', '.join(PREF_KEYS)}."
    if action == "set":
        value = args.get("value", "").strip()
        if not value:
            return f"Usage: {guide.prefs('set', key, '<value>')} ({PREF_KEYS[key].description})."
        if key in CHOICE_KEYS:
            value = value.lower()
        problem = PREF_KEYS[key].check(value, models)
        if problem:
            return f"Cannot set {key} to {value!r}: {problem}."
        preferences.set_value(
            session,
            tenant_id=place.tenant_id,
            scope=Scope.USER,
            user_id=place.user_id,
            key=key,
            value=value,
        )
        return f"Saved: {key} = {value}."
    if action == "unset":
        removed = preferences.unset(
            session, tenant_id=place.tenant_id, scope=Scope.USER, user_id=place.user_id, key=key
        )
        return f"Removed your {key} preference." if removed else f"You had no {key} preference."
    if action == "reset":
        for name in PREF_KEYS:
            preferences.unset(session, tenant_id=place.tenant_id, scope=Scope.USER, user_id=place.user_id, key=name)
        return "Your preferences are reset to the defaults."
    if action != "show":
        actions = " | ".join(
            (
                guide.prefs("show"),
                guide.prefs("set", "<key>", "<value>"),
                guide.prefs("unset", "<key>"),
                guide.prefs("reset"),
            )
        )
        return f"Usage: {actions}."
    mine = preferences.at_level(session, tenant_id=place.tenant_id, scope=Scope.USER, user_id=place.user_id)
    applied = preferences.effective(
        session, tenant_id=place.tenant_id, channel_id=place.channel_id, user_id=place.user_id
    )
    lines = [f"Your preferences (yours win over the channel's and the {guide.tenant}'s):"]
    for name, spec in PREF_KEYS.items():
        current = applied.get(name)
        source = "" if current is None else (" (yours)" if name in mine else " (set for this channel or workspace)")
        lines.append(f"• {name}: {current if current is not None else 'default'}{source} — {spec.description}")
    lines.append(f"Change one with {guide.prefs('set', '<key>', '<value>')}.")
    return "\n".join(lines)


def run_forget(session: Session, *, place: Place, guide: Guide = PLAIN) -> str:
    gone = conversations.forget_user(session, tenant_id=place.tenant_id, user_id=place.user_id)
    forgotten = memories.forget_person(session, tenant_id=place.tenant_id, user_id=place.user_id)
    return (
        f"Done: I deleted {gone.conversations} conversation(s) and {gone.messages} message(s) of yours, "
        f"and {forgotten} memory(ies). "
        f"Your preferences and token totals are kept; {guide.prefs('reset')} clears the preferences."
    )


def run_usage(session: Session, *, place: Place) -> str:
    today = datetime.now(UTC).date()
    day = usage.totals(session, tenant_id=place.tenant_id, user_id=place.user_id, since=today)
    total = usage.totals(session, tenant_id=place.tenant_id, user_id=place.user_id)
    return (
        f"Today: {day.total_tokens} tokens ({day.prompt_tokens} prompt + {day.completion_tokens} answer) "
        f"in {day.requests} request(s).\nAll time: {total.total_tokens} tokens in {total.requests} request(s)."
    )


# What LLMOS answers itself, as `/name args` (each surface writes it its own way) and what it does.
COMMAND_HELP = (
    ("/prefs [set <key> <value>]", "show or change persona, language, model, length, reasoning"),
    ("/forget", "delete your stored conversations and memories"),
    ("/usage", "your token usage"),
    ("/remember <fact>", "something I keep in mind in every conversation (or say “remember that …”)"),
    ("/memories", "what I remember about you"),
    ("/forget-memory <n>|all", "remove one memory, or all"),
    ("/learn", "with files attached: add the documents to this channel's knowledge"),
    ("/knowledge [forget <name>]", "the documents questions here are answered from, or remove one"),
)


def run_help(*, error: str | None = None, skills: Iterable[Skill] = SKILLS.values(), guide: Guide = PLAIN) -> str:
    lines = [f"{error}." if error else "", "What I can do:"]
    lines += [f"• {guide.way(skill.usage, listing=True)} — {skill.summary}" for skill in skills]
    lines += [f"• {guide.way(usage, listing=True)} — {summary}" for usage, summary in COMMAND_HELP]
    lines += list(guide.extras)
    return "\n".join(line for line in lines if line)


COMMANDS = frozenset(
    {Kind.PREFS, Kind.FORGET, Kind.USAGE, Kind.HELP, Kind.REMEMBER, Kind.MEMORIES, Kind.FORGET_MEMORY}
    | {Kind.LEARN, Kind.KNOWLEDGE}
)


def run(
    session: Session,
    *,
    kind: Kind,
    place: Place,
    args: Mapping[str, str],
    models: tuple[str, ...],
    skills: SkillBook | None = None,
    attachments: Sequence[Attachment] = (),
    who: str = "",
    guide: Guide = PLAIN,
    embedder: Embedder | None = None,
) -> str:
    if kind is Kind.LEARN:
        return learning.run_learn(session, place=place, attachments=attachments, added_by=who, embedder=embedder)
    if kind is Kind.KNOWLEDGE:
        return learning.run_knowledge(session, place=place, args=args)
    if kind is Kind.PREFS:
        return run_prefs(session, place=place, args=args, models=models, guide=guide)
    if kind is Kind.FORGET:
        return run_forget(session, place=place, guide=guide)
    if kind is Kind.USAGE:
        return run_usage(session, place=place)
    if kind is Kind.REMEMBER:
        return memory_commands.run_remember(session, place=place, args=args, guide=guide)
    if kind is Kind.MEMORIES:
        return memory_commands.run_memories(session, place=place, guide=guide)
    if kind is Kind.FORGET_MEMORY:
        return memory_commands.run_forget_memory(session, place=place, args=args, guide=guide)
    book = skills or SkillBook()
    if kind is Kind.SKILL:
        # A plugin skill this worker does not have (installed where the message came in, not here).
        return run_help(error=f"unknown skill /{args.get('skill', '')} here", skills=book, guide=guide)
    error, example = args.get("error"), args.get("example")
    if error and example:
        # The example as this surface writes it (`/llmos translate …` in Slack).
        error = f"{error}, e.g. {guide.way(example)}"
    return run_help(error=error, skills=book, guide=guide)
