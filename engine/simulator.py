"""An OpenAI-compatible engine simulator with set time to first token, inter-token time and batch capacity.

It serves the endpoints LLMOS uses (`/v1/models`, streamed `/v1/chat/completions`, a tokenizer) so the
test suite and the benchmarks exercise the real engine client over real HTTP, with timings and
failures they control. `vllm=True` makes it also answer like vLLM (`/version`, `/tokenize`, usage in
the stream, `priority` and `cache_salt` accepted, and `/metrics` with the running and waiting counts).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine import sim_embeddings

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def text_of(content: str | list[dict[str, Any]]) -> str:
    """A message's text, whether it came as a string or as content parts (text and images)."""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def default_answer(messages: list[dict[str, Any]]) -> str:
    last = next((text_of(m["content"]) for m in reversed(messages) if m.get("role") == "user"), "")
    return f"You said: {last[:200]}"


@dataclass
class Recorded:
    body: dict[str, Any]
    arrived: float
    first_token_at: float | None = None
    finished_at: float | None = None
    # The client went away mid-stream (LLMOS closed the stream: a stop); vLLM aborts such a request.
    disconnected_at: float | None = None


@dataclass
class SimulatorConfig:
    model: str = "sim-model"
    ttft: float = 0.0
    inter_token: float = 0.0
    capacity: int = 64
    max_model_len: int = 2048
    vllm: bool = False
    # "ok", "unavailable" (503 on every request) or "rate_limited" (429 with Retry-After).
    mode: str = "ok"
    # Close the connection after this many streamed tokens (a server that dies mid-answer).
    drop_after_tokens: int | None = None
    answer: Callable[[list[dict[str, Any]]], str] = default_answer
    chars_per_token_chunk: int = 0  # 0: one word per chunk
    # A reasoning model behind a reasoning parser: this text streams first, in this delta field.
    reasoning: str = ""
    reasoning_field: str = "reasoning"
    # False: answer like an old vLLM started without --scheduling-policy priority.
    priority_scheduling: bool = True
    # False: end the stream without a finish_reason, as some servers do.
    send_finish: bool = True
    # False: refuse `tool_choice: auto` (or none given, which means auto) like vLLM started without
    # --enable-auto-tool-choice; a forced choice of one function is still served.
    tool_calling: bool = True
    # Scripted tool use: given the request body, the calls to make this turn (each `{"name": ...,
    # "arguments": {...}}`), or None to answer with text. Only asked when the request offers tools.
    tool_calls: Callable[[dict[str, Any]], list[dict[str, Any]] | None] | None = None
    # `/v1/embeddings`: "ok", or "unavailable" (503) while chat still answers; hashed bag-of-words
    # vectors of this size (engine/sim_embeddings.py), with words mapped to a synonym first.
    embeddings: str = "ok"
    embedding_dims: int = 256
    synonyms: dict[str, str] = field(default_factory=dict)
    # Refuse (400) an input longer than this many tokens, as vLLM does past the model's length; 0: any length.
    embedding_max_tokens: int = 0


class SimulatedEngine:
    """Runs the simulator on a private event loop in a daemon thread."""

    def __init__(self, config: SimulatorConfig | None = None, *, port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.requests: list[Recorded] = []
        # Every text `/v1/embeddings` was asked to embed, in order.
        self.embedded: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Requests that arrived while every slot (`capacity`) was busy, as vLLM's num_requests_waiting.
        self.waiting = 0
        # A prefix cache by whole messages (vLLM's counts are per token): prompt tokens asked, tokens found.
        self.prefix_queries = 0
        self.prefix_hits = 0
        self._prefixes: set[str] = set()
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="engine-simulator", daemon=True)
        self._runner: web.AppRunner | None = None
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> SimulatedEngine:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> SimulatedEngine:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        self._slots = asyncio.Semaphore(self.config.capacity)
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/extras/tokenize", self._extras_tokenize)
        app.router.add_get("/version", self._version)
        app.router.add_post("/tokenize", self._tokenize)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        self._port = int(self._runner.addresses[0][1])

    # -- endpoints -------------------------------------------------------------------------

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(status=503 if self.config.mode == "unavailable" else 200)

    async def _metrics(self, _request: web.Request) -> web.Response:
        if not self.config.vllm:
            return web.Response(status=404, text="Not Found")
        labels = f'{{engine="0",model_name="{self.config.model}"}}'
        lines = [
            "# HELP vllm:num_requests_running Number of requests in model execution batches.",
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{labels} {float(self.in_flight)}",
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{labels} {float(self.waiting)}",
            "# TYPE vllm:prefix_cache_queries counter",
            f"vllm:prefix_cache_queries_total{labels} {float(self.prefix_queries)}",
            "# TYPE vllm:prefix_cache_hits counter",
            f"vllm:prefix_cache_hits_total{labels} {float(self.prefix_hits)}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def _models(self, _request: web.Request) -> web.Response:
        if self.config.mode == "unavailable":
            return web.json_response({"error": "down"}, status=503)
        card: dict[str, Any] = {"id": self.config.model, "object": "model", "owned_by": "llmos-sim"}
        if self.config.vllm:
            card["max_model_len"] = self.config.max_model_len
        return web.json_response({"object": "list", "data": [card]})

    async def _embeddings(self, request: web.Request) -> web.Response:
        if self.config.embeddings == "unavailable":
            return web.json_response({"error": {"message": "embeddings down"}}, status=503)
        body = await request.json()
        given = body.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return web.json_response({"error": {"message": "input must be a string or a list of strings"}}, status=400)
        if body.get("model") != self.config.model:
            return web.json_response({"error": {"message": f"model {body.get('model')!r} not found"}}, status=404)
        longest = max(len(tokenize(t)) for t in texts)
        if self.config.embedding_max_tokens and longest > self.config.embedding_max_tokens:
            message = f"an input has {longest} tokens, more than the model's {self.config.embedding_max_tokens}"
            return web.json_response({"error": {"message": message}}, status=400)
        with self._lock:
            self.embedded.extend(texts)
        cfg = self.config
        data = [
            {
                "object": "embedding",
                "index": n,
                "embedding": sim_embeddings.embed(t, dims=cfg.embedding_dims, synonyms=cfg.synonyms),
            }
            for n, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": sum(len(tokenize(t)) for t in texts), "total_tokens": 0}
        return web.json_response({"object": "list", "data": data, "model": cfg.model, "usage": usage})

    async def _version(self, _request: web.Request) -> web.Response:
        if not self.config.vllm:
            return web.json_response({"detail": "Not Found"}, status=404)
        return web.json_response({"version": "sim"})

    async def _extras_tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"tokens": list(range(len(tokenize(body.get("input", "")))))})

    async def _tokenize(self, request: web.Request) -> web.Response:
        if not self.config.vllm:
            return web.json_response({"detail": "Not Found"}, status=404)
        body = await request.json()
        if "messages" in body:
            count = sum(len(tokenize(text_of(m.get("content") or ""))) + 5 for m in body["messages"]) + 3
        else:
            count = len(tokenize(body.get("prompt", "")))
        return web.json_response({"count": count, "max_model_len": self.config.max_model_len, "tokens": []})

    def _count_prefix(self, messages: list[dict[str, Any]], prompt_tokens: int) -> None:
        """The longest run of leading messages this replica has seen before counts as cached tokens."""
        keys = [
            hashlib.sha256(json.dumps(messages[: i + 1], sort_keys=True).encode()).hexdigest()
            for i in range(len(messages))
        ]
        with self._lock:
            cached = max((i + 1 for i, key in enumerate(keys) if key in self._prefixes), default=0)
            self.prefix_queries += prompt_tokens
            self.prefix_hits += self._prompt_tokens(messages[:cached]) if cached else 0
            self._prefixes.update(keys)

    def _prompt_tokens(self, messages: list[dict[str, Any]]) -> int:
        return sum(len(tokenize(text_of(m.get("content") or ""))) + 5 for m in messages) + 3

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record = Recorded(body=body, arrived=time.monotonic())
        with self._lock:
            self.requests.append(record)
        if self.config.mode == "unavailable":
            return web.json_response({"error": {"message": "engine down"}}, status=503)
        if self.config.mode == "rate_limited":
            return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "1"})
        if self.config.vllm and body.get("priority") and not self.config.priority_scheduling:
            message = f"Got priority {body['priority']} but Priority scheduling is not enabled."
            return web.json_response({"object": "error", "message": message, "code": 400}, status=400)
        if body.get("tools") and body.get("tool_choice", "auto") == "auto" and not self.config.tool_calling:
            message = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            return web.json_response({"object": "error", "message": message, "code": 400}, status=400)
        prompt_tokens = self._prompt_tokens(body["messages"])
        self._count_prefix(body["messages"], prompt_tokens)
        if prompt_tokens > self.config.max_model_len:
            return web.json_response(
                {"error": {"message": f"prompt has {prompt_tokens} tokens, more than the context window"}},
                status=400,
            )
        assert self._slots is not None
        with self._lock:
            self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        try:
            return await self._stream(request, body, record, prompt_tokens)
        finally:
            self._slots.release()

    async def _stream(
        self, request: web.Request, body: dict[str, Any], record: Recorded, prompt_tokens: int
    ) -> web.StreamResponse:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            script = self.config.tool_calls if body.get("tools") else None
            calls = script(body) if script is not None else None
            if calls:
                return await self._send_calls(response, body, record, calls, prompt_tokens)
            words = re.findall(r"\S+\s*", self.config.answer(body["messages"]))
            limit = int(body.get("max_tokens") or len(words))
            finish = "length" if len(words) > limit else "stop"
            words = words[:limit]
            if self.config.ttft:
                await asyncio.sleep(self.config.ttft)
            for thought in re.findall(r"\S+\s*", self.config.reasoning):
                await self._send(response, body, {self.config.reasoning_field: thought}, None)
            for index, word in enumerate(words):
                if self.config.drop_after_tokens is not None and index >= self.config.drop_after_tokens:
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if index and self.config.inter_token:
                    await asyncio.sleep(self.config.inter_token)
                if record.first_token_at is None:
                    record.first_token_at = time.monotonic()
                await self._send(response, body, {"content": word}, None)
            if self.config.send_finish:
                await self._send(response, body, {}, finish)
            await self._end(response, body, record, prompt_tokens, len(words))
            return response
        except ConnectionResetError:
            record.disconnected_at = time.monotonic()
            log.info("the client closed its stream; request aborted")
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _send_calls(
        self,
        response: web.StreamResponse,
        body: dict[str, Any],
        record: Recorded,
        calls: list[dict[str, Any]],
        prompt_tokens: int,
    ) -> web.StreamResponse:
        """Stream tool calls the way vLLM does: id and name first, then the arguments' JSON in pieces."""
        record.first_token_at = time.monotonic()
        used = 0
        for index, call in enumerate(calls):
            opening = {"index": index, "id": f"call_{len(self.requests)}_{index}", "type": "function"}
            opening["function"] = {"name": call["name"], "arguments": ""}
            await self._send(response, body, {"tool_calls": [opening]}, None)
            arguments = call["arguments"] if isinstance(call["arguments"], str) else json.dumps(call["arguments"])
            for start in range(0, len(arguments), 8):
                piece = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
                await self._send(response, body, {"tool_calls": [piece]}, None)
            used += len(tokenize(arguments)) + 1
        await self._send(response, body, {}, "tool_calls")
        await self._end(response, body, record, prompt_tokens, used)
        return response

    async def _end(
        self, response: web.StreamResponse, body: dict[str, Any], record: Recorded, prompt_tokens: int, used: int
    ) -> None:
        if self.config.vllm and body.get("stream_options", {}).get("include_usage"):
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": used, "total_tokens": prompt_tokens + used}
            chunk = {
                "id": "sim",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [],
                "usage": usage,
            }
            await response.write(self._sse(chunk))
        await response.write(b"data: [DONE]\n\n")
        record.finished_at = time.monotonic()

    async def _send(
        self, response: web.StreamResponse, body: dict[str, Any], delta: dict[str, Any], finish: str | None
    ) -> None:
        chunk = {
            "id": "sim",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        await response.write(self._sse(chunk))

    @staticmethod
    def _sse(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()
