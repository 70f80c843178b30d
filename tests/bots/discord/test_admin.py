"""Server admins (Manage Server): per-channel system prompts, allow and block lists, per-user rate."""

from __future__ import annotations

from sqlalchemy import select

from bots.core import admin as core_admin
from bots.discord.surface import DiscordSurface
from db.models import TenantLimits
from tests.bots.discord.commands import admin, slash
from tests.bots.discord.helpers import answer_text, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from workers.events import Platform


def _run(fake: FakeDiscord, stack, data: dict, *, user: str = "admin", channel: int | None = None) -> str:
    found: Interaction = fake.command(data, channel=channel or fake.world.general, user=user)
    fake.wait_for(
        lambda: found.original is not None and fake.world.messages[found.original]["content"], what="admin answer"
    )
    assert found.ephemeral
    return fake.run(lambda: fake.world.messages[found.original]["content"])


def test_only_members_who_manage_the_server_may_use_admin(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    said = _run(fake_discord, clean_stack, admin("prompt", "set", text="Be terse."), user="alice")
    assert said == "Only members with the Manage Server permission can change the assistant's settings."


def test_a_channel_system_prompt_applies_to_the_channel_and_its_threads(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    said = _run(fake, clean_stack, admin("prompt", "set", text="Answer like a pirate."))
    assert said.startswith(f"Saved. Answers in <#{fake.world.general}> now follow:")
    asked = fake.post(fake.world.general, "hello", mention=True)
    wait_done(clean_stack, asked["id"])
    assert "Answer like a pirate." in simulator.requests[-1].body["messages"][0]["content"]
    in_thread = fake.post(fake.world.bot_thread, "and here?")
    wait_done(clean_stack, in_thread["id"])
    assert "Answer like a pirate." in simulator.requests[-1].body["messages"][0]["content"]
    elsewhere = fake.post(fake.world.random, "and there?", mention=True)
    wait_done(clean_stack, elsewhere["id"])
    assert "pirate" not in simulator.requests[-1].body["messages"][0]["content"]
    assert _run(fake, clean_stack, admin("prompt", "show")).endswith("> Answer like a pirate.")
    assert _run(fake, clean_stack, admin("prompt", "clear")) == f"Cleared the system prompt of <#{fake.world.general}>."


def test_a_blocked_user_is_told_and_nothing_reaches_the_engine(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    alice = fake.world.user_id("alice")
    assert _run(fake, clean_stack, admin("access", "block", user=alice)) == (
        f"Blocked <@{alice}> from using the assistant here."
    )
    refused = fake.post(fake.world.general, "let me in", mention=True)
    fake.wait_for(lambda: answer_text_now(fake, refused), what="the refusal")
    assert answer_text(fake, refused) == "Sorry, this user is blocked from using the assistant."
    # A slash command is refused the same way, in a message only the member sees.
    found = fake.command(slash("ask", question="please?"), channel=fake.world.general)
    fake.wait_for(lambda: found.followups)
    told = fake.run(lambda: fake.world.messages[found.followups[0]]["content"])
    assert told.startswith("Sorry, this user is blocked")
    allowed = fake.post(fake.world.general, "I am bob", mention=True, user="bob")
    wait_done(clean_stack, allowed["id"])
    assert [r.body["messages"][-1]["content"] for r in simulator.requests] == ["I am bob"]


def answer_text_now(fake: FakeDiscord, message: dict) -> str:
    w = fake.world
    return next(
        (
            m["content"]
            for m in w.messages.values()
            if (m.get("message_reference") or {}).get("message_id") == message["id"]
        ),
        "",
    )


def test_roles_and_channels_can_be_allowed_or_blocked(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    _run(fake, clean_stack, admin("access", "block", role=fake.world.member_role))
    refused = fake.post(fake.world.general, "members may not", mention=True, user="bob")
    fake.wait_for(lambda: answer_text_now(fake, refused), what="the role refusal")
    assert answer_text(fake, refused) == "Sorry, this role is blocked from using the assistant."
    _run(fake, clean_stack, admin("access", "remove", role=fake.world.member_role))
    said = _run(fake, clean_stack, admin("access", "allow", channel=fake.world.random))
    assert said.startswith(f"Allowed <#{fake.world.random}>. Once any channel is allowed")
    elsewhere = fake.post(fake.world.general, "not here", mention=True, user="bob")
    fake.wait_for(lambda: answer_text_now(fake, elsewhere), what="the channel refusal")
    assert answer_text(fake, elsewhere) == "Sorry, the assistant is limited to allowed channels here."
    here = fake.post(fake.world.random, "but here", mention=True, user="bob")
    wait_done(clean_stack, here["id"])
    listed = _run(fake, clean_stack, admin("access", "list"))
    assert listed.endswith(f"• allow <#{fake.world.random}>")
    assert _run(fake, clean_stack, admin("access", "block")) == "Name exactly one member, role or channel."


def test_the_per_user_rate_is_stored_for_the_server(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    assert (
        _run(fake, clean_stack, admin("ratelimit", per_minute=5)) == "Each user here may now ask 5 time(s) per minute."
    )
    with clean_stack.sessions() as session:
        assert session.scalars(select(TenantLimits.user_requests_per_minute)).one() == 5
    _run(fake, clean_stack, admin("ratelimit", per_minute=0))
    with clean_stack.sessions() as session:
        assert session.scalars(select(TenantLimits.user_requests_per_minute)).one() is None


def test_admins_can_register_the_commands_again(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    syncs = fake.world.command_syncs
    assert _run(fake, clean_stack, admin("sync")) == f"Registered {len(fake.world.commands)} commands with Discord."
    assert fake.world.command_syncs == syncs + 1


def test_an_admin_switches_tools_off_for_the_server(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    assert _run(fake, clean_stack, admin("tools", "off", names="calculate search_conversations")) == (
        "Switched off: calculate, search_conversations."
    )
    assert _run(fake, clean_stack, admin("tools", "list")) == (
        "Tools switched off here: calculate, search_conversations."
    )
    asked = fake.post(fake.world.general, "what is 2+2?", mention=True)
    wait_done(clean_stack, asked["id"])
    names = [tool["function"]["name"] for tool in simulator.requests[-1].body["tools"]]
    assert "calculate" not in names and "search_conversations" not in names and "current_time" in names
    assert _run(fake, clean_stack, admin("tools", "on", names="calculate")) == "Switched on: calculate."
    said = _run(fake, clean_stack, admin("tools", "off", names="calculate"), user="alice")
    assert said.startswith("Only members with the Manage Server permission")


def test_an_admin_gives_a_channel_memories(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    said = _run(fake, clean_stack, admin("memory", "add", fact="This channel is about the Falcon project."))
    assert said == "Everyone's answers in this channel now keep in mind: This channel is about the Falcon project."
    assert _run(fake, clean_stack, admin("memory", "list")).endswith("1. This channel is about the Falcon project.")
    asked = fake.post(fake.world.general, "what are we working on?", mention=True)
    wait_done(clean_stack, asked["id"])
    assert "Falcon project. (this channel)" in simulator.requests[-1].body["messages"][0]["content"]
    elsewhere = fake.post(fake.world.random, "and here?", mention=True)
    wait_done(clean_stack, elsewhere["id"])
    assert "Falcon" not in simulator.requests[-1].body["messages"][0]["content"]
    assert _run(fake, clean_stack, admin("memory", "forget", which="1")) == "Removed 1 channel memory(ies)."


def test_a_server_cannot_raise_its_rate_past_the_deployments(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack
) -> None:
    fake = fake_discord
    too_many = _run(fake, clean_stack, admin("ratelimit", per_minute=5000))
    assert too_many == "The rate can be at most 1000 per minute here (the deployment's limit)."
    odd = _run(fake, clean_stack, admin("ratelimit", per_minute="10"))
    assert odd == "Give the rate as a whole number of requests per minute."
    guild = core_admin.Tenancy(platform=str(Platform.DISCORD), id=str(fake.world.guild_id), name="")
    said = core_admin.rate_limit(clean_stack.sessions, tenancy=guild, per_minute=31, ceiling=30)
    assert said == "The rate can be at most 30 per minute here (the deployment's limit)."
    assert core_admin.rate_limit(clean_stack.sessions, tenancy=guild, per_minute=30, ceiling=30).startswith("Each")
    with clean_stack.sessions() as session:
        assert session.scalars(select(TenantLimits.user_requests_per_minute)).one() == 30
