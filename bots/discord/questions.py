"""Who asked what, for an app's answer to a slash command read back from a channel.

Discord shows such an answer under "alice used /ask" and never posts the question itself, so a
transcript of the channel's messages would give the model other people's answers without their
questions. The answer carries its interaction: who ran it, and (only in the older `interaction` field)
the command's name; Discord never shows a command's options. LLMOS's own answers have their question
in LLMOS's store, under the event key of that interaction, so those come back whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from workers.events import Quoted

# What people and apps say in a channel: typed messages, replies, and apps' answers to commands.
COMMAND_ANSWERS = (discord.MessageType.chat_input_command, discord.MessageType.context_menu_command)
SPOKEN = (discord.MessageType.default, discord.MessageType.reply, *COMMAND_ANSWERS)
# LLMOS's stored questions, by the interaction ids of its answers.
Lookup = Callable[[list[int]], Awaitable[Mapping[int, "Stored"]]]


@dataclass(frozen=True, slots=True)
class Asking:
    """The command an answer answers: the interaction, who ran it, and its name ('' when not given)."""

    interaction: int
    asker: str
    command: str


@dataclass(frozen=True, slots=True)
class Stored:
    """A question as LLMOS kept it: the command's kind and what was asked ('' for a bare /summarize)."""

    kind: str
    text: str


def asking(message: discord.Message) -> Asking | None:
    """The command behind an app's answer; None for other messages, and for an answer's later parts
    (Discord's follow-ups), whose question came with the first part."""
    meta = message.interaction_metadata
    if meta is None or message.type not in COMMAND_ANSWERS or meta.original_response_message_id is not None:
        return None
    # The public `Message.interaction` is deprecated and warns on every read; its name is still sent.
    legacy = getattr(message, "_interaction", None)
    name = str(getattr(legacy, "name", "") or "")
    return Asking(interaction=meta.id, asker=meta.user.display_name, command=name)


def question(asked: Asking, *, app: str, stored: Stored | None = None) -> Quoted:
    """The line that goes before the answer: `/ask What is …` under the asker's name."""
    command = asked.command or (stored.kind if stored else "")
    said = " ".join(part for part in (f"/{command}" if command else "", stored.text if stored else "") if part)
    return Quoted(author=asked.asker, text=said or f"(ran a command of {app})")


def transcript(messages: Sequence[discord.Message], *, stored: Mapping[int, Stored]) -> tuple[Quoted, ...]:
    """The messages as the model reads them, oldest first, each command's answer after its question.

    `stored` holds LLMOS's own questions by interaction id; messages must be SPOKEN and have text.
    """
    lines: list[Quoted] = []
    for message in messages:
        asked = asking(message)
        if asked is not None:
            lines.append(question(asked, app=message.author.display_name, stored=stored.get(asked.interaction)))
        lines.append(Quoted(author=message.author.display_name, text=message.clean_content))
    return tuple(lines)


def own_interactions(messages: Sequence[discord.Message], *, me: int) -> list[int]:
    """The interactions whose answers LLMOS posted (their questions are in its store)."""
    return [asked.interaction for m in messages if m.author.id == me and (asked := asking(m)) is not None]


def author_of(raw: Mapping[str, Any]) -> str:
    """A message payload's author as shown (a context menu hands over the raw message)."""
    user = raw.get("author") or {}
    return str(user.get("global_name") or user.get("username") or "someone")


async def quote_target(raw: Mapping[str, Any], text: str, *, me: int, lookup: Lookup) -> tuple[Quoted, ...]:
    """A context menu's target message for the model: an app's answer to a command after its question."""
    said = Quoted(author=author_of(raw), text=text)
    meta = raw.get("interaction_metadata")
    answers = raw.get("type") in {kind.value for kind in COMMAND_ANSWERS}
    if not answers or not isinstance(meta, Mapping) or meta.get("original_response_message_id"):
        return (said,)
    user, legacy = meta.get("user") or {}, raw.get("interaction") or {}
    asked = Asking(
        interaction=int(meta["id"]),
        asker=str(user.get("global_name") or user.get("username") or "someone"),
        command=str(legacy.get("name") or ""),
    )
    mine = str((raw.get("author") or {}).get("id")) == str(me)
    stored = await lookup([asked.interaction]) if mine else {}
    return (question(asked, app=said.author, stored=stored.get(asked.interaction)), said)
