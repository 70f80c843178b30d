from __future__ import annotations

import pytest

from workers.settings import SettingsError, load_settings


def test_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, database_url="mysql://x", worker_concurrency=0, engine_api_key="changeme")
    text = str(error.value)
    assert "DATABASE_URL: " in text and "WORKER_CONCURRENCY: " in text and "ENGINE_API_KEY: " in text


def test_environment_is_read_and_urls_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("ENGINE_TOKEN_TIMEOUT", "12.5")
    settings = load_settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.engine_token_timeout == 12.5


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_API_KEY", "sk-very-secret")
    settings = load_settings(_env_file=None)
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.engine_api_key.get_secret_value() == "sk-very-secret"
