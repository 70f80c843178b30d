"""CELERY_TASK_EVENTS switches Celery's task events on for Flower; they stay off by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from workers.app import create_app


@pytest.mark.parametrize("enabled", [False, True])
def test_task_events_follow_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    monkeypatch.setenv("CELERY_TASK_EVENTS", str(enabled).lower())
    settings = make_settings(tmp_path)
    assert settings.celery_task_events is enabled
    app = create_app(settings, broker_url="memory://")
    try:
        assert app.conf.worker_send_task_events is enabled
        assert app.conf.task_send_sent_event is enabled
    finally:
        app.close()
