"""Build the prompt in a fixed order, so every follow-up turn shares the previous turn's prefix.

System prompt (base, persona, channel instructions, language), then the conversation oldest first,
then the new request. Nothing that changes per turn (times, ids) goes before the history, which is
what lets vLLM's automatic prefix caching reuse the whole earlier conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from db.conversations import Turn
from engine.base import ChatMessage
from workers.events import Attachment, Event, Quoted
from workers.skills import Skill, render

MAX_ATTACHMENT_CHARS = 20_000


def system_prompt(base: str, prefs: Mapping[str, str]) -> str:
    parts = [base.strip()]
    if prefs.get("persona"):
        parts.append(f"Act as {prefs['persona'].strip()}.")
    if prefs.get("system_prompt"):
        parts.append(prefs["system_prompt"].strip())
    if prefs.get("language"):
        parts.append(f"Always answer in {prefs['language'].strip()}.")
    if prefs.get("length") == "short":
        parts.append("Keep answers to a few sentences.")
    return " ".join(p for p in parts if p)


def transcript(lines: Sequence[Quoted] | Sequence[Turn]) -> str:
    out = []
    for line in lines:
        if isinstance(line, Quoted):
            out.append(f"{line.author or 'someone'}: {line.text}")
        else:
            out.append(f"{'assistant' if line.role == 'assistant' else 'user'}: {line.content}")
    return "\n".join(out)


def with_attachments(text: str, attachments: Sequence[Attachment]) -> str:
    parts = [text]
    for item in attachments:
        if item.text:
            body = item.text[:MAX_ATTACHMENT_CHARS]
            parts.append(f"\n\n[file {item.name}]\n{body}")
    return "".join(parts)


def images_of(attachments: Sequence[Attachment], *, vision: bool) -> tuple[tuple[str, ...], str]:
    """Image URLs for a model that sees them; for one that does not, a line saying what it cannot see."""
    images = [a for a in attachments if a.url and a.mime_type.startswith("image/")]
    if vision or not images:
        return tuple(a.url for a in images if a.url), ""
    names = ", ".join(a.name for a in images)
    return (), f"\n\n[Attached image(s) {names}: this model cannot see images; say so if they matter.]"


def build(
    *,
    event: Event,
    skill: Skill,
    base_system: str,
    prefs: Mapping[str, str],
    history: Sequence[Turn],
    vision: bool = False,
) -> list[ChatMessage]:
    messages = [ChatMessage("system", system_prompt(base_system, prefs))]
    if skill.history:
        messages += [ChatMessage("assistant" if t.role == "assistant" else "user", t.content) for t in history]
    source: Sequence[Quoted] | Sequence[Turn] = event.context or (history if skill.transcript else ())
    text = with_attachments(event.text, event.attachments)
    if not text.strip() and event.context and not skill.transcript:
        # "Translate" on a quoted message: the quoted text is the input.
        text, source = transcript(event.context), ()
    images, unseen = images_of(event.attachments, vision=vision)
    content = render(skill, text=text + unseen, transcript=transcript(source), args=event.args)
    messages.append(ChatMessage("user", content, images))
    return messages
