"""`llmos doctor` against the fakes: a good configuration passes, each broken one is named with its fix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bots.doctor.command import main as doctor
from db import migrate
from engine.simulator import SimulatedEngine
from tests.conftest import make_settings
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.fake_slack import BOT_TOKEN, FakeSlack
from tests.fixtures.slack_wire import SIGNING_SECRET
from workers.settings import Settings

FIRST_REVISION = "0001"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeSlack, fake_discord: FakeDiscord) -> None:
    """Slack and Discord as the fakes, nothing else from the environment or a .env file."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SCHED_RESERVED_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("DISCORD_TOKEN", fake_discord.world.token)
    monkeypatch.setenv("DISCORD_API_URL", fake_discord.url)
    fake_discord.world.app_flags = 1 << 19


@pytest.fixture
def settings(tmp_path: Path, simulator: SimulatedEngine, redis_url: str) -> Settings:
    simulator.config.vllm = True  # says its window (max_model_len) as vLLM does
    database = f"sqlite:///{tmp_path / 'doctor.db'}"
    migrate.upgrade(database)
    return make_settings(tmp_path, database_url=database, redis_url=redis_url, engine_url=simulator.url)


def examine(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = doctor(settings, out)
    return code, out.getvalue()


@pytest.mark.usefixtures("environment")
def test_a_good_configuration_passes_every_check(settings: Settings) -> None:
    code, report = examine(settings)
    assert code == 0, report
    for check in ("database", "broker", "engine", "engine window", "engine tools", "slack", "slack scopes"):
        assert f"ok   {check}: " in report, report
    assert "ok   discord: DISCORD_TOKEN is the bot llmos" in report
    assert "ok   discord intents: the Message Content intent is on" in report
    assert "FAIL" not in report and "Everything checked is fine." in report
    assert "ok   embeddings: no EMBEDDING_URL: knowledge is searched by full text only" in report


@pytest.mark.usefixtures("environment")
def test_the_embeddings_endpoint_is_checked(settings: Settings, simulator: SimulatedEngine) -> None:
    hybrid = settings.model_copy(update={"embedding_url": simulator.url})
    code, report = examine(hybrid)
    assert code == 0, report
    assert f"ok   embeddings: {simulator.url} embeds with sim-model (256 dimensions)" in report
    code, report = examine(hybrid.model_copy(update={"embedding_model": "no-such-model"}))
    assert code == 1
    assert "FAIL embeddings: " in report and "HTTPStatusError" in report and "EMBEDDING_MODEL" in report


@pytest.mark.usefixtures("environment")
def test_broken_platforms_are_each_named_with_a_fix(
    settings: Settings, fake: FakeSlack, fake_discord: FakeDiscord
) -> None:
    assert fake.scopes is not None
    fake.scopes -= {"files:read", "chat:write"}
    fake_discord.world.app_flags = 0
    code, report = examine(settings)
    assert code == 1
    assert "FAIL slack scopes: the token lacks chat:write, files:read" in report
    assert "FAIL discord intents: the Message Content intent is off" in report
    assert "turn on Message Content Intent" in report and "reinstall" in report


@pytest.mark.usefixtures("environment")
def test_refused_tokens(settings: Settings, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.tokens = {}
    monkeypatch.setenv("DISCORD_TOKEN", "not-the-bot-token")
    code, report = examine(settings)
    assert code == 1
    assert "FAIL slack: SLACK_BOT_TOKEN refused by auth.test: invalid_auth" in report
    assert "FAIL discord: DISCORD_TOKEN refused (401)" in report
    assert "not-the-bot-token" not in report


@pytest.mark.usefixtures("environment")
def test_an_engine_without_tool_calling_window_or_the_model(settings: Settings, simulator: SimulatedEngine) -> None:
    simulator.config.tool_calling = False
    simulator.config.vllm = False
    code, report = examine(settings)
    assert code == 1
    assert "FAIL engine tools: " in report and "--enable-auto-tool-choice" in report
    assert "FAIL engine window: " in report and "ENGINE_CONTEXT_WINDOW" in report
    code, report = examine(settings.model_copy(update={"engine_model": "no-such-model"}))
    assert "FAIL engine: " in report and "not no-such-model" in report and "ENGINE_MODEL" in report


@pytest.mark.usefixtures("environment")
def test_database_broker_and_configuration_problems(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    migrate.upgrade(behind, FIRST_REVISION)
    monkeypatch.setenv("SCHED_RESERVED_SLOTS", "-1")
    broken = settings.model_copy(update={"database_url": behind, "redis_url": "redis://127.0.0.1:9/0"})
    code, report = examine(broken)
    assert code == 1
    assert f"is at revision {FIRST_REVISION}, this code needs {migrate.current_head()}" in report
    assert "fix: run `llmos db upgrade`" in report
    assert "FAIL broker: no Redis answers at redis://127.0.0.1:9/0" in report
    assert "FAIL configuration (scheduler): " in report and "SCHED_RESERVED_SLOTS" in report
    missing = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'none.db'}"})
    assert "does not exist yet" in examine(missing)[1]
    assert not (tmp_path / "none.db").exists()
