"""Turn what a person typed (`/translate French hello`, `/prefs set length short`) into a request.

Every surface uses this one parser: the terminal for its lines, Slack for `/llmos ...`, Discord for
plain messages. Platform-native commands with typed options build the same `Request` directly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from workers.events import Kind, PriorityClass


@dataclass(frozen=True, slots=True)
class Request:
    kind: Kind
    text: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def priority(self) -> PriorityClass:
        return PriorityClass.INTERACTIVE if self.kind is Kind.ASK else PriorityClass.COMMANDS


_ALIASES = {
    "sum": Kind.SUMMARIZE,
    "summary": Kind.SUMMARIZE,
    "tr": Kind.TRANSLATE,
    "reply": Kind.DRAFT,
    "settings": Kind.PREFS,
    "preferences": Kind.PREFS,
    "?": Kind.HELP,
}


# Thanks and nods: in a thread with the assistant they close a turn, they do not ask for one.
_ACKNOWLEDGEMENT = re.compile(
    r"^(?:(?:thanks|thank you)(?: (?:a lot|so much|very much))?|thx|ty|ok(?:ay)?|cool|great|nice|perfect|got it|"
    r"sounds good|"
    r"awesome|makes sense|will do|lol|[\W_]*)[\s!.,:;)(\W_]*$",
    re.IGNORECASE,
)
# "Bob, can you …" / "@bob: …": words to one person, named first.
_TO_SOMEONE = re.compile(r"^@?(?P<name>[^\s,:@][^,:\n]{0,39}?)\s*[,:]")

# "remember that I take my coffee black" saves a memory the way /remember does.
_REMEMBER_THAT = re.compile(r"^remember\s+that\s+(?P<fact>\S.*)$", re.IGNORECASE | re.DOTALL)
# Largest `n` a skill accepts (messages to summarize, quiz questions); more digits than this are clamped.
MAX_COUNT = 200
_COUNT_DIGITS = len(str(MAX_COUNT))


def clean(text: str) -> str:
    """The text with lone UTF-16 surrogates replaced and NULs dropped: neither can be stored or sent on.

    JSON (`"\\ud800"`) and some platform payloads can carry them; PostgreSQL and UTF-8 encoders refuse
    them, which would turn one odd character into a failed request.
    """
    if text.isascii():
        return text.replace("\x00", "")
    paired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return paired.replace("\x00", "")


def reserved() -> frozenset[str]:
    """Words a plugin skill may not take: the built-in skills, commands and their aliases."""
    return frozenset(_ALIASES) | {str(kind) for kind in Kind}


def parse(text: str, *, prefix: str = "/", skills: Collection[str] = ()) -> Request:
    """A line without the prefix is a question; `/word ...` names a skill, a plugin's skill (one of
    `skills`) or a command.

    Any line gets a request: what does not fit a command's arguments becomes help with the reason.
    """
    stripped = clean(text).strip()
    if not stripped.startswith(prefix):
        said = _REMEMBER_THAT.match(stripped)
        if said:
            return _with_args(Kind.REMEMBER, said["fact"].strip())
        return Request(kind=Kind.ASK, text=stripped)
    word, _, rest = stripped[len(prefix) :].partition(" ")
    name = word.lower()
    if name in skills:
        return Request(kind=Kind.SKILL, text=rest.strip(), args={"skill": name})
    try:
        kind = _ALIASES.get(name) or Kind(name)
    except ValueError:
        kind = Kind.SKILL  # not a word of its own: plugin skills are named as themselves
    if kind is Kind.SKILL:
        close = suggestion(name, skills=skills)
        hint = f" (did you mean {prefix}{close}?)" if close else ""
        return Request(kind=Kind.HELP, text="", args={"error": f"unknown command {prefix}{word}{hint}"})
    return _with_args(kind, rest.strip())


def suggestion(word: str, *, skills: Collection[str] = ()) -> str | None:
    """The command or skill `word` is most likely a typo of (`sumarize` → `summarize`), if any."""
    names = sorted({str(kind) for kind in Kind if kind is not Kind.SKILL} | set(skills))
    found = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.85)
    return found[0] if found else None


def unusable(request: Request) -> Request:
    """A request that cannot run as typed where nothing is quoted becomes help with the reason:
    `/translate German` names no text, `/ask` no question. Surfaces call it before showing or asking anything."""
    if request.kind is Kind.TRANSLATE and not request.text:
        return Request(
            kind=Kind.HELP, text="", args={"error": "say what to translate", "example": "/translate French hello"}
        )
    if request.kind is Kind.ASK and not request.text:
        return Request(
            kind=Kind.HELP, text="", args={"error": "say what to ask", "example": "/ask why is the sky blue?"}
        )
    return request


def for_someone_else(text: str, *, others: Collection[str] = ()) -> bool:
    """In a thread the assistant takes part in, a message that is not asked of it: thanks or a nod,
    or words that start by naming one of the `others` who talk there ("Bob, can you check?")."""
    said = text.strip()
    if not said:
        return False  # a file shared without words is for the assistant to read
    if _ACKNOWLEDGEMENT.match(said):
        return True
    named = _TO_SOMEONE.match(said)
    return named is not None and named["name"].strip().lower() in {other.lower() for other in others if other}


def count(value: str) -> int | None:
    """A count typed as ASCII digits, clamped to 1..MAX_COUNT; None for anything else.

    `str.isdigit` accepts `²` and `٣`, which `int()` then refuses or reads unexpectedly, and a
    5,000-digit number exceeds `int()`'s string limit: neither may reach `int()`.
    """
    if not value or not value.isascii() or not value.isdigit():
        return None
    digits = value.lstrip("0")
    if len(digits) > _COUNT_DIGITS:
        return MAX_COUNT
    return min(int(digits or "0"), MAX_COUNT) or 1


def _leading_number(rest: str) -> tuple[int | None, str]:
    head, _, tail = rest.partition(" ")
    n = count(head)
    if n is not None:
        return n, tail.strip()
    return None, rest


def _with_args(kind: Kind, rest: str) -> Request:
    args: dict[str, str] = {}
    if kind in {Kind.SUMMARIZE, Kind.MINUTES, Kind.QUIZ}:
        n, rest = _leading_number(rest)
        if n is not None:
            args["n"] = str(n)
    elif kind is Kind.TRANSLATE:
        first = rest.split(" ", 1)[0].lower()
        words = rest.split(" ", 2)[1:] if first in {"to", "into"} else rest.split(" ", 1)
        if words and words[0]:
            args["language"] = words[0].strip(":,")
            rest = words[1] if len(words) > 1 else ""
    elif kind is Kind.PREFS:
        action, _, tail = rest.partition(" ")
        key, _, value = tail.strip().partition(" ")
        if action:
            args["action"] = action.lower()
        if key:
            args["key"] = key.lower()
        if value:
            args["value"] = value.strip()
        rest = ""
    elif kind is Kind.REMEMBER and rest:
        args["fact"] = rest
    elif kind is Kind.FORGET_MEMORY and rest:
        args["which"] = rest.split(" ", 1)[0].lower()
    elif kind is Kind.KNOWLEDGE and rest:
        action, _, name = rest.partition(" ")
        args["action"] = action.lower()
        if name.strip():
            args["name"] = name.strip()
        rest = ""
    return Request(kind=kind, text=rest, args=args)
