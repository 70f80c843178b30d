"""Slack settings (`SLACK_*`), read once where the Slack surface or a worker's Slack sink starts.

Which variables are set picks the mode: `SLACK_SIGNING_SECRET` serves the Events API over HTTP,
`SLACK_APP_TOKEN` connects over Socket Mode, `SLACK_BOT_TOKEN` serves one workspace and
`SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET` install into many through OAuth.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.settings import SettingsError, build_settings, fernet_keys

_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo", "xoxb-", "xapp-"}


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLACK_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Fernet key(s) that encrypt OAuth installations' tokens at rest; the first encrypts, all decrypt.
    token_key: SecretStr | None = None
    redirect_uri: str | None = None

    # The Web API base URL: GovSlack, a proxy, or a test server. Unset: Slack's own.
    api_url: str | None = None
    host: str = "0.0.0.0"  # noqa: S104 - Slack must reach the Events API endpoint from outside
    port: Annotated[int, Field(ge=0, le=65535)] = 3000
    path: str = "/slack/events"

    # Stream answers with chat.startStream/appendStream/stopStream; false: post and update.
    streaming: bool = True
    # Files larger than these are not read, and the user is told so.
    file_max_bytes: Annotated[int, Field(ge=1)] = 1_000_000
    image_max_bytes: Annotated[int, Field(ge=1)] = 4_000_000
    max_images: Annotated[int, Field(ge=0)] = 4
    # Web API calls retried on 429 (after Retry-After) before an answer gives up.
    rate_limit_retries: Annotated[int, Field(ge=0, le=20)] = 5

    @field_validator("bot_token", "app_token", "signing_secret", "client_secret", "token_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; set the real value or leave it unset")
        return value

    @field_validator("bot_token")
    @classmethod
    def _bot_token_kind(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("xoxb-", "xoxe.xoxb-")):
            raise ValueError("must be a bot token (xoxb-...)")
        return value

    @field_validator("app_token")
    @classmethod
    def _app_token_kind(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-...) with the connections:write scope")
        return value

    @field_validator("token_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        return fernet_keys(value)

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @property
    def http(self) -> bool:
        return self.signing_secret is not None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def configured(self) -> bool:
        """Something to receive Slack's events with: this process can serve Slack."""
        return self.http or self.socket_mode

    @property
    def answers(self) -> bool:
        """A token to answer with: this process's workers can post into Slack."""
        return self.bot_token is not None or self.oauth

    def problems(self) -> list[str]:
        """What stops this configuration from working, one line per variable."""
        found = []
        if self.oauth and self.bot_token is not None:
            found.append("SLACK_BOT_TOKEN: set it for one workspace, or SLACK_CLIENT_ID/SECRET for OAuth, not both")
        if not self.oauth and self.bot_token is None:
            found.append("SLACK_BOT_TOKEN: required (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth installs)")
        if bool(self.client_id) != bool(self.client_secret):
            found.append("SLACK_CLIENT_SECRET: OAuth needs both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
        if self.oauth and not self.http:
            found.append("SLACK_SIGNING_SECRET: OAuth installs need the HTTP endpoint (/slack/install)")
        if self.oauth and self.token_key is None:
            found.append(
                "SLACK_TOKEN_KEY: required with OAuth, to encrypt bot tokens; make one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
            )
        return found


def load_slack_settings(**overrides: object) -> SlackSettings:
    """Build SlackSettings, one line per bad variable (named), like the core settings."""
    settings = build_settings(SlackSettings, overrides, what="Slack")
    if settings.configured and (problems := settings.problems()):
        raise SettingsError("invalid Slack configuration:\n  " + "\n  ".join(problems))
    return settings
