"""The language engine: one interface, an OpenAI-compatible implementation for vLLM, and the embedded CPU model."""

from engine.base import (
    ChatMessage,
    ChatRequest,
    Engine,
    EngineBadRequest,
    EngineError,
    EngineRateLimited,
    EngineUnavailable,
    Health,
    StreamChunk,
)

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Engine",
    "EngineBadRequest",
    "EngineError",
    "EngineRateLimited",
    "EngineUnavailable",
    "Health",
    "StreamChunk",
]
