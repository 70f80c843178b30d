"""The embedded CPU engine: SmolLM2-135M-Instruct behind llama.cpp's server (the prebuilt `xllamacpp` wheel).

LLMOS starts it itself when ENGINE_URL is unset, so a fresh machine with no accounts, no GPU and no
compiler still answers. It is a child process (`engine.embedded_server`) speaking the same
OpenAI-compatible API as vLLM, decoding `parallel` requests together; it watches its parent and
exits when the parent dies, so a killed LLMOS leaves no engine behind.
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

from engine import model_files
from engine.embedded_server import default_threads

log = logging.getLogger(__name__)

# The child runs `-m engine.embedded_server` from the folder that holds this package.
_ROOT = Path(__file__).resolve().parents[1]

MODEL_ALIAS = "smollm2-135m-instruct"
# Requests decoded together: room for a person's question beside three running batch jobs.
DEFAULT_PARALLEL = 4


class EmbeddedEngineError(RuntimeError):
    pass


def model_path(cache: Path | None = None) -> Path:
    """The SmolLM2 GGUF, fetched into the cache on first use (engine/model_files.py)."""
    try:
        return model_files.served_model_path(cache=cache)
    except model_files.ModelFileError as exc:
        raise EmbeddedEngineError(str(exc)) from None


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
        parallel: int = DEFAULT_PARALLEL,
        model_cache: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        # Tokens one request may use; the server holds `parallel` such windows.
        self.context_window = context_window
        self.parallel = parallel
        self.model_cache = model_cache
        self.log_dir = log_dir
        self.threads = threads or default_threads()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "engine.embedded_server",
            "--model",
            str(model_path(self.model_cache)),
            "--alias",
            MODEL_ALIAS,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--window",
            str(self.context_window),
            "--parallel",
            str(self.parallel),
            "--threads",
            str(self.threads),
            "--parent",
            str(os.getpid()),
        ]

    def start(self, *, timeout: float = 120.0) -> EmbeddedEngine:
        if importlib.util.find_spec("xllamacpp") is None:
            raise EmbeddedEngineError("xllamacpp is not installed: pip install -e '.[embedded]' (or set ENGINE_URL)")
        command = self.command()
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / "embedded-engine.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            # Its own session: a Ctrl-C in the terminal reaches LLMOS, which then stops the engine in order.
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=_ROOT,
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
