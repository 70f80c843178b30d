"""Settings for every LLMOS process, read once at the entry point and passed down.

Everything comes from the environment or a `.env` file; a bad value stops the process at start with
an error that names the variable, instead of failing on the first message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.endpoints import parse_endpoints
from workers.documents.convert import Limits

# Placeholders copied from examples must never reach production as real secrets.
_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo"}


def fernet_keys(value: SecretStr | None) -> SecretStr | None:
    """A settings validator: comma-separated Fernet keys (the first seals, all open), or unset."""
    if value is None:
        return None
    from cryptography.fernet import Fernet

    for key in value.get_secret_value().split(","):
        try:
            Fernet(key.strip())
        except ValueError:
            raise ValueError("must be Fernet keys (url-safe base64 of 32 bytes), comma-separated") from None
    return value


class SettingsError(ValueError):
    """Raised with one line per bad variable, each naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Where the embedded defaults keep their files (SQLite database, engine logs).
    llmos_home: Path = Path(".llmos")

    database_url: str | None = None
    redis_url: str | None = None
    # Probe redis://127.0.0.1:6379/0 when REDIS_URL is unset ("a Redis it finds").
    redis_autodetect: bool = True
    # Prefix for every broker key, so several deployments can share one Redis database.
    redis_key_prefix: str = ""

    engine_url: str | None = None
    # Several replicas and models: `model=url[,url…][;model=url…]` (engine/endpoints.py); wins over ENGINE_URL.
    engine_endpoints: str | None = None
    engine_model: str | None = None
    engine_api_key: SecretStr = SecretStr("not-needed")
    # Makes each tenant's vLLM cache_salt unguessable (engine/salt.py); any long random string.
    engine_cache_salt_key: SecretStr | None = None
    engine_context_window: Annotated[int, Field(ge=256)] | None = None
    engine_connect_timeout: Annotated[float, Field(gt=0)] = 5.0
    # Longest silence between two streamed tokens; a long answer is never cut by a total cap.
    engine_token_timeout: Annotated[float, Field(gt=0)] = 60.0
    engine_retries: Annotated[int, Field(ge=0, le=10)] = 3
    engine_retry_backoff: Annotated[float, Field(ge=0)] = 0.5

    embedded_engine_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # Tokens one request may use with the embedded engine (it holds one such window per slot).
    embedded_context_window: Annotated[int, Field(ge=512)] = 4096
    # Requests the embedded engine decodes together; the scheduler admits exactly this many, keeping
    # SCHED_RESERVED_SLOTS of them for interactive work.
    embedded_parallel: Annotated[int, Field(ge=2, le=64)] = 4
    # Where the embedded model file is kept once fetched (default: ~/.cache/llmos/models).
    embedded_model_cache: Path | None = None

    # Kept short on purpose: small models answer worse under long instructions.
    system_prompt: str = "You are a helpful assistant."
    # Sampling temperature for plain questions (skills carry their own); greedy suits small models.
    answer_temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    answer_max_tokens: Annotated[int, Field(ge=16)] = 512
    history_messages: Annotated[int, Field(ge=0)] = 40
    # Days LLMOS keeps processed events, finished jobs, delivery logs, notices and idle conversations.
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Models that are shown attached images: comma-separated names, or * for every model.
    vision_models: str = ""

    worker_concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    # How long a worker's hold on an event outlives the worker (renewed in the background while it
    # works): a killed worker's event is taken over within about two of these, whatever the broker does.
    event_lease_seconds: Annotated[float, Field(ge=1)] = 15.0
    # Attempts an event gets; one that kills its worker every time is then failed and its person told.
    event_max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    # Events the engine failed (unreachable) are answered when it is back, if they are at most this old
    # (seconds); older ones are told the answer was dropped.
    engine_resend_within: Annotated[float, Field(ge=0)] = 600.0
    # How often the reconciler compares the ledger with the queues and leases (seconds).
    reconcile_interval: Annotated[float, Field(gt=0, le=60)] = 2.0
    # Redis redelivers a message not acknowledged after this many seconds (a killed worker); the
    # reconciler takes a dead worker's event over long before this.
    broker_visibility_timeout: Annotated[int, Field(ge=1)] = 900

    # Tools the model may call (workers/tools): per-call timeout (s), rounds of calls per answer, and the
    # longest result (characters) the model is shown; MCP_CONFIG names the MCP servers' JSON file.
    tools_enabled: bool = True
    tool_timeout: Annotated[float, Field(gt=0, le=600)] = 20.0
    tool_max_rounds: Annotated[int, Field(ge=0, le=16)] = 4
    tool_result_max_chars: Annotated[int, Field(ge=200, le=200_000)] = 8000
    mcp_config: Path | None = None
    # Tokens of a person's memories put into the system prompt at most (the most recent first).
    memory_max_tokens: Annotated[int, Field(ge=0, le=8000)] = 300
    # Documents people attach or add to knowledge (workers/documents): the largest file read (bytes),
    # the pages (slides, sheets) read of one, and the characters of text kept from one.
    document_max_bytes: Annotated[int, Field(ge=1000)] = 20_000_000
    document_max_pages: Annotated[int, Field(ge=1)] = 200
    document_max_chars: Annotated[int, Field(ge=1000)] = 400_000
    # Passages of a channel's knowledge put before each question, and the tokens they may take together.
    knowledge_top_k: Annotated[int, Field(ge=0, le=20)] = 5
    knowledge_max_tokens: Annotated[int, Field(ge=0, le=32_000)] = 1500
    # An OpenAI-compatible embeddings endpoint (vLLM serving an embedding model): passages get vectors
    # when learned and retrieval becomes hybrid (full text + vectors). Unset: full text only.
    embedding_url: str | None = None
    # The embedding model to ask (default: the endpoint's first model); its key (default: ENGINE_API_KEY).
    embedding_model: str | None = None
    embedding_api_key: SecretStr | None = None
    # Seconds one embeddings request may take; after a failure the endpoint is rested this long
    # (EMBEDDING_PAUSE) and questions are answered from full text meanwhile.
    embedding_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    embedding_pause: Annotated[float, Field(ge=0, le=3600)] = 30.0
    # Passages less similar (cosine) to the question than this are not vector candidates.
    embedding_min_similarity: Annotated[float, Field(ge=-1, le=1)] = 0.0
    # Celery task events (task-sent/-started/-succeeded…) for Flower or `celery events`; off by default
    # because every task then writes several extra broker messages.
    celery_task_events: bool = False

    log_level: str = "INFO"

    @field_validator("engine_api_key", "engine_cache_salt_key", "embedding_api_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError(f"is a placeholder; set a real key or leave {str(info.field_name).upper()} unset")
        return value

    @field_validator("engine_endpoints")
    @classmethod
    def _endpoints(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_endpoints(value)
            return value
        return None

    @field_validator("engine_model")
    @classmethod
    def _served_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        endpoints = info.data.get("engine_endpoints")
        if value and endpoints and value not in parse_endpoints(endpoints):
            raise ValueError(f"{value!r} is not one of the models in ENGINE_ENDPOINTS")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if value and value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("embedding_url")
    @classmethod
    def _embedding_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL of an OpenAI-compatible server")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("mcp_config")
    @classmethod
    def _mcp_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @property
    def document_limits(self) -> Limits:
        return Limits(
            max_bytes=self.document_max_bytes, max_pages=self.document_max_pages, max_chars=self.document_max_chars
        )

    @property
    def uses_embedded_engine(self) -> bool:
        return not (self.engine_url or self.engine_endpoints)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.llmos_home / 'llmos.db').resolve()}"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def build_settings(cls: type[SettingsT], overrides: Mapping[str, object], *, what: str = "") -> SettingsT:
    """Build any of LLMOS's settings from the environment, turning pydantic's report into one line per
    environment variable, named with the settings' prefix (`SLACK_BOT_TOKEN: ...`)."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix") or "")
        lines = [f"{_variable(prefix, e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SettingsError(f"invalid {what + ' ' if what else ''}configuration:\n  " + "\n  ".join(lines)) from None


def _variable(prefix: str, loc: tuple[int | str, ...]) -> str:
    """The environment variable an error is about (a field named by an alias may carry the prefix)."""
    name = str(loc[0]).upper() if loc else "?"
    return name if prefix and name.startswith(prefix.upper()) else f"{prefix.upper()}{name}"


def load_settings(**overrides: object) -> Settings:
    return build_settings(Settings, overrides)
