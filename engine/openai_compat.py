"""The engine for any OpenAI-compatible server: vLLM in production, llama.cpp's server when embedded.

vLLM's extras (request priority, per-tenant cache salt, exact chat-template token counts, usage in
the stream) are detected from the server, not assumed, so a plain OpenAI-compatible server works too.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from engine.base import (
    ChatMessage,
    ChatRequest,
    EngineBadRequest,
    EngineInterrupted,
    EngineRateLimited,
    EngineUnavailable,
    Health,
    StreamChunk,
)
from engine.reasoning import Thoughts
from engine.tokens import TokenCache
from engine.toolcalls import ToolCallAssembler, wire_message

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CONTEXT_WINDOW = 4096
# Tokens a chat template adds around each message (role markers, separators) when the server
# can only tokenize plain text; measured on SmolLM2's ChatML template: 5 per message.
TEMPLATE_TOKENS_PER_MESSAGE = 5
TEMPLATE_TOKENS_PER_PROMPT = 3
# What one attached image costs in the prompt, for trimming; servers tile images differently.
IMAGE_TOKENS_ESTIMATE = 1024


@dataclass(frozen=True, slots=True)
class ServerInfo:
    is_vllm: bool
    models: tuple[str, ...]
    max_model_len: int | None
    tokenize_path: str | None


def root_url(url: str) -> str:
    """`http://host:8000/v1/` and `http://host:8000` both name the same server."""
    return url.rstrip("/").removesuffix("/v1")


class OpenAICompatEngine:
    # Seconds before tools are offered again to a server that refused them (it may be restarted with them).
    TOOLS_RECHECK = 300.0

    def __init__(
        self,
        *,
        url: str,
        model: str | None = None,
        api_key: str = "not-needed",
        connect_timeout: float = 5.0,
        token_timeout: float = 60.0,
        retries: int = 3,
        retry_backoff: float = 0.5,
        context_window: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = root_url(url)
        # Fields sent with every chat request, e.g. {"chat_template_kwargs": {"enable_thinking": False}}.
        self._extra_body = dict(extra_body or {})
        # Older vLLM refuses a non-zero priority unless started with --scheduling-policy priority.
        self._priority_accepted = True
        # vLLM without --enable-auto-tool-choice refuses tools the model may choose freely ("auto"), while a
        # forced choice of one function still works: after a refusal, "auto" tools wait TOOLS_RECHECK seconds.
        self._auto_tools_refused_at: float | None = None
        self._model = model
        self._retries = retries
        self._backoff = retry_backoff
        self._context_window = context_window
        # `read` is the longest wait for the next bytes of the stream, not a cap on the whole answer.
        timeout = openai.Timeout(connect=connect_timeout, read=token_timeout, write=token_timeout, pool=connect_timeout)
        self._client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, timeout=timeout, max_retries=0)
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(token_timeout, connect=connect_timeout),
            headers={"Authorization": f"Bearer {api_key}"},
        )
        self._info: ServerInfo | None = None
        self._info_lock = threading.Lock()
        self._tokens = TokenCache()

    # -- discovery -------------------------------------------------------------------------

    def server_info(self, *, refresh: bool = False) -> ServerInfo:
        with self._info_lock:
            if self._info is None or refresh:
                self._info = self._probe()
            return self._info

    def _probe(self) -> ServerInfo:
        response = self._retrying("model list", lambda: self._http.get("/v1/models").raise_for_status())
        try:
            models_doc = response.json()
        except ValueError as exc:
            raise EngineUnavailable(f"engine at {self.url} answered /v1/models with no JSON") from exc
        cards = models_doc.get("data", [])
        models = tuple(str(card.get("id")) for card in cards if card.get("id"))
        lengths = [card.get("max_model_len") for card in cards if isinstance(card.get("max_model_len"), int)]
        is_vllm = self._answers("/version") and any("max_model_len" in card for card in cards)
        if is_vllm:
            tokenize_path: str | None = "/tokenize"
        elif self._answers_post("/extras/tokenize", {"input": "hi"}):
            tokenize_path = "/extras/tokenize"  # llama-cpp-python's server
        elif self._answers_post("/tokenize", {"content": "hi"}):
            tokenize_path = "/tokenize"  # llama.cpp's own llama-server
        else:
            tokenize_path = None
            log.warning("engine at %s has no tokenize endpoint; token counts are estimated", self.url)
        if not lengths:
            lengths = self._llama_server_context()
        return ServerInfo(
            is_vllm=is_vllm,
            models=models,
            max_model_len=min(lengths) if lengths else None,
            tokenize_path=tokenize_path,
        )

    def _llama_server_context(self) -> list[int]:
        """llama.cpp's llama-server tells its context size at /props; other servers need ENGINE_CONTEXT_WINDOW."""
        try:
            response = self._http.get("/props")
            props = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return []
        n_ctx = props.get("n_ctx") or props.get("default_generation_settings", {}).get("n_ctx")
        return [int(n_ctx)] if isinstance(n_ctx, int) and n_ctx > 0 else []

    def _answers(self, path: str) -> bool:
        try:
            return self._http.get(path).status_code == 200
        except httpx.HTTPError:
            return False

    def _answers_post(self, path: str, payload: dict[str, Any]) -> bool:
        try:
            return self._http.post(path, json=payload).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def default_model(self) -> str:
        if self._model:
            return self._model
        models = self.server_info().models
        if not models:
            raise EngineUnavailable(f"engine at {self.url} serves no model")
        return models[0]

    def context_window(self, model: str | None = None) -> int:
        if self._context_window:
            return self._context_window
        return self.server_info().max_model_len or DEFAULT_CONTEXT_WINDOW

    def health(self) -> Health:
        try:
            info = self.server_info(refresh=True)
        except EngineUnavailable as exc:
            return Health(ok=False, detail=str(exc))
        # vLLM keeps answering /v1/models while its engine core is dead; /health says the truth.
        if info.is_vllm and not self._answers("/health"):
            return Health(ok=False, detail=f"vLLM at {self.url} is up but its engine is not healthy (/health)")
        return Health(ok=True, detail="vllm" if info.is_vllm else "openai-compatible", models=info.models)

    def close(self) -> None:
        self._client.close()
        self._http.close()

    # -- tokens ----------------------------------------------------------------------------

    def count_text(self, text: str, *, model: str | None = None) -> int:
        model = model or self.default_model
        cached = self._tokens.get((model, text))
        if cached is not None:
            return cached
        info = self.server_info()
        if info.tokenize_path is None:
            count = max(1, len(text) // 3)
        elif info.is_vllm:
            body = self._post(info.tokenize_path, {"model": model, "prompt": text, "add_special_tokens": False})
            count = int(body["count"])
        elif info.tokenize_path == "/extras/tokenize":
            count = len(self._post(info.tokenize_path, {"input": text})["tokens"])
        else:
            count = len(self._post(info.tokenize_path, {"content": text})["tokens"])
        self._tokens.put((model, text), count)
        return count

    def known_count(self, text: str, *, model: str | None = None) -> int | None:
        return self._tokens.get((model or self.default_model, text))

    def count_tokens(self, messages: Sequence[ChatMessage], *, model: str | None = None) -> int:
        model = model or self.default_model
        info = self.server_info()
        images = IMAGE_TOKENS_ESTIMATE * sum(len(m.images) for m in messages)
        if info.is_vllm:
            payload = {
                "model": model,
                "messages": [wire_message(m) for m in messages],
                "add_generation_prompt": True,
            }
            return int(self._post("/tokenize", payload)["count"]) + images
        return (
            TEMPLATE_TOKENS_PER_PROMPT
            + images
            + sum(self.count_text(m.content, model=model) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
        )

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(path, json=payload)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"engine tokenizer unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise EngineUnavailable(f"engine tokenizer answered {response.status_code}")
        if response.status_code >= 400:
            raise EngineBadRequest(f"engine tokenizer refused the request: {response.text[:200]}")
        result: dict[str, Any] = response.json()
        return result

    # -- generation ------------------------------------------------------------------------

    def _body(self, request: ChatRequest, info: ServerInfo) -> dict[str, Any]:
        extra: dict[str, Any] = dict(self._extra_body)
        if info.is_vllm:
            if request.priority and self._priority_accepted:
                extra["priority"] = request.priority
            if request.cache_salt:
                extra["cache_salt"] = request.cache_salt
        return extra

    def _open(self, request: ChatRequest) -> Any:
        """Open the stream, retrying with backoff while nothing has been shown to the user yet."""
        info = self.server_info()
        model = request.model or self.default_model
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": [wire_message(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            **self._body(request, info),
        }
        if info.is_vllm:
            kwargs["stream_options"] = {"include_usage": True}
        if request.user:
            kwargs["user"] = request.user
        refused = self._auto_tools_refused_at
        auto_ok = refused is None or time.monotonic() - refused > self.TOOLS_RECHECK
        if request.tools and (auto_ok or request.tool_choice not in (None, "auto")):
            kwargs["tools"] = list(request.tools)
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        # A refused `priority` or `tools` is dropped and the request sent again (each at most once).
        while True:
            try:
                opened = self._retrying("chat request", lambda: self._stream_chat(kwargs))
                if "tools" in kwargs and kwargs.get("tool_choice") in (None, "auto"):
                    self._auto_tools_refused_at = None  # taken: the server calls tools now
                return opened
            except EngineBadRequest as exc:
                if not (self._refuses_priority(exc.__cause__, kwargs) or self._refuses_tools(exc.__cause__, kwargs)):
                    raise

    def _stream_chat(self, body: dict[str, Any]) -> Any:
        """What `chat.completions.create(stream=True)` sends and returns, without the SDK's typed pass over
        the request body: that pass walks every field of every message and cost ~25 ms of CPU per request
        with a conversation's history (measured), more than all of LLMOS's own work before the request."""
        return self._client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=openai.Stream[ChatCompletionChunk],
        )

    def _refuses_priority(self, cause: BaseException | None, kwargs: dict[str, Any]) -> bool:
        """A vLLM without priority scheduling refused `priority`: remember it and ask again without."""
        if not isinstance(cause, openai.BadRequestError):
            return False
        if "priority" not in kwargs or "priorit" not in str(cause).lower():
            return False
        log.warning(
            "engine at %s refuses request priorities (start vLLM with --scheduling-policy priority); "
            "sending requests without them",
            self.url,
        )
        self._priority_accepted = False
        kwargs.pop("priority")
        return True

    def _refuses_tools(self, cause: BaseException | None, kwargs: dict[str, Any]) -> bool:
        """A server without tool calling (vLLM without --enable-auto-tool-choice) refused `tools`: ask again
        without them, so the person still gets an answer, only one made without tools."""
        if not isinstance(cause, openai.BadRequestError) or "tools" not in kwargs:
            return False
        log.warning(
            "engine at %s refused a request with tools (%s); asking again without them "
            "(start vLLM with --enable-auto-tool-choice --tool-call-parser <parser>)",
            self.url,
            _describe(cause),
        )
        kwargs.pop("tools")
        if kwargs.pop("tool_choice", None) in (None, "auto"):
            self._auto_tools_refused_at = time.monotonic()
        return True

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """Run `call`, retrying connect errors, 5xx and 429 with exponential backoff (or Retry-After)."""
        attempt = 0
        while True:
            try:
                return call()
            except (openai.APIError, httpx.HTTPError) as exc:
                status = _status(exc)
                if isinstance(exc, openai.APIStatusError | httpx.HTTPStatusError) and status < 500 and status != 429:
                    raise EngineBadRequest(f"{what} refused: {_describe(exc)}") from exc
                attempt += 1
                retry_after = _retry_after(exc)
                if attempt > self._retries:
                    if status == 429:
                        raise EngineRateLimited(f"{what}: {_describe(exc)}", retry_after=retry_after) from exc
                    raise EngineUnavailable(f"{what} failed at {self.url}: {_describe(exc)}") from exc
                delay = retry_after or self._backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)
                log.warning("%s failed (%s); retry %d/%d in %.1fs", what, _describe(exc), attempt, self._retries, delay)
                time.sleep(delay)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        stream = self._open(request)
        finish: str | None = None
        thoughts = Thoughts(show=request.show_reasoning)
        calls = ToolCallAssembler()
        try:
            for chunk in stream:
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    yield StreamChunk(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
                # vLLM's usage chunk has no choices at all; other servers send keep-alive chunks like it.
                for choice in chunk.choices or ():
                    if choice.delta is not None:
                        calls.feed(choice.delta.tool_calls)
                        if text := thoughts.feed(choice.delta):
                            yield StreamChunk(text=text)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except (openai.APIError, httpx.HTTPError, httpx2.HTTPError) as exc:
            raise EngineUnavailable(f"engine stopped mid-answer: {_describe(exc)}") from exc
        finally:
            stream.close()
        if text := thoughts.finish(finish):
            yield StreamChunk(text=text)
        if thoughts.reasoning_shown:
            log.warning(
                "engine at %s sent only reasoning and no answer; showing it as the answer "
                "(is a vLLM --reasoning-parser set for a model that does not think?)",
                self.url,
            )
        if finish is None:
            # A stream that ends without saying why is cut (a proxy or server gave up), not finished.
            raise EngineInterrupted(f"engine at {self.url} ended the answer's stream without a finish reason")
        yield StreamChunk(finish_reason=finish, tool_calls=calls.calls())


def _status(exc: Exception) -> int:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code
    return int(getattr(exc, "status_code", 0) or 0)


def _describe(exc: Exception) -> str:
    status = _status(exc)
    kind = type(exc).__name__
    return f"{kind} ({status})" if status else f"{kind}: {exc}"


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None
