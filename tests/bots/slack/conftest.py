"""Slack fixtures: the fake Slack, and the real bolt app serving HTTP on a free port over the whole stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bots.slack.settings import SlackSettings, load_slack_settings
from bots.slack.surface import SlackSurface
from tests.fixtures.fake_slack import BOT_TOKEN, FakeSlack
from tests.fixtures.slack_wire import SIGNING_SECRET, SlackHttp
from workers.stack import Stack


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    return fake_slack


def slack_settings(fake: FakeSlack, **overrides: object) -> SlackSettings:
    values: dict[str, object] = {
        "_env_file": None,
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": fake.api_url,
        "host": "127.0.0.1",
        "port": 0,
        "rate_limit_retries": 3,
    }
    values.update(overrides)
    return load_slack_settings(**values)


@dataclass
class Running:
    surface: SlackSurface
    http: SlackHttp
    fake: FakeSlack
    stack: Stack


def run_surface(stack: Stack, settings: SlackSettings) -> SlackSurface:
    surface = SlackSurface(settings=settings, stack=stack)
    surface.start()
    return surface


@pytest.fixture
def slack(clean_stack: Stack, fake: FakeSlack) -> Iterator[Running]:
    """LLMOS's Slack app over HTTP, one workspace, answering through the in-process worker."""
    surface = run_surface(clean_stack, slack_settings(fake))
    assert surface.http is not None
    http = SlackHttp(surface.http.url)
    yield Running(surface, http, fake, clean_stack)
    http.close()
    surface.stop()
