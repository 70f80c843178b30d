"""Slack fixtures: the fake Slack, and the real bolt app serving HTTP on a free port over the whole stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from bots.slack.settings import SlackSettings
from bots.slack.surface import SlackSurface
from tests.bots.conftest import slack_settings
from tests.fixtures.fake_slack import FakeSlack
from tests.fixtures.slack_wire import SlackHttp
from workers.stack import Stack


@dataclass
class Running:
    surface: SlackSurface
    http: SlackHttp
    fake: FakeSlack
    stack: Stack


def run_surface(stack: Stack, settings: SlackSettings) -> SlackSurface:
    surface = SlackSurface(settings=settings)
    stack.add_surface(surface)  # what `llmos slack` does: the app, and its outlet for the workers
    surface.start(stack)
    return surface


@contextmanager
def serving(stack: Stack, fake: FakeSlack) -> Iterator[Running]:
    """LLMOS's Slack app over HTTP on `stack`, stopped afterwards."""
    surface = run_surface(stack, slack_settings(fake))
    assert surface.http is not None
    http = SlackHttp(surface.http.url)
    yield Running(surface, http, fake, stack)
    http.close()
    surface.stop()


@pytest.fixture
def slack(clean_stack: Stack, fake: FakeSlack) -> Iterator[Running]:
    """LLMOS's Slack app over HTTP, one workspace, answering through the in-process worker."""
    with serving(clean_stack, fake) as running:
        yield running
