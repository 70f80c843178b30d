from __future__ import annotations

import pytest

from workers.events import Kind, PriorityClass
from workers.requests import parse


@pytest.mark.parametrize(
    ("line", "kind", "text", "args"),
    [
        ("What is up?", Kind.ASK, "What is up?", {}),
        ("/ask why", Kind.ASK, "why", {}),
        ("/summarize 30", Kind.SUMMARIZE, "", {"n": "30"}),
        ("/summarize", Kind.SUMMARIZE, "", {}),
        ("/sum 999", Kind.SUMMARIZE, "", {"n": "200"}),
        ("/translate French good night", Kind.TRANSLATE, "good night", {"language": "French"}),
        ("/translate to German: hello", Kind.TRANSLATE, "hello", {"language": "German"}),
        ("/quiz 5 photosynthesis", Kind.QUIZ, "photosynthesis", {"n": "5"}),
        (
            "/prefs set language Brazilian Portuguese",
            Kind.PREFS,
            "",
            {"action": "set", "key": "language", "value": "Brazilian Portuguese"},
        ),
        ("/prefs", Kind.PREFS, "", {}),
        ("/forget", Kind.FORGET, "", {}),
        ("/nope x", Kind.HELP, "", {"error": "unknown command /nope"}),
    ],
)
def test_parse(line: str, kind: Kind, text: str, args: dict[str, str]) -> None:
    request = parse(line)
    assert (request.kind, request.text, request.args) == (kind, text, args)


def test_plain_questions_are_interactive_and_commands_are_not() -> None:
    assert parse("hi").priority is PriorityClass.INTERACTIVE
    assert parse("/summarize").priority is PriorityClass.COMMANDS
