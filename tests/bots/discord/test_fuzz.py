"""Property tests of the Discord surface: any message that mentions the bot gets an answer, and any signed
interaction payload at the HTTP endpoint gets a defined answer, never a server error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import answer_text, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.helpers import settle
from workers.stack import Stack

FEW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
ODD_TEXT = st.one_of(
    st.text(min_size=1, max_size=200).filter(str.strip),
    st.sampled_from(["/summarize \u00b2", "/quiz \u2075 x", "/minutes " + "9" * 3000, "/prefs set", "/nope"]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def test_any_message_to_the_bot_gets_an_answer(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack) -> None:
    @given(text=ODD_TEXT)
    @FEW
    def check(text: str) -> None:
        asked = fake_discord.post(fake_discord.world.general, text, mention=True)
        wait_done(clean_stack, asked["id"])
        assert answer_text(fake_discord, asked).strip()

    check()


def test_any_signed_interaction_gets_a_defined_answer(
    endpoint_bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack
) -> None:
    assert endpoint_bot.bot is not None and endpoint_bot.bot.endpoint is not None
    url = str(endpoint_bot.bot.endpoint.url)
    channel = fake_discord.world.general

    @given(
        name=st.sampled_from(["ask", "summarize", "translate", "prefs", "admin", "help", "nope"]),
        options=st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["question", "count", "text", "language", "per_minute", "x"])},
                optional={"type": st.integers(-1, 12), "value": JSON},
            ),
            max_size=3,
        ),
        # What the fake itself needs to answer (channel, member) is left whole; the rest may be anything.
        extra=st.dictionaries(st.sampled_from(["type", "data", "locale", "app_permissions"]), JSON, max_size=2),
    )
    @FEW
    def check(name: str, options: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        payload = fake_discord.interaction(slash(name), channel=channel)
        payload["data"]["options"] = options
        payload.update(extra)
        status, _answer = fake_discord.deliver(url, payload)
        assert status in {200, 400}, (status, _answer)
        settle(clean_stack)

    check()
