"""Scheduler settings (`SCHED_*`), read at the entry point beside the core settings and passed down."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.settings import Settings, SettingsError


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHED_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Worker threads per worker process that take only interactive work, so a batch flood that fills
    # every other thread still leaves someone to answer a person (0 turns the pool off).
    interactive_workers: Annotated[int, Field(ge=0, le=64)] = 1
    # Engine slots that only interactive work may take (never all of them: batch keeps at least one).
    reserved_slots: Annotated[int, Field(ge=0, le=1024)] = 1
    # Requests LLMOS keeps at the engine at once. Unset: follow vLLM's /metrics, and admit one at a
    # time to an engine without them (llama.cpp's server answers one request at a time).
    engine_slots: Annotated[int, Field(ge=1, le=4096)] | None = None
    max_engine_slots: Annotated[int, Field(ge=1, le=4096)] = 256
    metrics_interval: Annotated[float, Field(gt=0)] = 1.0

    # Deployment defaults; a tenant's own row in `tenant_limits` overrides them. Unset: no limit.
    user_requests_per_minute: Annotated[int, Field(ge=1)] | None = 30
    tenant_tokens_per_day: Annotated[int, Field(ge=1)] | None = None

    # Tell the user "queued, about N s" when their interactive wait is expected to exceed this.
    tell_wait_seconds: Annotated[float, Field(ge=0)] = 5.0
    # Tokens charged to a tenant when a request is admitted, until real counts are measured.
    tokens_estimate: Annotated[int, Field(ge=1)] = 300
    # An admitted event not yet handed to Celery after this long (its sender died) is sent again.
    resend_after: Annotated[float, Field(gt=0)] = 15.0


def load_scheduler_settings(**overrides: object) -> SchedulerSettings:
    """Build the settings, turning pydantic's report into one line per `SCHED_` variable."""
    try:
        return SchedulerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = f"SCHED_{str(error['loc'][0]).upper()}" if error["loc"] else "?"
            lines.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid scheduler configuration:\n  " + "\n  ".join(lines)) from None


def embedded_slots(settings: Settings, scheduling: SchedulerSettings, *, given: object | None) -> SchedulerSettings:
    """The embedded engine's slots are known: admit exactly that many (unless SCHED_ENGINE_SLOTS says otherwise),
    so the reserved ones stay free at the engine itself for interactive work."""
    if given is not None or not settings.uses_embedded_engine or scheduling.engine_slots is not None:
        return scheduling
    return scheduling.model_copy(update={"engine_slots": settings.embedded_parallel})
