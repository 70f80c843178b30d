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
        # Digits that are not ASCII are words, not counts; huge counts are clamped, zero means one.
        ("/summarize \u00b2", Kind.SUMMARIZE, "\u00b2", {}),
        ("/quiz \u2075 planets", Kind.QUIZ, "\u2075 planets", {}),
        ("/quiz \u0663 planets", Kind.QUIZ, "\u0663 planets", {}),
        ("/minutes " + "9" * 5000, Kind.MINUTES, "", {"n": "200"}),
        ("/summarize 0000000000000000000007", Kind.SUMMARIZE, "", {"n": "7"}),
        ("/summarize 0", Kind.SUMMARIZE, "", {"n": "1"}),
        ("/summarize -3", Kind.SUMMARIZE, "-3", {}),
        # Lone surrogates become U+FFFD and NULs go: both would fail to store.
        ("hi \ud800 there\x00", Kind.ASK, "hi \ufffd there", {}),
        ("/translate French \udfff", Kind.TRANSLATE, "\ufffd", {"language": "French"}),
    ],
)
def test_parse(line: str, kind: Kind, text: str, args: dict[str, str]) -> None:
    request = parse(line)
    assert (request.kind, request.text, request.args) == (kind, text, args)


def test_a_surrogate_pair_split_by_json_is_joined_again() -> None:
    assert parse("\ud83d\ude00").text == "\U0001f600"


def test_plain_questions_are_interactive_and_commands_are_not() -> None:
    assert parse("hi").priority is PriorityClass.INTERACTIVE
    assert parse("/summarize").priority is PriorityClass.COMMANDS
