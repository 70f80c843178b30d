"""Markdown as Slack shows it, and clean cuts of long answers."""

from __future__ import annotations

import pytest

from bots.slack.mrkdwn import split, to_mrkdwn


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __strong__", "*bold* and *strong*"),
        ("*italic* and _also_", "_italic_ and _also_"),
        ("~~struck~~", "~struck~"),
        ("[docs](https://example.com/a?b=1&c=2)", "<https://example.com/a?b=1&amp;c=2|docs>"),
        ("## Next steps", "*Next steps*"),
        ("# **Loud** title #", "*Loud title*"),
        ("- one\n* two\n  + nested", "• one\n• two\n  • nested"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("use `x**2 < y`", "use `x**2 &lt; y`"),
        ("```python\nif a < b:\n    print('**no**')\n```", "```\nif a &lt; b:\n    print('**no**')\n```"),
        ("| a | b |\n|---|:-:|\n| 1 | 2 |", "```\n| a | b |\n| 1 | 2 |\n```"),
        ("before\n\n---\n\nafter", "before\n\n──────────\n\nafter"),
        ("see <https://slack.com>", "see https://slack.com"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("```\nunclosed", "```\nunclosed\n```"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    text = "First paragraph is here.\n\nSecond one follows, a little longer than the first.\n\nThird."
    assert split(text, 80) == [
        "First paragraph is here.",
        "Second one follows, a little longer than the first.\n\nThird.",
    ]
    words = " ".join(["word"] * 60)
    pieces = split(words, 64)
    assert all(len(p) <= 64 for p in pieces) and " ".join(pieces) == words


def test_split_closes_and_reopens_a_code_block() -> None:
    text = "```\n" + "\n".join(f"line {i}" for i in range(60)) + "\n```"
    pieces = split(text, 200)
    assert len(pieces) > 2
    assert all(p.startswith("```") and p.endswith("```") and len(p) <= 200 for p in pieces)


def test_short_text_is_one_piece() -> None:
    assert split("hi", 100) == ["hi"]
