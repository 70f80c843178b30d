"""The Slack HTTP endpoint under abuse: 200 MB bodies are refused without being held, trickled ones are cut."""

from __future__ import annotations

import pytest

from bots.slack import http
from tests.bots.admin.test_limits import MIB, _rss_bytes, _send_big, _trickle
from tests.bots.slack.conftest import Running


def test_200_mb_bodies_cost_the_endpoint_nothing(slack: Running) -> None:
    assert slack.surface.http is not None
    base = f"http://127.0.0.1:{slack.surface.http.port}"
    before = _rss_bytes()
    for chunked in (False, True):
        assert _send_big(base, slack.surface.settings.path, 200 * MIB, chunked=chunked) == 413
    assert _rss_bytes() - before < 50 * MIB


def test_a_trickled_body_is_cut(slack: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "BODY_TIMEOUT", 0.5)
    assert slack.surface.http is not None
    assert _trickle(f"http://127.0.0.1:{slack.surface.http.port}", slack.surface.settings.path) == 408
