"""Discord settings (`DISCORD_*`), read once at the entry point and passed to the bot and the reply sink.

A worker process that answers Discord events but starts no surface (`llmos worker`) reads the same
variables when its first Discord answer needs a REST client.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workers.settings import SettingsError

DEFAULT_API_URL = "https://discord.com/api/v10"
_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo", "your-token", "token"}


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISCORD_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # The bot token from the developer portal; unset means the Discord surface is off.
    token: SecretStr | None = None
    # REST base including the version, and the gateway WebSocket (for proxies and the tests).
    api_url: str = DEFAULT_API_URL
    # Unset: discord.com's gateway, or the one the REST API names when DISCORD_API_URL is changed.
    gateway_url: str | None = None
    # Ask for the privileged message-content intent; without it only mentions and DMs carry text.
    message_content: bool = True
    # Register the application commands once at start (`/admin sync` does it on demand).
    sync_commands: bool = True
    # Register them in this guild only (instant while developing) instead of globally.
    commands_guild: int | None = None

    # The app's public key (hex) and where to serve the optional HTTP interactions endpoint.
    public_key: str | None = None
    interactions_host: str = "127.0.0.1"
    interactions_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    # Signed requests older than this are replays and get 401.
    interactions_max_age: Annotated[float, Field(gt=0)] = 300.0

    # Answers are edited at most this often per channel while they stream.
    edit_interval: Annotated[float, Field(ge=0.2)] = 1.0
    # Text files larger than this are not read; images larger than `max_image_bytes` are not sent.
    max_text_bytes: Annotated[int, Field(ge=1024)] = 256_000
    max_image_bytes: Annotated[int, Field(ge=1024)] = 10_000_000
    max_images: Annotated[int, Field(ge=0, le=10)] = 4
    # How many messages of a reply chain are followed to find where the conversation began.
    chain_depth: Annotated[int, Field(ge=1, le=200)] = 50
    # Sharding (Discord requires it from 2,500 servers). Unset: as many shards as Discord recommends, all
    # in this process. Several processes: the same DISCORD_SHARD_COUNT in each, and DISCORD_SHARD_IDS
    # (comma-separated, e.g. 0,1) naming the shards each one runs.
    shard_count: Annotated[int, Field(ge=1, le=65536)] | None = None
    shard_ids: Annotated[tuple[int, ...], NoDecode] = ()

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; paste the bot token from the Discord developer portal")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(int(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("must be shard numbers separated by commas, e.g. 0,1") from None
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. https://discord.com/api/v10)")
        return value.rstrip("/")

    @field_validator("gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value or None

    @field_validator("public_key")
    @classmethod
    def _hex_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            if len(bytes.fromhex(value)) != 32:
                raise ValueError
        except ValueError:
            raise ValueError("must be the 64 hex characters of the app's public key") from None
        return value.lower()

    @property
    def interactions_enabled(self) -> bool:
        return self.interactions_port is not None

    def shard_problem(self) -> str | None:
        if self.shard_ids and self.shard_count is None:
            return "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT (the number of shards over every process)"
        if self.shard_count is not None and any(not 0 <= i < self.shard_count for i in self.shard_ids):
            return f"DISCORD_SHARD_IDS: must lie in 0..{self.shard_count - 1} (DISCORD_SHARD_COUNT)"
        return None

    def require_token(self) -> str:
        if self.token is None:
            raise SettingsError("DISCORD_TOKEN: not set; the Discord bot needs its token")
        return self.token.get_secret_value()


def load_discord_settings(**overrides: object) -> DiscordSettings:
    """Build DiscordSettings, turning pydantic's report into one line per environment variable."""
    try:
        settings = DiscordSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"DISCORD_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors() if e["loc"]]
        raise SettingsError("invalid Discord configuration:\n  " + "\n  ".join(lines)) from None
    if problem := settings.shard_problem():
        raise SettingsError(problem)
    if settings.interactions_enabled and settings.public_key is None:
        raise SettingsError("DISCORD_PUBLIC_KEY: needed to verify requests to the HTTP interactions endpoint")
    return settings
