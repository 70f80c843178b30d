"""Splitting answers into Discord messages, mentions, and the settings' error messages."""

from __future__ import annotations

import random
import re

import pytest

from bots.discord.settings import load_discord_settings
from bots.discord.text import split, strip_mentions
from workers.settings import SettingsError


def _answer(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(400):
        if i % 37 == 3:
            lines.append(rng.choice(["```python", "```", "~~~sh"]) if not lines or lines[-1] else "```js")
        else:
            lines.append(
                " ".join(rng.choice(["alpha", "beta", "x" * rng.randint(1, 80)]) for _ in range(rng.randint(0, 30)))
            )
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(5))
def test_every_part_fits_and_keeps_its_code_blocks_closed(seed: int) -> None:
    text = _answer(seed)
    parts = split(text)
    assert len(parts) > 3
    for part in parts:
        assert 0 < len(part) <= 2000
        assert _closed(part), part


def _closed(part: str) -> bool:
    """Does every code block opened in `part` close in it (CommonMark's rule: same character, no info)?"""
    opener = ""
    for line in part.split("\n"):
        match = re.match(r"^[ \t]*(`{3,}|~{3,})(.*)$", line)
        if match is None:
            continue
        marker, info = match.group(1), match.group(2).strip()
        if not opener:
            opener = marker
        elif marker[0] == opener[0] and len(marker) >= len(opener) and not info:
            opener = ""
    return not opener


def test_parts_already_sent_do_not_change_as_the_answer_grows() -> None:
    text = _answer(7)
    final = split(text)
    for cut in range(2500, len(text), 997):
        partial = split(text[:cut])
        # Every part but the last one streaming is already final.
        assert partial[:-1] == final[: len(partial) - 1]


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "```rust\n" + "\n".join(f"let v{i} = {i};" for i in range(300)) + "\n```"
    first, second, *_ = split("Intro\n" + code)
    assert first.endswith("\n```") and second.startswith("```rust\nlet v")


def test_a_long_line_without_breaks_is_cut() -> None:
    parts = split("y" * 4500)
    assert [len(p) for p in parts] == [1968, 1968, 564]
    assert split("   \n ") == []


def test_mentions_of_the_bot_are_removed() -> None:
    assert strip_mentions("<@123> what is <@!123> up? <@&9>", {123, 9}) == "what is up?"
    assert strip_mentions("hi <@456>", {123}) == "hi <@456>"


def test_bad_settings_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="DISCORD_API_URL: Value error, must start with http"):
        load_discord_settings(_env_file=None, api_url="discord.com")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN: Value error, is a placeholder"):
        load_discord_settings(_env_file=None, token="changeme")
    with pytest.raises(SettingsError, match="DISCORD_PUBLIC_KEY: needed"):
        load_discord_settings(_env_file=None, token="abc", interactions_port=8080)
    with pytest.raises(SettingsError, match="DISCORD_PUBLIC_KEY: Value error, must be the 64 hex"):
        load_discord_settings(_env_file=None, public_key="abcd")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN: not set"):
        load_discord_settings(_env_file=None).require_token()
