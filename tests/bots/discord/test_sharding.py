"""Discord past one process: two `llmos discord` processes, one shard each, against the fake gateway."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.discord.settings import load_discord_settings
from db import migrate
from engine.simulator import SimulatedEngine
from tests.bots.discord.helpers import eventually, replies
from tests.fixtures.discord_fake import FakeDiscord
from workers.settings import SettingsError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def two_servers() -> Iterator[FakeDiscord]:
    """A Discord of its own, with a second server on the other shard of two."""
    with FakeDiscord(heartbeat_ms=300, bucket_window=1.0) as fake:
        fake.world.recommended_shards = 2
        yield fake


def start_shard(fake: FakeDiscord, shard: int, env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    shard_env = {
        **env,
        "DISCORD_SHARD_COUNT": "2",
        "DISCORD_SHARD_IDS": str(shard),
        "LLMOS_HOME": str(home / f"shard{shard}"),
    }
    log = (home / f"shard{shard}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "discord"], cwd=REPO, env=shard_env, stdout=log, stderr=subprocess.STDOUT
    )


def test_two_processes_each_answer_their_own_servers_once(
    two_servers: FakeDiscord, pg_database: str, redis_url: str, simulator: SimulatedEngine, tmp_path: Path
) -> None:
    fake, w = two_servers, two_servers.world
    other = w.add_guild("Second Server")
    other_channel = w.add_channel("second-general", guild=other)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ENGINE_", "SLACK_"))},
        "DATABASE_URL": pg_database,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"shards-{uuid.uuid4().hex[:8]}:",
        "ENGINE_URL": simulator.url,
        "DISCORD_TOKEN": w.token,
        "DISCORD_API_URL": fake.url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_SYNC_COMMANDS": "false",
        "SCHED_USER_REQUESTS_PER_MINUTE": "1000",
    }
    migrate.upgrade(pg_database)  # once, before two processes would both try (`migrate` does it in compose)
    processes = [start_shard(fake, shard, env, tmp_path) for shard in (0, 1)]
    try:
        eventually(lambda: len(fake.connections) == 2, timeout=60, what="both shards connected")
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        home = w.shard_of(w.guild_id, 2)
        asked = [
            fake.post(channel, f"question {n}", mention=True)
            for n in range(3)
            for channel in (w.general, other_channel)
        ]
        for message in asked:
            eventually(lambda m=message: replies(fake, m), timeout=30, what=f"an answer to {message['content']}")
        time.sleep(1.0)  # time for a second answer, were one coming
        assert all(len(replies(fake, m)) == 1 for m in asked)
        # Each session was sent only its own server's messages.
        for conn in fake.connections:
            assert conn.session is not None
            got = {int(p["d"]["channel_id"]) for p in conn.session.sent if p["t"] == "MESSAGE_CREATE"}
            assert got == ({w.general} if conn.session.shard[0] == home else {other_channel})
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def test_shard_settings_name_what_is_wrong() -> None:
    with pytest.raises(SettingsError, match="DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT"):
        load_discord_settings(_env_file=None, shard_ids="0")
    with pytest.raises(SettingsError, match=r"DISCORD_SHARD_IDS: must lie in 0\.\.1"):
        load_discord_settings(_env_file=None, shard_count=2, shard_ids="1,2")
    with pytest.raises(SettingsError, match="DISCORD_SHARD_IDS"):
        load_discord_settings(_env_file=None, shard_count=2, shard_ids="zero")
    assert load_discord_settings(_env_file=None, shard_count=4, shard_ids="1, 3").shard_ids == (1, 3)
