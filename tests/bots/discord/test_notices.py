"""A public refusal is said once per member and window by the whole deployment, not once per bot process
(issue 17, item 10): the window is kept in Redis, so a restarted or second bot process stays quiet."""

from __future__ import annotations

import pytest
import redis

from bots.discord.settings import DiscordSettings
from bots.discord.surface import DiscordSurface
from bots.discord.throttle import Notice, RedisThrottle, throttle_for
from tests.bots.discord.commands import admin
from tests.bots.discord.conftest import start_bot
from tests.bots.discord.helpers import eventually, replies, wait_done
from tests.bots.discord.test_admin import _run
from tests.bots.discord.test_privacy import BLOCKED
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.services import free_port
from workers.stack import Stack


def test_a_restarted_bot_does_not_say_a_refusal_again(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, discord_settings: DiscordSettings, simulator
) -> None:
    if clean_stack.broker.in_process:
        pytest.skip("with the in-process broker there is one process, and its own memory is the window")
    fake = fake_discord
    _run(fake, clean_stack, admin("access", "block", user=fake.world.user_id("alice")))
    first = fake.post(fake.world.general, "let me in", mention=True)
    eventually(lambda: replies(fake, first), what="the refusal")
    bot.stop()

    again = start_bot(clean_stack, discord_settings)  # the bot process restarted, or a second one took over
    try:
        second = fake.post(fake.world.general, "let me in, please", mention=True)
        allowed = fake.post(fake.world.general, "hello", mention=True, user="bob")
        wait_done(clean_stack, allowed["id"])
        told = [r["content"] for message in (first, second) for r in replies(fake, message)]
        assert told == [BLOCKED]
    finally:
        again.stop()


def test_two_processes_on_one_redis_say_it_once_and_without_redis_each_decides(redis_url: str) -> None:
    notice = Notice(tenant="g1", user="u1", reason="Sorry, this user is blocked from using the assistant.")
    one, two = (throttle_for(redis_url, in_process=False, prefix="test-notices:") for _ in range(2))
    try:
        assert [one.due(notice), two.due(notice), one.due(notice)] == [True, False, False]
        assert two.due(Notice(tenant="g1", user="u1", reason="limit"))  # a new reason is news
    finally:
        cleanup = redis.Redis.from_url(redis_url)
        for key in cleanup.scan_iter("test-notices:*"):
            cleanup.delete(key)
        cleanup.close()
    gone = RedisThrottle(redis.Redis(port=free_port(), socket_connect_timeout=0.2))
    assert [gone.due(notice), gone.due(notice)] == [True, False]
