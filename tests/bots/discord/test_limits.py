"""The Discord interactions endpoint under abuse: 200 MB bodies refused without being held, trickled ones cut."""

from __future__ import annotations

import pytest

from bots.discord import endpoint
from bots.discord.surface import DiscordSurface
from tests.bots.admin.test_limits import MIB, _rss_bytes, _send_big, _trickle


def _base(surface: DiscordSurface) -> str:
    assert surface.bot is not None and surface.bot.endpoint is not None
    return f"http://127.0.0.1:{surface.bot.endpoint.port}"


def test_200_mb_bodies_cost_the_endpoint_nothing(endpoint_bot: DiscordSurface) -> None:
    before = _rss_bytes()
    for chunked in (False, True):
        assert _send_big(_base(endpoint_bot), endpoint.PATH, 200 * MIB, chunked=chunked) == 413
    assert _rss_bytes() - before < 50 * MIB


def test_a_trickled_body_is_cut(endpoint_bot: DiscordSurface, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoint, "BODY_TIMEOUT", 0.5)
    assert _trickle(_base(endpoint_bot), endpoint.PATH) == 408
