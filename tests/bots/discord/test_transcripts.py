"""What the model is given from a channel: an app's answer to a slash command comes with its question
(issue 17, item 16). Discord shows "alice used /ask" above such an answer, never the question itself;
the transcript names who asked what, from LLMOS's own store for its answers and from the command's
name for another app's."""

from __future__ import annotations

from typing import Any

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import on_message, slash
from tests.bots.discord.helpers import wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake import payloads as p


def _prompt(simulator: Any) -> str:
    return str(simulator.requests[-1].body["messages"][-1]["content"])


def _other_apps_answer(fake: FakeDiscord, channel: int, content: str, *, command: str, asker: str) -> dict[str, Any]:
    """Another app's answer to `/command`, as Discord keeps it (LLMOS reads it back through REST only)."""
    w = fake.world
    app = p.user(p.snowflake(), "weather", bot=True)
    invoker = w.users[asker]
    ident = p.snowflake()
    interaction = {"id": str(ident), "type": 2, "user": invoker}
    message = p.message(
        ident=p.snowflake(),
        channel_id=channel,
        author=app,
        content=content,
        guild_id=w.guild_id,
        extra={
            "type": 20,
            "webhook_id": app["id"],
            "application_id": app["id"],
            "interaction_metadata": {**interaction, "authorizing_integration_owners": {}},
            "interaction": {**interaction, "name": command},
        },
    )
    return fake.run(lambda: w.store(message))


def test_summarize_sees_each_slash_answer_with_its_question(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
) -> None:
    fake = fake_discord
    channel = fake.world.add_channel("questions")
    simulator.config.answer = lambda messages: "Paris."
    asked = fake.command(slash("ask", question="What is the capital of France?"), channel=channel)
    wait_done(clean_stack, asked.id)
    _other_apps_answer(fake, channel, "Sunny, 24 °C.", command="weather", asker="bob")
    fake.post(channel, "Thanks, both.", user="bob")

    simulator.config.answer = lambda messages: "A summary."
    found = fake.command(slash("summarize"), channel=channel)
    wait_done(clean_stack, found.id)
    assert _prompt(simulator).endswith(
        "Alice: /ask What is the capital of France?\n"
        "Llmos: Paris.\n"
        "Bob: /weather\n"
        "Weather: Sunny, 24 °C.\n"
        "Bob: Thanks, both."
    )


def test_a_reply_to_another_apps_answer_quotes_its_question(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
) -> None:
    fake = fake_discord
    answer = _other_apps_answer(fake, fake.world.general, "Sunny, 24 °C.", command="weather", asker="bob")
    asked = fake.post(fake.world.general, "should I bring a coat?", mention=True, reply_to=answer)
    wait_done(clean_stack, asked["id"])
    assert _prompt(simulator) == 'Bob wrote: "/weather"\nWeather wrote: "Sunny, 24 °C."\n\nshould I bring a coat?'


def test_summarize_from_the_menu_on_an_answer_gives_its_question(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
) -> None:
    fake = fake_discord
    simulator.config.answer = lambda messages: "Paris."
    asked = fake.command(slash("ask", question="What is the capital of France?"), channel=fake.world.general)
    wait_done(clean_stack, asked.id)
    answer = fake.run(lambda: dict(fake.world.messages[asked.original]))
    clicked = fake.command(on_message("Summarize", answer), channel=fake.world.general, user="bob")
    wait_done(clean_stack, clicked.id)
    assert _prompt(simulator).endswith("\n\nAlice: /ask What is the capital of France?\nLlmos: Paris.")
