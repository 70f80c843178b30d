"""Skills are data: a prompt template with parameters, run by the same task path as a plain question.

`{input}` is what the user typed, `{transcript}` the messages to work on (quoted by the adapter, or
the conversation's last `n`), and any other field comes from the request's arguments or defaults.

Plugins add skills (`workers.plugins`); a `SkillBook` holds the built-in ones and those, and is what
the worker and the surfaces consult.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from workers.events import Event, Kind


@dataclass(frozen=True, slots=True)
class Skill:
    kind: Kind
    usage: str
    summary: str
    template: str
    defaults: Mapping[str, str] = field(default_factory=dict)
    # Send the conversation so far as chat turns (a dialogue), or not at all.
    history: bool = False
    # Needs a transcript: the adapter's quoted messages, or the conversation's last `n` messages.
    transcript: bool = False
    # None: the deployment's ANSWER_TEMPERATURE.
    temperature: float | None = 0.3
    max_tokens: int | None = None
    # A plugin skill's name (`/name …`); built-in skills are named by their kind.
    name: str = ""
    # Added to the system prompt while this skill answers.
    system: str = ""

    @property
    def key(self) -> str:
        return self.name or str(self.kind)


SKILLS: dict[Kind, Skill] = {
    s.kind: s
    for s in (
        Skill(
            kind=Kind.ASK,
            usage="/ask <question>",
            summary="ask anything; plain messages do the same",
            template="{input}",
            history=True,
            temperature=None,
        ),
        Skill(
            kind=Kind.SUMMARIZE,
            usage="/summarize [n]",
            summary="summarize this thread, or the last n messages",
            template="Summarize the following conversation in a few short bullet points.\n\n{transcript}",
            defaults={"n": "20"},
            transcript=True,
            temperature=0.2,
        ),
        Skill(
            kind=Kind.TRANSLATE,
            usage="/translate <language> <text>",
            summary="translate text (or the quoted message) into a language",
            template="Translate the following text into {language}. Reply with the translation only.\n\n{input}",
            defaults={"language": "English"},
            temperature=0.1,
        ),
        Skill(
            kind=Kind.DRAFT,
            usage="/draft <what the reply should say>",
            summary="draft a reply to this conversation",
            template=(
                "Draft a reply to the last message of the conversation below. {input}\n"
                "Write only the reply.\n\n{transcript}"
            ),
            defaults={"n": "10"},
            transcript=True,
            temperature=0.5,
        ),
        Skill(
            kind=Kind.MINUTES,
            usage="/minutes [n]",
            summary="meeting minutes: decisions, action items, owners",
            template=(
                "Write meeting minutes for the conversation below, with the headings Summary, Decisions and "
                "Action items (with owners).\n\n{transcript}"
            ),
            defaults={"n": "50"},
            transcript=True,
            temperature=0.2,
        ),
        Skill(
            kind=Kind.QUIZ,
            usage="/quiz [n] <topic>",
            summary="a short quiz to learn a topic, answers at the end",
            template=(
                "Write a quiz of {n} multiple-choice questions about: {input}\n"
                "Give the answers at the end.{transcript_note}"
            ),
            defaults={"n": "3"},
            temperature=0.5,
        ),
    )
}


class SkillBook:
    """The built-in skills and the plugins' ones, by name; one per process, built at its entry point."""

    def __init__(self, plugins: Iterable[Skill] = ()) -> None:
        self._plugins: dict[str, Skill] = {}
        for skill in plugins:
            self.add(skill)

    def add(self, skill: Skill) -> None:
        if skill.kind is not Kind.SKILL or not skill.name:
            raise ValueError("a plugin skill has kind SKILL and a name")
        self._plugins[skill.name] = skill

    def remove(self, name: str) -> None:
        self._plugins.pop(name, None)

    @property
    def names(self) -> frozenset[str]:
        """The plugin skills' names, for the surfaces' parsers."""
        return frozenset(self._plugins)

    def __iter__(self) -> Iterator[Skill]:
        yield from SKILLS.values()
        yield from self._plugins.values()

    def for_event(self, event: Event) -> Skill | None:
        """The skill that answers `event`: None for a plugin skill this process does not have."""
        if event.kind is Kind.SKILL:
            return self._plugins.get(event.skill)
        return SKILLS.get(event.kind) or SKILLS[Kind.ASK]


def render(skill: Skill, *, text: str, transcript: str, args: Mapping[str, str]) -> str:
    values = {**skill.defaults, **args}
    values["input"] = text
    values["transcript"] = transcript
    values["transcript_note"] = f"\n\nBase it on this material:\n{transcript}" if transcript else ""
    return skill.template.format_map(_Missing(values))


class _Missing(dict[str, str]):
    """Leave an unknown placeholder visible instead of failing the whole answer."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
