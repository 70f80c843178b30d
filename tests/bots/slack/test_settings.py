"""Configuration errors that name their variable, the surface `llmos run` picks, and the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from bots import surfaces
from bots.slack.app import BOT_EVENTS, BOT_SCOPES
from bots.slack.commands import COMMAND, SHORTCUTS
from bots.slack.settings import load_slack_settings
from workers.settings import SettingsError

MANIFEST = Path(__file__).resolve().parents[3] / "bots" / "slack" / "manifest.yaml"


def settings(**values: object):
    return load_slack_settings(_env_file=None, **values)


def test_nothing_set_means_no_slack_surface(monkeypatch) -> None:
    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    assert not settings().configured
    assert [s.name for s in surfaces.from_environment()] == ["admin"]


def test_a_bot_token_alone_makes_a_slack_surface_that_only_answers(monkeypatch) -> None:
    """`llmos worker` with SLACK_BOT_TOKEN: the Slack outlet for its workers, nothing to start."""
    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-worker")
    monkeypatch.chdir(Path(__file__).parent)
    slack = surfaces.named(surfaces.from_environment(), "slack")
    assert slack is not None and not slack.listens


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"signing_secret": "s3cret-value"}, "SLACK_BOT_TOKEN: required"),
        (
            {"signing_secret": "s3cret-value", "bot_token": "xoxp-user-token"},
            "SLACK_BOT_TOKEN: Value error, must be a bot token",
        ),
        (
            {"app_token": "xoxb-1-not-an-app-token", "bot_token": "xoxb-1-x"},
            "SLACK_APP_TOKEN: Value error, must be an app-level token",
        ),
        (
            {"signing_secret": "changeme", "bot_token": "xoxb-1-x"},
            "SLACK_SIGNING_SECRET: Value error, is a placeholder",
        ),
        ({"port": "70000"}, "SLACK_PORT: Input should be less than or equal to 65535"),
        (
            {"signing_secret": "s3cret-value", "client_id": "1.2", "client_secret": "abc-secret"},
            "SLACK_TOKEN_KEY: required with OAuth",
        ),
        ({"token_key": "not-a-key"}, "SLACK_TOKEN_KEY: Value error, must be Fernet keys"),
        ({"app_token": "xapp-1-x", "client_id": "1.2", "client_secret": "abc-secret"}, "SLACK_SIGNING_SECRET: OAuth"),
    ],
)
def test_bad_configuration_names_the_variable(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings(**values)
    assert message in str(caught.value)
    for value in values.values():
        if str(value).startswith(("xox", "xapp", "s3cret", "abc-")):
            assert str(value) not in str(caught.value)  # secrets never echoed


def test_good_configurations_pick_their_modes() -> None:
    http = settings(signing_secret="s3cret-value", bot_token="xoxb-1-x")
    assert (http.http, http.socket_mode, http.oauth) == (True, False, False)
    both = settings(signing_secret="s3cret-value", bot_token="xoxb-1-x", app_token="xapp-1-x")
    assert (both.http, both.socket_mode) == (True, True)
    oauth = settings(
        signing_secret="s3cret-value",
        client_id="1.2",
        client_secret="abc-secret",
        token_key=Fernet.generate_key().decode(),
    )
    assert oauth.oauth and oauth.port == 3000 and oauth.path == "/slack/events"


def test_the_manifest_asks_for_exactly_what_the_app_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(BOT_EVENTS)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert sorted(s["callback_id"] for s in manifest["features"]["shortcuts"]) == sorted(SHORTCUTS)
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
