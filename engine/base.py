"""What the workers need from a language engine, independent of the server behind it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for: `arguments` is the JSON text exactly as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    # Image URLs (data URLs) a vision-capable model sees along with `content`.
    images: tuple[str, ...] = ()
    # An assistant turn that called tools, and (role "tool") the call a result answers.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    model: str | None = None
    max_tokens: int = 512
    temperature: float = 0.3
    # vLLM's request priority: lower runs first (only with --scheduling-policy priority).
    priority: int = 0
    # Keeps one tenant's prefix-cache entries unreachable from another's requests (vLLM).
    cache_salt: str | None = None
    user: str | None = None
    # Requests with the same key go to the same replica, so its prefix cache serves the follow-ups.
    affinity: str | None = None
    # Show the model's reasoning (wrapped in <think>…</think>) instead of only its answer.
    show_reasoning: bool = False
    # Tools offered to the model, in the OpenAI `tools` format, and how it must use them
    # ("auto", "none", "required" or {"type": "function", "function": {"name": ...}}).
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StreamChunk:
    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # The tool calls of this turn, complete (assembled from the stream's deltas), on the last chunk.
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)


class EngineError(Exception):
    """Base of every engine failure the workers handle."""


class EngineUnavailable(EngineError):
    """The server did not answer (refused, timed out, 5xx) even after retries."""


class EngineInterrupted(EngineUnavailable):
    """The answer's stream ended before the engine said it was finished (no finish reason)."""


class EngineRateLimited(EngineUnavailable):
    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineBadRequest(EngineError):
    """The server refused the request itself (too long, unknown model): retrying will not help."""


class Engine(Protocol):
    @property
    def default_model(self) -> str: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """Yield text as the server produces it; the last chunk carries finish_reason and usage if known."""
        ...

    def count_text(self, text: str, *, model: str | None = None) -> int:
        """Tokens of one text with the server's own tokenizer."""
        ...

    def count_tokens(self, messages: Sequence[ChatMessage], *, model: str | None = None) -> int:
        """Tokens the prompt costs with the server's own tokenizer and chat template overhead."""
        ...

    def known_count(self, text: str, *, model: str | None = None) -> int | None:
        """`count_text(text)` if this process counted it before (no round trip), else None."""
        ...

    def context_window(self, model: str | None = None) -> int: ...

    def health(self) -> Health: ...

    def close(self) -> None: ...


def complete(engine: Engine, request: ChatRequest) -> Completion:
    """Run a streamed request to the end; the non-streaming form every engine gets for free."""
    parts: list[str] = []
    finish: str | None = None
    prompt_tokens = completion_tokens = 0
    calls: tuple[ToolCall, ...] = ()
    for chunk in engine.stream(request):
        parts.append(chunk.text)
        calls = chunk.tool_calls or calls
        finish = chunk.finish_reason or finish
        prompt_tokens = chunk.prompt_tokens or prompt_tokens
        completion_tokens = chunk.completion_tokens or completion_tokens
    return Completion(
        text="".join(parts),
        model=request.model or engine.default_model,
        finish_reason=finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tool_calls=calls,
    )
