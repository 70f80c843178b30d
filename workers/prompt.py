"""Build the prompt in a fixed order, so every follow-up turn shares the previous turn's prefix.

System prompt (base, persona, channel instructions, language), then the conversation oldest first,
then the new request. Nothing that changes per turn (times, ids) goes before the history, which is
what lets vLLM's automatic prefix caching reuse the whole earlier conversation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from db.conversations import Turn
from db.knowledge import Found
from db.memories import Remembered
from engine.base import ChatMessage
from workers.documents import cite
from workers.events import Attachment, Event, Quoted
from workers.skills import Skill, render
from workers.tools.loop import replay

MAX_ATTACHMENT_CHARS = 20_000


def version(base_system: str, skill: Skill) -> str:
    """Which prompt wrote an answer: a short hash of the deployment's system prompt and the skill's
    own, kept with the answer so feedback can be compared across prompt changes."""
    text = "\x00".join((base_system, skill.key, skill.system, skill.template))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def capped(remembered: Sequence[Remembered], budget: int, count: Callable[[str], int]) -> list[Remembered]:
    """The most recent memories that fit in `budget` tokens together."""
    if sum(len(m.content.encode("utf-8")) + 2 for m in remembered) <= budget:
        return list(remembered)  # a token is at least a byte: they fit without asking the tokenizer
    kept: list[Remembered] = []
    for memory in remembered:
        budget -= count(memory.content) + 2
        if budget < 0:
            break
        kept.append(memory)
    return kept


def memory_note(memories: Sequence[Remembered]) -> str:
    """The person's memories, most recent first, as one block of the system prompt."""
    if not memories:
        return ""
    lines = [f"- {m.content}" + (" (this channel)" if m.channel else "") for m in memories]
    return "What the person asked you to remember (most recent first):\n" + "\n".join(lines)


def system_prompt(base: str, prefs: Mapping[str, str], memories: Sequence[Remembered] = ()) -> str:
    parts = [base.strip()]
    if prefs.get("persona"):
        parts.append(f"Act as {prefs['persona'].strip()}.")
    if prefs.get("system_prompt"):
        parts.append(prefs["system_prompt"].strip())
    if prefs.get("language"):
        parts.append(f"Always answer in {prefs['language'].strip()}.")
    if prefs.get("length") == "short":
        parts.append("Keep answers to a few sentences.")
    text = " ".join(p for p in parts if p)
    # Last in the system prompt, which stays the same turn after turn until a memory changes.
    note = memory_note(memories)
    return f"{text}\n\n{note}" if note else text


def speaking(history: Sequence[Turn], asker: str) -> bool:
    """Whether more than one person talks in this conversation: then each turn says who spoke."""
    return len({turn.author for turn in history if turn.role == "user" and turn.author} | {asker} - {""}) > 1


def said_by(author: str, content: str, *, named: bool) -> str:
    return f"{author}: {content}" if named and author else content


def turns(history: Sequence[Turn], *, named: bool = False) -> list[ChatMessage]:
    """The conversation as chat turns; an answer made with tools brings its calls and results back too.

    `named`: several people talk with the assistant here, and each of their turns starts with a name.
    """
    out: list[ChatMessage] = []
    for turn in history:
        if turn.role == "assistant":
            out += replay(turn.tool_rounds)
            out.append(ChatMessage("assistant", turn.content))
        else:
            out.append(ChatMessage("user", said_by(turn.author, turn.content, named=named)))
    return out


def transcript(lines: Sequence[Quoted] | Sequence[Turn]) -> str:
    out = []
    for line in lines:
        if isinstance(line, Quoted):
            out.append(f"{line.author or 'someone'}: {line.text}")
        else:
            out.append(f"{'assistant' if line.role == 'assistant' else line.author or 'user'}: {line.content}")
    return "\n".join(out)


def sees_images(model: str, vision_models: str) -> bool:
    """Whether `model` is listed in VISION_MODELS (comma-separated names, or * for every model)."""
    names = {name.strip() for name in vision_models.split(",") if name.strip()}
    return "*" in names or model in names


def with_attachments(text: str, attachments: Sequence[Attachment], *, vision: bool = False) -> str:
    parts = [text]
    for item in attachments:
        if item.text:
            # Read in parts beforehand when too long for the window (workers.documents.mapreduce).
            parts.append(f"\n\n[file {item.name}]\n{item.text}")
        elif item.image and not vision:
            parts.append(f"\n\n[image {item.name}: not shown, this model cannot see images]")
    return "".join(parts)


def build(
    *,
    event: Event,
    skill: Skill,
    base_system: str,
    prefs: Mapping[str, str],
    history: Sequence[Turn],
    vision: bool = False,
    memories: Sequence[Remembered] = (),
    passages: Sequence[Found] = (),
) -> list[ChatMessage]:
    # What the request names itself (`/translate German …`) wins over a standing preference (language French).
    standing = {key: value for key, value in prefs.items() if key not in event.args}
    system = " ".join(part for part in (system_prompt(base_system, standing, memories), skill.system.strip()) if part)
    messages = [ChatMessage("system", system)]
    named = skill.history and speaking(history, event.user_name)
    if skill.history:
        messages += turns(history, named=named)
    source: Sequence[Quoted] | Sequence[Turn] = event.context or (history if skill.transcript else ())
    text = with_attachments(cite.with_question(passages, event.text), event.attachments, vision=vision)
    if not text.strip() and event.context and not skill.transcript:
        # "Translate" on a quoted message: the quoted text is the input.
        text, source = transcript(event.context), ()
    content = render(
        skill, text=said_by(event.user_name, text, named=named), transcript=transcript(source), args=event.args
    )
    images = tuple(a.image for a in event.attachments if a.image) if vision else ()
    messages.append(ChatMessage("user", content, images=images))
    return messages
