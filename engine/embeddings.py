"""Vectors for passages and questions from any OpenAI-compatible `/v1/embeddings` endpoint (vLLM serves one).

Embeddings only ever improve retrieval; they are never needed for an answer. So every failure (the
server down, a slow or malformed answer) is logged once as a warning and reported as "no vectors",
and the endpoint is then left alone for `pause` seconds, so that a dead embeddings server costs one
timeout, not one per question. Vectors come back normalized to unit length: cosine similarity is then a
plain dot product.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

log = logging.getLogger(__name__)

# Inputs sent in one request; vLLM batches them itself, and a smaller body fails faster.
BATCH = 64
# Answers that refuse these inputs (too long for the model, say), not the server: no reason to rest it.
REFUSED_INPUT = frozenset({400, 413, 422})


class Embedder:
    def __init__(
        self,
        *,
        url: str,
        model: str | None = None,
        api_key: str = "not-needed",
        timeout: float = 10.0,
        pause: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")
        self._model = model
        self._pause = pause
        self._down_until = 0.0
        # Why the last request failed ("" until one does), for `llmos doctor`.
        self.last_error = ""
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def close(self) -> None:
        self._http.close()

    @property
    def model(self) -> str | None:
        """EMBEDDING_MODEL, else the server's first model (asked once); None while it cannot be asked."""
        if self._model is None and self._ready():
            try:
                self._model = self._first_model()
            except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
                self._failed("model list", exc)
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        """One unit vector per text, in order; None when the endpoint cannot give them now (logged)."""
        model = self.model
        if model is None or not self._ready():
            return None
        vectors: list[list[float]] = []
        try:
            for start in range(0, len(texts), BATCH):
                vectors.extend(self._batch(model, list(texts[start : start + BATCH])))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._failed(f"{len(texts)} input(s)", exc)
            return None
        return vectors

    def _first_model(self) -> str:
        cards = self._http.get("/v1/models").raise_for_status().json()["data"]
        return str(cards[0]["id"])

    def _batch(self, model: str, texts: list[str]) -> list[list[float]]:
        response = self._http.post("/v1/embeddings", json={"model": model, "input": texts})
        items: list[dict[str, Any]] = response.raise_for_status().json()["data"]
        if len(items) != len(texts):
            raise ValueError(f"{len(items)} embeddings for {len(texts)} inputs")
        ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
        vectors = [unit([float(x) for x in item["embedding"]]) for item in ordered]
        if len({len(v) for v in vectors}) > 1:
            raise ValueError("embeddings of different lengths in one answer")
        return vectors

    def _ready(self) -> bool:
        with self._lock:
            return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in REFUSED_INPUT:
            log.warning("embeddings at %s refused %s: %s; searched by full text", self.url, what, self.last_error)
            return
        with self._lock:
            self._down_until = time.monotonic() + self._pause
        log.warning(
            "embeddings at %s failed (%s): %s; retrieval uses full text only for the next %.0f s",
            self.url,
            what,
            self.last_error,
            self._pause,
        )


def unit(vector: list[float]) -> list[float]:
    """`vector` scaled to length 1 (a zero vector stays zero: it matches nothing)."""
    norm = math.sqrt(sum(x * x for x in vector))
    if not math.isfinite(norm):
        raise ValueError("an embedding with a non-finite value")
    return [x / norm for x in vector] if norm else vector
