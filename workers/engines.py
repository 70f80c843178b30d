"""Build the language engine the settings ask for: replicas, one server, or the embedded CPU model."""

from __future__ import annotations

from contextlib import ExitStack

from engine.base import Engine
from engine.embedded import EmbeddedEngine
from engine.embeddings import Embedder
from engine.endpoints import parse_endpoints
from engine.openai_compat import OpenAICompatEngine
from engine.router import ReplicaRouter
from workers.settings import Settings


def open_engine(settings: Settings, resources: ExitStack) -> tuple[Engine, str]:
    """The engine and a line saying what it is; processes it starts are stopped by `resources`."""
    s = settings
    if s.engine_endpoints:
        endpoints = parse_endpoints(s.engine_endpoints)
        router = ReplicaRouter(
            endpoints=endpoints,
            default_model=s.engine_model,
            # The router retries across replicas; a replica itself fails fast so another can answer.
            make_engine=lambda url, model: client(s, url, model=model, retries=0),
            retries=s.engine_retries,
            retry_backoff=s.engine_retry_backoff,
        )
        return router, "replicas: " + "; ".join(f"{m} at {', '.join(u)}" for m, u in endpoints.items())
    if s.engine_url:
        engine = client(s, s.engine_url, model=s.engine_model, retries=s.engine_retries)
        return engine, f"OpenAI-compatible engine at {s.engine_url}"
    embedded = EmbeddedEngine(
        port=s.embedded_engine_port,
        context_window=s.embedded_context_window,
        parallel=s.embedded_parallel,
        model_cache=s.embedded_model_cache,
        log_dir=s.llmos_home / "logs",
    )
    resources.enter_context(embedded)
    engine = OpenAICompatEngine(
        url=embedded.url,
        connect_timeout=s.engine_connect_timeout,
        token_timeout=s.engine_token_timeout,
        retries=s.engine_retries,
        retry_backoff=s.engine_retry_backoff,
        context_window=s.embedded_context_window,
    )
    return engine, f"embedded SmolLM2-135M-Instruct (llama.cpp, CPU, {s.embedded_parallel} slots) at {embedded.url}"


def client(settings: Settings, url: str, *, model: str | None, retries: int) -> OpenAICompatEngine:
    s = settings
    return OpenAICompatEngine(
        url=url,
        model=model,
        api_key=s.engine_api_key.get_secret_value(),
        connect_timeout=s.engine_connect_timeout,
        token_timeout=s.engine_token_timeout,
        retries=retries,
        retry_backoff=s.engine_retry_backoff,
        context_window=s.engine_context_window,
    )


def open_embedder(settings: Settings) -> Embedder | None:
    """The embeddings client EMBEDDING_URL names, or None (retrieval is then full text only)."""
    s = settings
    if not s.embedding_url:
        return None
    key = s.embedding_api_key or s.engine_api_key
    return Embedder(
        url=s.embedding_url,
        model=s.embedding_model,
        api_key=key.get_secret_value(),
        timeout=s.embedding_timeout,
        pause=s.embedding_pause,
    )
