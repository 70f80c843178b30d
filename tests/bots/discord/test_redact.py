"""discord.py's DEBUG lines name webhook and interaction URLs; their tokens never reach the logs."""

from __future__ import annotations

import logging

import pytest

import bots.discord  # noqa: F401  (installs the filter, as any Discord module does)

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldA"


@pytest.mark.parametrize("name", ["discord.http", "discord.webhook.async_", "discord.webhook.sync"])
def test_debug_lines_keep_the_route_but_not_the_token(name: str, caplog: pytest.LogCaptureFixture) -> None:
    url = f"https://discord.com/api/v10/webhooks/1100223344/{TOKEN}/messages/@original"
    with caplog.at_level(logging.DEBUG, logger=name):
        logging.getLogger(name).debug("%s %s with %s has returned %s", "PATCH", url, None, 200)
    assert TOKEN not in caplog.text
    assert "/webhooks/1100223344/…/messages/@original" in caplog.text
